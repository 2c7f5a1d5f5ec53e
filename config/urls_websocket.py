"""WebSocket URLs of a workspace's subdomain (config.asgi routes them to Channels)."""

from django.urls import path

from deployments import consumers

websocket_urlpatterns = [
    path("ws/events/", consumers.WorkspaceEventsConsumer.as_asgi()),
]
