"""ASGI entry point: Django for HTTP, Channels for WebSockets (DESIGN.md §3, §6). The bodies
of the public paths (webhooks) and of the API (uploads) are capped while they arrive
(core.bodylimit). Django's middleware and views run as one synchronous call per request, in a
reused thread (core.asgihandler)."""

import gc
import json
import os
from typing import Any

from core.asgihandler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from api.socket_auth import TokenAuthMiddleware, TokenClientOriginValidator  # noqa: E402
from config.urls_websocket import (  # noqa: E402
    API_PREFIX,
    api_websocket_urlpatterns,
    websocket_urlpatterns,
)
from core.bodylimit import BodyLimitMiddleware  # noqa: E402
from tenants.asgi import WorkspaceScopeMiddleware  # noqa: E402


def websockets_by_path(api: Any, pages: Any) -> Any:
    """The API's WebSockets (under API_PREFIX) to `api`, every other one to `pages`."""

    async def route(scope: dict, receive: Any, send: Any) -> Any:
        target = api if scope["path"].startswith(API_PREFIX) else pages
        return await target(scope, receive, send)

    return route


# The API's largest bodies are uploads; past PAAS_UPLOAD_MAX_BYTES it answers in its format.
API_TOO_LARGE = (b"application/json", json.dumps({"error": {
    "code": "too_large", "fields": {},
    "message": f"The request body is over {settings.PAAS_UPLOAD_MAX_BYTES} bytes "
               "(PAAS_UPLOAD_MAX_BYTES)."}}).encode())

application = ProtocolTypeRouter(
    {
        "http": BodyLimitMiddleware(
            BodyLimitMiddleware(django_asgi_app, settings.PAAS_PUBLIC_PATHS,
                                settings.GITHUB_WEBHOOK_MAX_BYTES),
            settings.PAAS_API_PATHS, settings.PAAS_UPLOAD_MAX_BYTES, API_TOO_LARGE),
        "websocket": websockets_by_path(
            # The API's: a token in the handshake's headers, never the session's cookie.
            api=TokenClientOriginValidator(
                WorkspaceScopeMiddleware(TokenAuthMiddleware(URLRouter(api_websocket_urlpatterns)))
            ),
            # The pages': the session, from pages of the panel's own hosts only.
            pages=AllowedHostsOriginValidator(
                AuthMiddlewareStack(WorkspaceScopeMiddleware(URLRouter(websocket_urlpatterns)))
            ),
        ),
    }
)


# What start-up made (modules, settings, URL patterns, models' metadata) lives as long as the
# process: the garbage collector leaves it alone from now on. Its full collections went
# through those 120,000 objects every time, 100-200 ms during which every request of the
# worker waited (the webhook benchmark's p99); now about 10,000.
gc.collect()
gc.freeze()
