"""ASGI entry point: Django for HTTP, Channels for WebSockets (DESIGN.md §3, §6). The bodies
of the public paths (webhooks) are capped while they arrive (core.bodylimit). Django's
middleware and views run as one synchronous call per request, in a reused thread
(core.asgihandler)."""

import gc
import os

from core.asgihandler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.urls_websocket import websocket_urlpatterns  # noqa: E402
from core.bodylimit import BodyLimitMiddleware  # noqa: E402
from tenants.asgi import WorkspaceScopeMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimitMiddleware(django_asgi_app, settings.PAAS_PUBLIC_PATHS,
                                    settings.GITHUB_WEBHOOK_MAX_BYTES),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(WorkspaceScopeMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)


# What start-up made (modules, settings, URL patterns, models' metadata) lives as long as the
# process: the garbage collector leaves it alone from now on. Its full collections went
# through those 120,000 objects every time, 100-200 ms during which every request of the
# worker waited (the webhook benchmark's p99); now about 10,000.
gc.collect()
gc.freeze()
