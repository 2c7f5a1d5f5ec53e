"""Making, finding and revoking personal access tokens.

A token is `paas_` and 43 URL-safe characters (256 random bits); the database keeps its
SHA-256 and its first characters (the prefix the dashboard shows). The token is returned once
by `create_token` and is never logged nor stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api.models import ApiToken
from tenants import audit
from tenants.models import AuditAction, User, Workspace

PREFIX = "paas_"
PREFIX_SHOWN = len(PREFIX) + 6
EXPIRY_DAYS = (7, 30, 90, 365)
# last_used_at is written at most this often per token.
TOUCH_EVERY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_token(workspace: Workspace, user: User, name: str, days: int) -> tuple[ApiToken, str]:
    """A new token of `user` for `workspace`, valid `days` days: the row, and the token itself
    (to show once)."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        workspace=workspace, user=user, name=name.strip()[:100] or "token",
        prefix=token[:PREFIX_SHOWN], token_hash=hash_token(token),
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit.record(AuditAction.CREATED, row, workspace=workspace, user=user,
                 expires=row.expires_at.isoformat())
    return row, token


def find_token(token: str) -> ApiToken | None:
    """The row of a token as presented (any workspace, live or not), or None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    return (ApiToken.objects.select_related("user", "workspace")
            .filter(token_hash=hash_token(token)).first())


def touch(row: ApiToken) -> None:
    """Remember the token was used now, at most once per TOUCH_EVERY."""
    now = timezone.now()
    if row.last_used_at is not None and now - row.last_used_at < TOUCH_EVERY:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY)
    ApiToken.objects.filter(stale, pk=row.pk).update(last_used_at=now)
    row.last_used_at = now


def revoke_token(row: ApiToken) -> None:
    row.revoke()
    audit.record(AuditAction.DELETED, row, workspace=row.workspace)


def tokens_of(workspace: Workspace, user: User) -> list[ApiToken]:
    """The tokens `user` made for `workspace`, newest first (revoked ones too)."""
    return list(ApiToken.objects.filter(workspace=workspace, user=user))
