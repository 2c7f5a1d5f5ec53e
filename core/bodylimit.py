"""ASGI middleware: a cap on the request bodies of some paths, enforced while they arrive.

Django's ASGI handler reads a whole body (into a file that rolls over to disk) before any view
runs, whatever its size; a view's own limit comes too late for a chunked body of a gigabyte.
Here a request to one of the paths answers 413 at once when its Content-Length is over the
cap, and as soon as a body without one (chunked) passes it: the application is then told the
client went away, and whatever it sends is dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOO_LARGE = b"Request body too large."


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, if it has one that is a number."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    """Requests under one of `prefixes` may send at most `max_bytes` of body; past it they
    get 413 with `answer` (content type, body): plain text unless told otherwise."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...], max_bytes: int,
                 answer: tuple[bytes, bytes] = (b"text/plain", TOO_LARGE)) -> None:
        self.app, self.prefixes, self.max_bytes = app, prefixes, max_bytes
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > self.max_bytes:
            await refuse(send, self.answer)
            return
        refused = False
        received = 0

        async def limited_receive() -> Message:
            nonlocal refused, received
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await refuse(send, self.answer)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


async def refuse(send: Send, answer: tuple[bytes, bytes] = (b"text/plain", TOO_LARGE)) -> None:
    content_type, body = answer
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", content_type), (b"connection", b"close"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
