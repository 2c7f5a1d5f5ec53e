"""WebSocket URLs of a workspace's subdomain (config.asgi routes them to Channels): the pages'
(session) and, under API_PREFIX, the API's (token; api/consumers.py)."""

from collections.abc import Awaitable, Callable

from django.urls import path, re_path

from api import consumers as api_consumers
from deployments import consumers, log_consumers

API_PREFIX = "/api/v1/ws/"


async def refuse_unknown_path(scope: dict, receive: Callable[[], Awaitable[dict]],
                              send: Callable[[dict], Awaitable[None]]) -> None:
    """Reject the handshake of a WebSocket to a path no route serves: a close before accept,
    which the server answers with HTTP 403 (channels' URLRouter would raise, hence a 500)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})


websocket_urlpatterns = [
    path("ws/events/", consumers.WorkspaceEventsConsumer.as_asgi()),
    path("ws/deployments/<int:object_id>/logs/", log_consumers.DeploymentLogConsumer.as_asgi()),
    path("ws/services/<int:object_id>/", log_consumers.ServiceLogConsumer.as_asgi()),
    path("ws/environments/<int:object_id>/logs/", log_consumers.EnvironmentLogConsumer.as_asgi()),
    re_path(r"", refuse_unknown_path),  # last: whatever the routes above do not match
]

api_websocket_urlpatterns = [
    path("api/v1/ws/deployments/<int:object_id>/logs/",
         api_consumers.DeploymentLogSocket.as_asgi()),
    path("api/v1/ws/services/<int:object_id>/logs/", api_consumers.ServiceLogSocket.as_asgi()),
    re_path(r"", refuse_unknown_path),
]
