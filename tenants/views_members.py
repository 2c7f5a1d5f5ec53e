"""The Members page of a workspace (its subdomain): who is in it, roles, leaving, handing over."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from tenants import members
from tenants.access import allowed, require, requires
from tenants.middleware import panel_url
from tenants.models import Membership
from tenants.roles import Action, Role


def _target(request: HttpRequest, membership_id: int) -> Membership:
    """A membership of this workspace (another workspace's: 404)."""
    return get_object_or_404(Membership.objects.select_related("user"), pk=membership_id,
                             workspace=request.workspace)


def _done(request: HttpRequest, change: object, success: str) -> HttpResponse:
    try:
        change()
    except members.MemberError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success)
    return redirect("members")


@require_GET
@requires(Action.VIEW)
def member_list(request: HttpRequest) -> HttpResponse:
    rows = (Membership.objects.filter(workspace=request.workspace).select_related("user")
            .order_by("created_at"))
    return render(request, "tenants/members.html", {
        "rows": rows, "roles": members.ASSIGNABLE,
        "can_manage": allowed(request, Action.MANAGE_MEMBERS),
        "can_transfer": allowed(request, Action.TRANSFER_OWNERSHIP),
    })


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
