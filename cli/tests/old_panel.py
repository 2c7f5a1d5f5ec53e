"""The panel as it was before the API's log sockets, for the CLI's fallback to polling: the
same application, except that a WebSocket under /api/ is refused at the handshake (HTTP 403),
as that panel's router did with every path it did not serve."""

from config.asgi import application as panel


async def application(scope: dict, receive: object, send: object) -> None:
    if scope["type"] == "websocket" and scope["path"].startswith("/api/"):
        await receive()  # websocket.connect
        await send({"type": "websocket.close"})
        return
    await panel(scope, receive, send)
