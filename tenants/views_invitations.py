"""An invitation's link, on the panel's root domain: who it is for, and joining with it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from tenants import invitations
from tenants.middleware import panel_url


def _refused(request: HttpRequest, error: invitations.InvitationError) -> HttpResponse:
    return render(request, "tenants/invitation.html", {"problem": str(error)}, status=410)


@require_http_methods(["GET"])
def invitation_show(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitations.find(token)
    except invitations.InvitationError as error:
        return _refused(request, error)
    user = request.user
    other_account = user.is_authenticated and user.email.lower() != invitation.email
    return render(request, "tenants/invitation.html", {
        "invitation": invitation, "path": invitations.link_path(token),
        "accept_path": reverse("invitation_accept", args=[token]),
        "other_account": other_account,
    })


@login_required
@require_POST
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        membership = invitations.accept(token, request.user)
    except invitations.InvitationError as error:
        return _refused(request, error)
    return HttpResponseRedirect(panel_url(request, "/", membership.workspace.hostname))
