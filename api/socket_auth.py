"""Who opens one of the API's WebSockets (`/api/v1/ws/…`, api/consumers.py): a personal access
token, sent as `Authorization: Bearer paas_…` on the handshake, with the rules of the HTTP API
(api/authentication.py): a token that is unknown, revoked, expired, made for another
workspace, or whose user is no longer an active member opens nothing (the consumer closes
with 4401). The token's user goes in `scope["user"]` and its id in `scope["api_token"]`; the
consumers' membership and role checks then apply as on the pages, and while a socket streams
they ask again whether the token is still live (`token_standing`).

Sessions are not read on these paths: a browser cannot set that header on a WebSocket, and
cookies are what a cross-site page could borrow. Clients outside a browser send no Origin,
which these paths accept; an Origin that is sent must be one of ALLOWED_HOSTS, as on the
pages' sockets.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from api.authentication import KEYWORD
from api.models import ApiToken
from api.tokens import find_token, touch
from tenants.access import membership_for
from tenants.models import User, Workspace


def bearer_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of the handshake's one `Authorization: Bearer …` header, else None."""
    values = [value for name, value in headers if name.lower() == b"authorization"]
    if len(values) != 1:
        return None
    parts = values[0].decode("latin-1").split()
    if len(parts) != 2 or parts[0].lower() != KEYWORD.lower():
        return None
    return parts[1]


@database_sync_to_async
def resolve(token: str | None, workspace: Workspace | None) -> tuple[User | None, int | None]:
    """The user and the token's id, when the token opens this workspace."""
    if token is None or workspace is None:
        return None, None
    row = find_token(token)
    if row is None or not row.is_live or row.workspace_id != workspace.pk:
        return None, None
    if membership_for(row.user, workspace) is None:
        return None, None
    touch(row)
    return row.user, row.pk


def token_standing(token_id: int | None, workspace: Workspace) -> tuple[bool, str | None]:
    """Whether the token still opens the workspace (not revoked, not expired), and the role
    of its user there (None: no longer a member)."""
    row = (ApiToken.objects.live().select_related("user")
           .filter(pk=token_id, workspace=workspace).first() if token_id else None)
    if row is None:
        return False, None
    membership = membership_for(row.user, workspace)
    return True, membership.role if membership is not None else None


class TokenAuthMiddleware:
    """Puts the token's user (else AnonymousUser) in the scope. Inside
    tenants.asgi.WorkspaceScopeMiddleware: a token opens its own workspace only."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        user, token_id = await resolve(bearer_of(scope.get("headers") or []),
                                       scope.get("workspace"))
        scope = dict(scope, user=user or AnonymousUser(), api_token=token_id)
        return await self.app(scope, receive, send)


class TokenClientOriginValidator(OriginValidator):
    """No Origin (a client outside a browser) passes; a sent one must be an allowed host."""

    def __init__(self, application: Any) -> None:
        super().__init__(application, settings.ALLOWED_HOSTS)

    def valid_origin(self, parsed_origin: Any) -> bool:
        return parsed_origin is None or self.validate_origin(parsed_origin)
