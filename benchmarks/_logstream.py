"""What the log benchmarks stream through: an app under the panel's PM2 printing lines into
the files the log shipper follows, the shipper (`manage.py ship_logs`), the panel under
uvicorn, and real WebSocket clients of a deployment's log socket. Each client resumes after
sequence 0, as a page opened before the first line does, and keeps the sequence numbers it
receives and, of probe lines (their text carries time.time_ns() of their printing), how long
they took to arrive."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from benchmarks.deploy import background, free_port
from config import web
from deployments.engine import launch, pm2, releases

SEQUENCE = re.compile(rb'data-sequence="(\d+)"')
PROBE = re.compile(rb"latency probe (\d{19})")
MAX_FRAME = 64 * 2**20  # a catch-up frame holds up to 1,000 lines

# Prints COUNT lines at RATE a second in bursts every 10 ms, after DELAY seconds: those of
# LINES_FILE ("O<text>" to stdout, "E<text>" to stderr) or, without it, probe lines; then
# writes how long the printing took to DONE_FILE and sleeps.
APP = """\
import os, sys, time
count, rate = int(os.environ["COUNT"]), int(os.environ["RATE"])
lines = None
if os.environ.get("LINES_FILE"):
    with open(os.environ["LINES_FILE"], encoding="utf-8") as source:
        lines = source.read().split("\\n")
