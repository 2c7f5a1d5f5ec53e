"""The development router: HTTP by Host header to the deployment that serves it.

    python -m uvicorn devrouter.app:application --host 127.0.0.1 --port 8080 \
        --no-access-log --no-proxy-headers

(--no-proxy-headers: the router is the edge; uvicorn would otherwise believe the
X-Forwarded-For of any local client.)

Until Traefik arrives (a later issue), this ASGI app puts the public routing table
(hosting.models.Route: hostname → "<host address>:20001[,<host address>:20002]") in front of
the apps.
The Host header (port stripped, lowercased) picks the route; several upstreams are used in
turn. Method, path and query, headers and both bodies are passed through as streams; the
X-Forwarded-For/-Proto/-Host/-Port headers are set here (a client's own are dropped).

Routes are read at most every ROUTE_TTL seconds per hostname. The engine switches a route to a
new deployment and stops the old one PAAS_DRAIN_SECONDS later; a request that meets a stopped
upstream (connection refused: nothing was sent) re-reads the route, bypassing the cache, and
is retried once on its current upstream, so a switch fails no request. A GET/HEAD/OPTIONS
whose upstream connection was closed before any answer is retried the same way.

Answers of its own: 404 for a hostname without a route, 503 for a route with no active
deployment, 502 when the upstream cannot be reached after the retry, 504 when it does not
answer in time. WebSockets are not proxied yet: a WebSocket handshake gets 501 (or, where the
server cannot send an HTTP answer, is closed).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import os
import time
from dataclasses import dataclass

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

import httpx  # noqa: E402
from asgiref.sync import sync_to_async  # noqa: E402
from django.db import DatabaseError, connection  # noqa: E402

from hosting.models import Route  # noqa: E402

ROUTE_TTL = 0.5
TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=60.0, pool=10.0)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "proxy-connection",
}
# Set by the router itself; a client's own values are not believed.
FORWARDED = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
             "x-real-ip", "forwarded"}
# uvicorn adds its own Date and Server to every answer.
DROPPED_FROM_UPSTREAM = HOP_BY_HOP | {"date", "server"}


@dataclass(frozen=True)
class Target:
    upstreams: tuple[str, ...]  # "host:port", in turn
    deployment_id: int | None


class Routes:
    """Hostname → Target (None: no route), each entry kept ROUTE_TTL seconds."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, Target | None]] = {}
        self._turns: dict[str, itertools.count] = {}

    async def get(self, hostname: str, *, fresh: bool = False) -> Target | None:
        cached = self._cache.get(hostname)
        if cached and not fresh and cached[0] > time.monotonic():
            return cached[1]
        target = await _read_route(hostname)
        self._cache[hostname] = (time.monotonic() + ROUTE_TTL, target)
        if len(self._cache) > 10_000:  # junk Host headers: forget the oldest
            for key in list(self._cache)[:5_000]:
                del self._cache[key]
        return target

    def pick(self, hostname: str, target: Target, avoid: str | None = None) -> str:
        turn = next(self._turns.setdefault(hostname, itertools.count()))
        choices = [up for up in target.upstreams if up != avoid] or list(target.upstreams)
        return choices[turn % len(choices)]


@sync_to_async
def _read_route(hostname: str) -> Target | None:
    for attempt in (1, 2):  # one connection, kept; opened again once if the database dropped it
        try:
            row = Route.objects.filter(hostname=hostname).values_list(
                "upstream", "deployment_id").first()
            break
        except DatabaseError:
            connection.close()
            if attempt == 2:
                raise
    if row is None:
        return None
    upstream, deployment_id = row
    upstreams = tuple(part.strip() for part in (upstream or "").split(",") if part.strip())
    return Target(upstreams=upstreams, deployment_id=deployment_id)


