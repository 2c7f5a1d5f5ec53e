"""ASGI middleware: resolve the workspace of a WebSocket connection from its Host header."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from tenants.models import Domain, Workspace


@database_sync_to_async
def workspace_for_host(host: str) -> Workspace | None:
    hostname = host.rsplit(":", 1)[0].strip().lower().rstrip(".")
    if not hostname.endswith("." + settings.PAAS_DOMAIN):
        return None
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    return domain.tenant if domain else None


class WorkspaceScopeMiddleware:
    """Puts `workspace` (or None on the root domain or an unknown host) in the scope."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        scope = dict(scope, workspace=await workspace_for_host(host))
        return await self.app(scope, receive, send)
