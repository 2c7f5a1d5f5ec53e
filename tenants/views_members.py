"""The Members page of a workspace (its subdomain): who is in it, roles, invitations, leaving,
handing over."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from tenants import invitations, members
from tenants.access import allowed, require, requires
from tenants.forms import InviteForm
from tenants.middleware import panel_url
from tenants.models import AuditAction, AuditEvent, Invitation, Membership
from tenants.roles import Action, Role


def _target(request: HttpRequest, membership_id: int) -> Membership:
    """A membership of this workspace (another workspace's: 404)."""
    return get_object_or_404(Membership.objects.select_related("user"), pk=membership_id,
                             workspace=request.workspace)


def _done(request: HttpRequest, change: Callable[[], object], success: str) -> HttpResponse:
    try:
        change()
    except members.MemberError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success)
    return redirect("members")


def _page(request: HttpRequest, form: InviteForm | None = None, status: int = 200) -> HttpResponse:
    rows = (Membership.objects.filter(workspace=request.workspace).select_related("user")
            .order_by("created_at"))
    can_manage = allowed(request, Action.MANAGE_MEMBERS)
    return render(request, "tenants/members.html", {
        "rows": rows, "roles": members.ASSIGNABLE, "can_manage": can_manage,
        "can_transfer": allowed(request, Action.TRANSFER_OWNERSHIP),
        "invitations": request.workspace.invitations.pending() if can_manage else [],
        "form": form or InviteForm(workspace=request.workspace),
        "invitation_days": settings.PAAS_INVITATION_DAYS,
    }, status=status)


@require_GET
@requires(Action.VIEW)
def member_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _invitation(request: HttpRequest, invitation_id: int) -> Invitation:
    """A pending invitation of this workspace (another workspace's: 404)."""
    return get_object_or_404(request.workspace.invitations.pending(), pk=invitation_id)


@require_POST
@requires(Action.MANAGE_MEMBERS)
def invitation_create(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        return _page(request, form, status=400)
    link = invitations.invite(request.workspace, form.cleaned_data["email"],
                              form.cleaned_data["role"], request.user, panel_url(request, ""))
    messages.success(request, f"Invitation sent to {form.cleaned_data['email']}. Its link, "
                              f"to share another way: {link}")
    return redirect("members")


@require_POST
@requires(Action.MANAGE_MEMBERS)
def invitation_resend(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _invitation(request, invitation_id)
    link = invitations.resend(invitation, panel_url(request, ""))
    messages.success(request, f"Sent again to {invitation.email} (the earlier link no longer "
                              f"works). New link: {link}")
    return redirect("members")


@require_POST
@requires(Action.MANAGE_MEMBERS)
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _invitation(request, invitation_id)
    invitations.revoke(invitation)
    messages.success(request, f"The invitation of {invitation.email} is withdrawn.")
    return redirect("members")


@require_POST
@requires(Action.MANAGE_MEMBERS)
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _target(request, membership_id)
    role = request.POST.get("role", "")
    label = dict(Role.choices).get(role, role)
    return _done(request, lambda: members.change_role(request.membership, target, role),
                 f"{target.user.get_full_name()} is now {label.lower()}.")


@require_POST
@requires(Action.MANAGE_MEMBERS)
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _target(request, membership_id)
    return _done(request, lambda: members.remove_member(request.membership, target),
                 f"{target.user.get_full_name()} no longer has access to this workspace.")


@require_POST
@requires(Action.TRANSFER_OWNERSHIP)
def member_transfer(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _target(request, membership_id)
    return _done(request, lambda: members.transfer_ownership(request.membership, target),
                 f"{target.user.get_full_name()} now owns this workspace; you are an admin.")


@require_POST
def member_leave(request: HttpRequest) -> HttpResponse:
    require(request, Action.VIEW)
    try:
        members.leave(request.membership)
    except members.MemberError as error:
        messages.error(request, str(error))
        return redirect("members")
    return HttpResponseRedirect(panel_url(request, "/"))


AUDIT_PAGE = 200  # events per page (the newest first)


@require_GET
@requires(Action.READ_AUDIT)
def audit_log(request: HttpRequest) -> HttpResponse:
    """The workspace's audit log, filtered by person and by action."""
    events = AuditEvent.objects.filter(workspace=request.workspace).select_related("actor")
    person, action = request.GET.get("person", ""), request.GET.get("action", "")
    if person:
        events = events.filter(actor_email=person)
    if action in AuditAction.values:
        events = events.filter(action=action)
    people = (AuditEvent.objects.filter(workspace=request.workspace).exclude(actor_email="")
              .values_list("actor_email", flat=True).distinct().order_by("actor_email"))
    return render(request, "tenants/audit.html", {
        "events": events[:AUDIT_PAGE], "people": people, "actions": AuditAction.choices,
        "person": person, "action": action, "kept_days": settings.PAAS_AUDIT_DAYS,
    })
