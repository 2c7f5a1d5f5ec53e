"""Who is in a workspace, and with which role: the changes owners, admins and members make
on the Members page (the rules of DESIGN.md §3; roles.py decides who may try).

- owners and admins move others between admin and member, and remove them;
- only the owner hands the workspace over, to an admin, and becomes an admin;
- a member leaves; the owner cannot leave (or be demoted, or removed) without handing over.

Each raises MemberError with a message for the page when the change is not allowed.
Removing a membership ends its access at once: pages and WebSockets ask for the membership
on every request and every event (tenants.access.membership_for).
"""

from __future__ import annotations

from django.db import transaction

from tenants import audit
from tenants.models import AuditAction, Membership
from tenants.roles import Role

ASSIGNABLE = (Role.ADMIN, Role.MEMBER)


class MemberError(Exception):
    """A change of membership that is not allowed; the message says why."""


def _other(actor: Membership, target: Membership) -> None:
    if target.workspace_id != actor.workspace_id:
        raise MemberError("That person is not a member of this workspace.")
    if target.pk == actor.pk:
        raise MemberError("You cannot change your own membership here; leave the workspace "
                          "instead." if actor.role != Role.OWNER else
                          "Hand the workspace over to an admin first.")
    if target.role == Role.OWNER:
        raise MemberError("The owner's role changes only when they hand the workspace over.")


def change_role(actor: Membership, target: Membership, role: str) -> Membership:
    """Make another member an admin or a member."""
    if role not in ASSIGNABLE:
        raise MemberError("Choose admin or member.")
    _other(actor, target)
    before = target.role
    target.role = role
    target.save(update_fields=["role"])
    audit.record(AuditAction.ROLE_CHANGED, target.user, workspace=target.workspace,
                 before=before, after=role)
    return target


def remove_member(actor: Membership, target: Membership) -> None:
    _other(actor, target)
    target.delete()
    audit.record(AuditAction.REMOVED, target.user, workspace=target.workspace, role=target.role)


def leave(membership: Membership) -> None:
    if membership.role == Role.OWNER:
        raise MemberError("The owner cannot leave: hand the workspace over to an admin first.")
    membership.delete()
    audit.record(AuditAction.LEFT, membership.user, workspace=membership.workspace)


def transfer_ownership(owner: Membership, target: Membership) -> None:
    """The admin `target` becomes the owner; the owner becomes an admin."""
    if owner.role != Role.OWNER:
        raise MemberError("Only the owner hands the workspace over.")
    _other(owner, target)
    if target.role != Role.ADMIN:
        raise MemberError("Make them an admin first: ownership goes to an admin.")
    with transaction.atomic():
        # One owner per workspace (a constraint): the old owner steps down first.
        Membership.objects.filter(pk=owner.pk).update(role=Role.ADMIN)
        Membership.objects.filter(pk=target.pk).update(role=Role.OWNER)
    owner.role, target.role = Role.ADMIN, Role.OWNER
    audit.record(AuditAction.OWNERSHIP_TRANSFERRED, target.user, workspace=target.workspace)
