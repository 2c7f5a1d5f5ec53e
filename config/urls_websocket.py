"""WebSocket URLs of a workspace's subdomain (config.asgi routes them to Channels)."""

from collections.abc import Awaitable, Callable

from django.urls import path, re_path

from deployments import consumers, log_consumers


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
