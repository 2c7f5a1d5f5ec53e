"""A live log over the API's WebSockets (the protocol: api/consumers.py in the panel), with
the token in the handshake's Authorization header.

`LogSocket.frames()` yields the server's frames (and None every IDLE_SECONDS without one, for
spinners) and hides reconnections: it keeps, per deployment, the last sequence number it
has received, and says so in the `resume` it sends on every connection, so a dropped
connection or a restarted panel costs no line and repeats none. A panel that refuses the
first handshake (one older than these sockets) raises `Unsupported`: the caller polls
instead. A close that says no (4401, 4403, 4404, 4400) is an ApiError, as the HTTP answer
would be; other closes and failures are retried, with a growing delay, until GIVE_UP_SECONDS
pass without a connection.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from cli import USER_AGENT
from cli.client import Api, ApiError, connect_address

IDLE_SECONDS = 0.5
OPEN_SECONDS = 10.0
GIVE_UP_SECONDS = 60.0
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
MAX_FRAME = 64 * 1024 * 1024  # a catch-up frame holds up to 1000 lines
REFUSALS = {
    4401: (401, "Invalid, expired or revoked token, or not one of this workspace."),
    4403: (403, "Your role in this workspace does not allow reading logs."),
    4404: (404, "Not found (or you are no longer a member of this workspace)."),
    4400: (400, "The panel did not understand this client's message."),
}


class Unsupported(Exception):
    """The panel refused the socket at the handshake: it has no such route (an older one)."""


def open_socket(api: Api, path: str) -> ClientConnection:
    """A socket to `path` (under /api/v1/) of the API's workspace, connected where the HTTP
    client connects: PAAS_CONNECT_ADDRESS, *.localhost to 127.0.0.1, else the name (through
    the proxy the environment names, if any, as httpx does)."""
    base = api.base
    secure = base.scheme == "https"
    uri = f"{'wss' if secure else 'ws'}://{base.netloc.decode('ascii')}{base.path}{path}"
    options = {"additional_headers": {"Authorization": f"Bearer {api.token}"},
               "user_agent_header": USER_AGENT, "open_timeout": OPEN_SECONDS,
               "max_size": MAX_FRAME}
    address = connect_address(base.host)
    if address is None:
        return connect(uri, **options)
    sock = socket.create_connection((address, base.port or (443 if secure else 80)),
                                    timeout=OPEN_SECONDS)
    try:
        return connect(uri, sock=sock, **options)
    except BaseException:
        sock.close()
        raise


class LogSocket:
    """One of the API's log sockets, followed across reconnections. `after` (deployment id →
    last sequence received) moves with the lines; `resume` is the rest of the resume message
    (q, stream, build). With `from_now`, the first connection starts each deployment the
    client has no cursor of where the server says its log stands (a service's socket)."""

    def __init__(self, api: Api, path: str, after: dict[str, int], *, from_now: bool = False,
                 **resume: object) -> None:
        self.api, self.path, self.after = api, path, dict(after)
        self.from_now, self.resume = from_now, resume
        self.connections = 0

    def frames(self) -> Iterator[dict | None]:
        failing_since = None
        failures = 0
        while True:
            try:
                websocket = open_socket(self.api, self.path)
            except InvalidStatus as error:
                if self.connections == 0 and error.response.status_code < 500:
                    raise Unsupported(str(error)) from None
            except (OSError, InvalidHandshake, TimeoutError):
                pass
            else:
                failing_since, failures = None, 0
                with websocket:
                    yield from self.follow(websocket)
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since > GIVE_UP_SECONDS:
                raise ApiError(f"Lost the log stream of {self.api.host}: no connection for "
                               f"{GIVE_UP_SECONDS:.0f} s.")
            time.sleep(RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)])
            failures += 1

    def follow(self, websocket: ClientConnection) -> Iterator[dict | None]:
        """The frames of one connection, until it closes (an ApiError if it said no)."""
        try:
            first = json.loads(websocket.recv(timeout=OPEN_SECONDS))  # the status
            if self.from_now and self.connections == 0:
                cursors = first.get("cursors") or {}
                self.after = {**cursors, **self.after}
            self.connections += 1
            websocket.send(json.dumps({"type": "resume", "after": self.after, **self.resume}))
            yield first
            while True:
                try:
                    frame = json.loads(websocket.recv(timeout=IDLE_SECONDS))
                except TimeoutError:
                    yield None
                    continue
                if frame.get("type") == "lines":
                    for line in frame["lines"]:
                        key = str(line["deployment"])
                        self.after[key] = max(self.after.get(key, 0), line["sequence"])
                yield frame
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            if code in REFUSALS:
                status, message = REFUSALS[code]
                raise ApiError(f"{status} {message}", status) from None
        except (OSError, TimeoutError, ValueError):
            pass  # a connection that broke, or a frame cut short: connect again
