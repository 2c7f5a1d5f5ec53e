"""ASGI entry point: Django for HTTP, Channels for WebSockets (DESIGN.md §3, §6). The bodies
of the public paths (webhooks) and of the API (uploads) are capped while they arrive
(core.bodylimit)."""

import json
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.urls_websocket import websocket_urlpatterns  # noqa: E402
from core.bodylimit import BodyLimitMiddleware  # noqa: E402
from tenants.asgi import WorkspaceScopeMiddleware  # noqa: E402

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
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(WorkspaceScopeMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
