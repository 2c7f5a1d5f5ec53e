"""The audit log: `record()` writes who did what to which object, in the current workspace.

Who and from where come from the request being served (AuditMiddleware puts them in a
context variable), so the services that change things need no extra arguments; the panel's
own work (a worker, the monitor) is recorded without a person. Never a secret value: callers
name variables by key. Kept PAAS_AUDIT_DAYS (90) days; `prune_audit` (daily) forgets older
events.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from tenants.models import AuditAction, AuditEvent, User, Workspace


@dataclass(frozen=True)
class Actor:
    user: User | None
    address: str | None


_actor: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)


def client_address(request: HttpRequest) -> str | None:
    """The client's address: the proxy's X-Forwarded-For when the panel sits behind one
    (PAAS_TRUSTED_PROXY_COUNT hops), else the socket's."""
    hops = settings.PAAS_TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                 if part.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR") or None


class AuditMiddleware:
    """Remember who makes the request, and from where, for `record()`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user if request.user.is_authenticated else None
        token = _actor.set(Actor(user=user, address=client_address(request)))
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)


def act_as(request: HttpRequest, user: User) -> None:
    """Record what the rest of this request does as `user`'s: for requests authenticated
    after AuditMiddleware ran (the API's tokens). AuditMiddleware forgets it at the end."""
    _actor.set(Actor(user=user, address=client_address(request)))


def current_workspace() -> Workspace | None:
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Workspace):
        return tenant
    return Workspace.objects.filter(schema_name=connection.schema_name).first()


def record(action: AuditAction, target: object = None, *, workspace: Workspace | None = None,
           user: User | None = None, **details: object) -> AuditEvent | None:
    """Write an audit event in `workspace` (the connection's when not given), by `user` (the
    request's when not given)."""
    workspace = workspace or current_workspace()
    if workspace is None:
        return None
    actor = _actor.get() or Actor(user=None, address=None)
    user = user or actor.user
    return AuditEvent.objects.create(
        workspace=workspace, actor=user, actor_email=user.email if user else "",
        address=actor.address, action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(getattr(target, "pk", "") or "") if target is not None else "",
        target=str(target)[:300] if target is not None else "", details=details,
    )


def prune(now: datetime | None = None) -> int:
    """Forget events older than PAAS_AUDIT_DAYS; how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PAAS_AUDIT_DAYS)
    deleted, _ = AuditEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