burst = max(1, rate // 100)
time.sleep(float(os.environ.get("DELAY") or 0))
began = time.monotonic()
for start in range(0, count, burst):
    out, err = [], []
    for n in range(start, min(start + burst, count)):
        if lines is None:
            out.append(f"latency probe {time.time_ns()} #{n}")
        else:
            (err if lines[n][0] == "E" else out).append(lines[n][1:])
    for stream, texts in ((sys.stdout, out), (sys.stderr, err)):
        if texts:
            stream.write("\\n".join(texts) + "\\n")
            stream.flush()
    ahead = began + (start + burst) / rate - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
with open(os.environ["DONE_FILE"], "w") as done:
    done.write(str(time.monotonic() - began))
time.sleep(86400)
"""


def start_app(workspace: object, deployment: object, root: Path, *, count: int, rate: int,
              lines_file: Path | None = None, delay: float = 0.0) -> tuple[str, Path]:
    """The app under the panel's PM2 as the deployment's web process, its output in the files
    the shipper follows (as deployments/tests/test_shipper.py starts its apps); its PM2 name
    and the file it writes when done."""
    script = root / "app.py"
    script.write_text(APP)
    done = root / f"done-{deployment.pk}"
    try:
        with tenant_context(workspace):
            out_file, err_file = releases.log_files(releases.log_dir_for(deployment), "web", 0)
            name = launch.process_name(deployment, "web", 0)
    finally:
        connection.close()  # this thread's, if it made one: the database is dropped after
    pm2.start([pm2.AppSpec(
        name=name, argv=["python3", str(script)], cwd=root,
        env={"PATH": settings.PAAS_APP_PATH, "PAAS_DEPLOYMENT_ID": str(deployment.pk),
             "COUNT": str(count), "RATE": str(rate), "DELAY": str(delay),
             "LINES_FILE": str(lines_file or ""), "DONE_FILE": str(done)},
        restart_policy="never", max_restarts=0, out_file=out_file, err_file=err_file)])
    return name, done


def printed(done: Path, timeout: float) -> float:
    """Wait for the app to have printed everything; the seconds its printing took."""
    deadline = time.monotonic() + timeout
    while not done.exists() or not done.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark's app did not finish printing")
        time.sleep(0.05)
    return float(done.read_text())


@contextmanager
def shipper(env: dict[str, str], log: Path) -> Iterator[None]:
    with background([sys.executable, "manage.py", "ship_logs"], env, log):
        yield


@contextmanager
def panel_server(env: dict[str, str], log: Path) -> Iterator[int]:
    """The panel's web process on a free port, started as production starts it (config.web:
    PAAS_WEB_WORKERS uvicorn processes serving config.asgi, HTTP and WebSocket, with the access
    log) and configured as production is (DEBUG off, HTTPS behind a proxy: plain HTTP
    requests need X-Forwarded-Proto: https; LOG_LEVEL INFO); yields the port."""
    port = free_port()
    argv = [sys.executable, "-m", "config.web"]
    production = {"DEBUG": "0", "PAAS_HTTPS": "1", "SECRET_KEY": settings.SECRET_KEY,
                  "PAAS_ENCRYPTION_KEYS": settings.PAAS_ENCRYPTION_KEYS,
                  "REDIS_URL": settings.REDIS_URL, "LOG_LEVEL": "INFO", "PANEL_PORT": str(port)}
    env = {**env, **production}
    with background(argv, env, log) as process:
        # Every worker listening (a socket each): connections opened earlier would all go to
        # the first.
        expected = web.workers(env)
        deadline = time.monotonic() + 60
        while web.listening_sockets(port) < expected:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the web process did not start: {log.read_text()}")
            time.sleep(0.1)
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        yield port


@dataclass
class Follower:
    """What one client received."""

    seen: set[int] = field(default_factory=set)
    duplicates: int = 0
    frames: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    closed: str = ""


class Followers:
    """`count` clients of one deployment's log socket, in this process's event loop."""

    def __init__(self, port: int, host: str, cookie: str, deployment_id: int,
                 count: int) -> None:
        self.port, self.host, self.cookie = port, host, cookie
        self.deployment_id = deployment_id
        self.followers = [Follower() for _ in range(count)]
        self._tasks: list[asyncio.Task] = []
        self._sockets: list[websockets.ClientConnection] = []

    async def __aenter__(self) -> Followers:
        self._sockets = list(await asyncio.gather(*(self._open() for _ in self.followers)))
        for websocket in self._sockets:
            await websocket.send(json.dumps(
                {"type": "resume", "after": {str(self.deployment_id): 0}}))
        self._tasks = [asyncio.create_task(self._read(websocket, follower))
                       for websocket, follower in zip(self._sockets, self.followers,
                                                       strict=True)]
        await asyncio.sleep(0.5)  # every consumer has read its resume message
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for websocket in self._sockets:
            await websocket.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _open(self) -> websockets.ClientConnection:
        sock = socket.create_connection(("127.0.0.1", self.port))
        return await websockets.connect(
            f"ws://{self.host}:{self.port}/ws/deployments/{self.deployment_id}/logs/",
            # As a browser: it neither pings nor limits a frame's size; it does compress.
            sock=sock, max_size=MAX_FRAME, open_timeout=30, ping_interval=None,
            additional_headers={"Origin": f"http://{self.host}:{self.port}",
                                "Cookie": f"sessionid={self.cookie}"})

    async def _read(self, websocket: websockets.ClientConnection,
                    follower: Follower) -> None:
        try:
            while True:
                data = await websocket.recv(decode=False)  # bytes: no UTF-8 decoding
                arrived = time.time_ns()
                follower.frames += 1
                for number in SEQUENCE.findall(data):
                    sequence = int(number)
                    if sequence in follower.seen:
                        follower.duplicates += 1
                    follower.seen.add(sequence)
                follower.latencies_ms += [(arrived - int(stamp)) / 1e6
                                          for stamp in PROBE.findall(data)]
        except websockets.ConnectionClosedOK:
            pass
        except websockets.ConnectionClosed as closed:
            follower.closed = f"closed {closed.rcvd.code if closed.rcvd else 'abnormally'}"

    async def settle(self, expected: int, quiet: float, limit: float) -> tuple[float, str]:
        """Wait until every client has `expected` lines, none got a line for `quiet`
        seconds, or `limit` seconds passed; the seconds waited and which it was."""
        started = last_progress = time.monotonic()
        received = self.received()
        while min(received) < expected:
            if time.monotonic() - last_progress >= quiet:
                return time.monotonic() - started, f"nothing more came ({quiet:.0f} s quiet)"
            if time.monotonic() - started >= limit:
                return time.monotonic() - started, "lines still coming"
            await asyncio.sleep(0.05)
            now = self.received()
            if now != received:
                received, last_progress = now, time.monotonic()
        return time.monotonic() - started, "every client had every line"

    def received(self) -> list[int]:
        return [len(follower.seen) for follower in self.followers]
