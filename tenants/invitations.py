"""Invitations to a workspace (the Members page): made by owners and admins, sent by email
through Django's email backend (the console in development), accepted once through their link.

The link is https://PAAS_DOMAIN/invitations/<token>/: the token is random (32 bytes), only its
SHA-256 is stored, so neither the database nor the admin can rebuild a link. It works for the
account with the invited email, signed in or just signed up; it is refused once used,
revoked, expired (PAAS_INVITATION_DAYS, 7) or for another account.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants import audit
from tenants.models import AuditAction, Invitation, Membership, User, Workspace
from tenants.roles import Role

INVITABLE = (Role.ADMIN, Role.MEMBER)


class InvitationError(Exception):
    """The invitation cannot be used; the message says why (shown on the link's page)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_path(token: str) -> str:
    return f"/invitations/{token}/"


def _new_token(invitation: Invitation) -> str:
    token = secrets.token_urlsafe(32)
    invitation.token_hash = token_hash(token)
    invitation.expires_at = timezone.now() + timedelta(days=settings.PAAS_INVITATION_DAYS)
    return token


def invite(workspace: Workspace, email: str, role: str, by: User, link_base: str) -> str:
    """Make an invitation (the form checked the email and role) and send it; its link."""
    invitation = Invitation(workspace=workspace, email=email.strip().lower(), role=role,
                            invited_by=by)
    token = _new_token(invitation)
    invitation.save()
    audit.record(AuditAction.INVITED, invitation, workspace=workspace, user=by, role=role)
    return _send(invitation, token, link_base)


def resend(invitation: Invitation, link_base: str) -> str:
    """A new link (the old one stops working) and a new expiry, sent again."""
    token = _new_token(invitation)
    invitation.save(update_fields=["token_hash", "expires_at"])
    audit.record(AuditAction.INVITATION_RESENT, invitation, workspace=invitation.workspace)
    return _send(invitation, token, link_base)


def revoke(invitation: Invitation) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit.record(AuditAction.INVITATION_REVOKED, invitation, workspace=invitation.workspace)


def _send(invitation: Invitation, token: str, link_base: str) -> str:
    link = link_base + link_path(token)
    inviter = invitation.invited_by.get_full_name() if invitation.invited_by else "Someone"
    send_mail(
        subject=f"Join {invitation.workspace.name} on the panel",
        message=(f"{inviter} invites you to the workspace {invitation.workspace.name} as "
                 f"{invitation.get_role_display().lower()}.\n\nJoin: {link}\n\nThe link works "
                 f"once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC."),
        from_email=None, recipient_list=[invitation.email],
    )
    return link


def find(token: str) -> Invitation:
    """The invitation of a link, if it can still be used; InvitationError says why not."""
    invitation = (Invitation.objects.select_related("workspace")
                  .filter(token_hash=token_hash(token)).first())
    if invitation is None:
        raise InvitationError("This invitation link is not valid: it may have been mistyped, "
                              "or replaced by a newer one.")
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation has already been used.")
    if invitation.revoked_at is not None:
        raise InvitationError("This invitation was withdrawn.")
    if invitation.expires_at <= timezone.now():
        raise InvitationError("This invitation has expired: ask for a new one.")
    return invitation


def accept(token: str, user: User) -> Membership:
    """Join the workspace with the invitation's role, once, as the invited account."""
    with transaction.atomic():
        invitation = find(token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:
            raise InvitationError("This invitation has already been used.")
        if user.email.lower() != invitation.email:
            raise InvitationError(
                f"This invitation is for {invitation.email}; you are signed in as "
                f"{user.email}. Log out and use the invited account.")
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    user=user, workspace=invitation.workspace, role=invitation.role)
        except IntegrityError:
            raise InvitationError("You are already a member of this workspace.") from None
        invitation.accepted_at, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit.record(AuditAction.JOINED, user, workspace=invitation.workspace, user=user,
                     role=invitation.role)
    return membership