class Router:
    def __init__(self) -> None:
        self.routes = Routes()
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=TIMEOUT, follow_redirects=False, trust_env=False,
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100,
                                    keepalive_expiry=2.0),
            )
        return self._client

    async def __call__(self, scope: dict, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "websocket":
            await refuse_websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive, send) -> None:  # noqa: ANN001
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: dict, receive, send) -> None:  # noqa: ANN001
        headers = [(name.lower(), value) for name, value in scope["headers"]]
        host_header = next((v.decode("latin-1") for n, v in headers if n == b"host"), "")
        hostname = hostname_of(host_header)
        try:
            target = await self.routes.get(hostname) if hostname else None
        except DatabaseError:
            return await page(send, 503, "Routing unavailable",
                              "The routing table cannot be read right now.")
        if target is None:
            return await page(send, 404, "Not found",
                              f"No service answers at {hostname or 'this address'}.")
        if not target.upstreams or target.deployment_id is None:
            return await page(send, 503, "No active deployment",
                              f"{hostname} has no active deployment yet.")
        body = await Body.start(receive)
        forwarded = forward_headers(scope, headers, host_header)
        url_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        target_path = url_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        upstream = self.routes.pick(hostname, target)
        for attempt in (1, 2):
            request = self.client.build_request(
                scope["method"], f"http://{upstream}{target_path}", headers=forwarded,
                content=body.content(),
            )
            try:
                response = await self.client.send(request, stream=True)
            except ConnectionAbortedError:
                return  # the client went away while sending its body
            # A kept-alive connection the stopped upstream closed fails on write or on read,
            # or (httpcore, when the socket went away as the request started) with an
            # AttributeError of its pooled connection: retried like a failed read.
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError,
                    httpx.WriteError, AttributeError) as error:
                retryable = body.replayable and (
                    isinstance(error, httpx.ConnectError) or scope["method"] in SAFE_METHODS)
                if attempt == 1 and retryable:
                    try:
                        target = await self.routes.get(hostname, fresh=True)
                    except DatabaseError:
                        target = None
                    if target is None or not target.upstreams or target.deployment_id is None:
                        return await page(send, 503, "No active deployment",
                                          f"{hostname} has no active deployment.")
                    upstream = self.routes.pick(hostname, target, avoid=upstream)
                    continue
                return await page(send, 502, "Bad gateway",
                                  f"The deployment behind {hostname} is not answering.")
            except httpx.TimeoutException:
                return await page(send, 504, "Gateway timeout",
                                  f"The deployment behind {hostname} did not answer in time.")
            return await relay(response, receive, send)


class Body:
    """The request body: read whole when it came in one message (replayable for a retry),
    otherwise streamed from the client as the upstream reads it."""

    def __init__(self, first: bytes, more: bool, receive) -> None:  # noqa: ANN001
        self.first, self.more, self.receive = first, more, receive
        self.consumed = False

    @classmethod
    async def start(cls, receive) -> Body:  # noqa: ANN001
        message = await receive()
        if message["type"] == "http.disconnect":
            return cls(b"", False, receive)
        return cls(message.get("body", b""), message.get("more_body", False), receive)

    @property
    def replayable(self) -> bool:
        return not self.more or not self.consumed

    def content(self):  # noqa: ANN201
        if not self.more:
            return self.first or None
        return self._stream()

    async def _stream(self):  # noqa: ANN202
        self.consumed = True
        if self.first:
            yield self.first
        more = True
        while more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ConnectionAbortedError("the client went away")
            more = message.get("more_body", False)
            if message.get("body"):
                yield message["body"]


async def relay(response: httpx.Response, receive, send) -> None:  # noqa: ANN001
    """The upstream's answer to the client, chunk by chunk, until either side is done."""

    async def client_gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(client_gone())  # the request body has been read by now
    try:
        headers = [(name, value) for name, value in response.headers.raw
                   if name.lower().decode("latin-1") not in DROPPED_FROM_UPSTREAM]
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": headers})
        try:
            async for chunk in response.aiter_raw():
                if watcher.done():
                    break
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError:
            pass  # the upstream broke off: end the answer; the client sees it short
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        watcher.cancel()
        await response.aclose()


def hostname_of(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [v6]:port
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def forward_headers(scope: dict, headers: list[tuple[bytes, bytes]],
                    host_header: str) -> list[tuple[bytes, bytes]]:
    connection_listed = {
        token.strip().lower().encode()
        for name, value in headers if name == b"connection"
        for token in value.decode("latin-1").split(",")
    }
    kept = [(name, value) for name, value in headers
            if name.decode("latin-1") not in HOP_BY_HOP | FORWARDED | {"expect"}
            and name not in connection_listed]
    client = (scope.get("client") or ("", 0))[0]
    server_port = (scope.get("server") or ("", 0))[1]
    port = host_header.rsplit(":", 1)[1] if ":" in host_header.split("]")[-1] else server_port
    kept += [
        (b"x-forwarded-for", client.encode("latin-1")),
        (b"x-real-ip", client.encode("latin-1")),
        (b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")),
        (b"x-forwarded-host", host_header.encode("latin-1")),
        (b"x-forwarded-port", str(port).encode("latin-1")),
    ]
    return kept


async def page(send, status: int, title: str, text: str) -> None:  # noqa: ANN001
    body = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{status} {title}"
            f"</title></head><body><h1>{title}</h1><p>{html.escape(text)}</p></body></html>"
            ).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]})
    await send({"type": "http.response.body", "body": body})


async def refuse_websocket(scope: dict, receive, send) -> None:  # noqa: ANN001
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        body = b"WebSockets are not routed by the development router yet.\n"
        await send({"type": "websocket.http.response.start", "status": 501, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1003})


application = Router()
