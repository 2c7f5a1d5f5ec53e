"""The development router (devrouter/app.py): a real uvicorn process in front of real
upstream servers, routing by the Route table of the test database."""

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest
from django.conf import settings

from conftest import BASE_DIR, free_port, process_env
from hosting.models import Route

# An upstream app: answers with its name, echoes what it got, and stops like a real server on
# SIGTERM (no new connection, requests in flight finished). HTTP/1.1, keep-alive.
UPSTREAM = r'''
import hashlib, http.server, json, os, signal, sys, threading, time
name, port = sys.argv[1], int(sys.argv[2])
lock, busy = threading.Lock(), [0]  # requests in flight

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    return body
                body += chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def parse_request(self):  # a request line came: in flight until it is answered
        with lock:
            busy[0] += 1
        self.counted = True
        return super().parse_request()
    def handle_one_request(self):
        self.counted = False
        try:
            super().handle_one_request()
        finally:
            if self.counted:
                with lock:
                    busy[0] -= 1
    def answer(self, body, content_type="application/json"):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if stopping.is_set():  # a kept-alive connection ends with this answer
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/big":
            return self.answer(bytes(range(256)) * 12288, "application/octet-stream")
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.answer(json.dumps({"name": name, "path": self.path, "headers": headers}).encode())

    def do_POST(self):
        body = self.read_body()
        self.answer(json.dumps({"name": name, "length": len(body),
                                "sha256": hashlib.sha256(body).hexdigest()}).encode())

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
stopping = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stopping.set())
threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
print("ready", flush=True)
stopping.wait()
server.shutdown()
server.server_close()
deadline = time.monotonic() + 10  # requests in flight finish, however loaded the machine
time.sleep(0.05)
while busy[0] and time.monotonic() < deadline:
    time.sleep(0.01)
os._exit(0)
'''


class Upstream:
    def __init__(self, name: str, script: str) -> None:
        self.name, self.port = name, free_port()
        self.process = subprocess.Popen([sys.executable, script, name, str(self.port)],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def upstreams(tmp_path):
    script = tmp_path / "upstream.py"
    script.write_text(UPSTREAM)
    started = []

    def start(name):
        started.append(Upstream(name, str(script)))
        return started[-1]

    yield start
    for upstream in started:
        upstream.stop()


@pytest.fixture(scope="module")
def router(django_db_setup):
    """The router as the Procfile starts it; yields its port."""
    port = free_port()
    log_path = settings.PAAS_DATA_DIR / "test-logs" / f"router-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "devrouter.app:application", "--host",
             "127.0.0.1", "--port", str(port), "--no-access-log", "--no-proxy-headers"],
            cwd=BASE_DIR, env=process_env(), stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the router did not start"
                time.sleep(0.05)
        try:
            yield port
        finally:
            process.terminate()
            process.wait(10)


@pytest.fixture
def routes(committed_db):
    """route(upstream, deployment_id=1) → a fresh hostname routed there; rows removed after."""
    made = []

    def route(upstream: str, deployment_id: int | None = 1) -> str:
        hostname = f"svc-{uuid.uuid4().hex[:12]}.{settings.PAAS_APPS_DOMAIN}"
        made.append(Route.objects.create(hostname=hostname, upstream=upstream,
                                          schema_name="ws_router_test", service_id=1,
                                          deployment_id=deployment_id))
        return hostname

    yield route
    Route.objects.filter(pk__in=[row.pk for row in made]).delete()


def switch(hostname: str, upstream: str) -> None:
    Route.objects.filter(hostname=hostname).update(upstream=upstream, deployment_id=2)


@pytest.fixture
def http(router):
    with httpx.Client(base_url=f"http://127.0.0.1:{router}", timeout=10) as client:
        yield client


def test_requests_go_round_robin_to_the_routes_upstreams(http, router, routes, upstreams):
    first, second = upstreams("first"), upstreams("second")
    host = routes(f"{first.address}, {second.address}")
    spoofed = {"Host": f"{host.upper()}:{router}", "X-Forwarded-For": "6.6.6.6"}

    answers = [http.get("/some/path?q=1&r=%20", headers=spoofed).json() for _ in range(4)]

    names = [answer["name"] for answer in answers]
    assert sorted(names) == ["first", "first", "second", "second"]
    assert names[0] != names[1] and names[1] != names[2]
    seen = answers[0]
    assert seen["path"] == "/some/path?q=1&r=%20"
    assert seen["headers"]["host"] == f"{host.upper()}:{router}"
    assert seen["headers"]["x-forwarded-host"] == f"{host.upper()}:{router}"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-proto"] == "http"


def test_bodies_pass_through_whole(http, routes, upstreams):
    host = routes(upstreams("echo").address)
    payload = os.urandom(1_500_000)

    sized = http.post("/upload", content=payload, headers={"Host": host}).json()
    assert (sized["length"], sized["sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())

    def chunks():
        for start in range(0, len(payload), 100_000):
            yield payload[start:start + 100_000]

    chunked = http.post("/upload", content=chunks(), headers={"Host": host}).json()
    assert (chunked["length"], chunked["sha256"]) == (sized["length"], sized["sha256"])

    big = http.get("/big", headers={"Host": host})
    assert big.content == bytes(range(256)) * 12288


def test_unknown_host_and_route_without_deployment(http, routes):
    unknown = http.get("/", headers={"Host": "nobody-here.apps.localhost"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert "nobody-here.apps.localhost" in unknown.text

    waiting = http.get("/", headers={"Host": routes("", deployment_id=None)})
    assert waiting.status_code == 503
    assert "no active deployment" in waiting.text.lower()


def test_a_dead_upstream_is_a_bad_gateway(http, routes):
    host = routes(f"127.0.0.1:{free_port()}")
    assert http.get("/", headers={"Host": host}).status_code == 502


def test_websockets_are_refused_cleanly(http, routes, upstreams):
    host = routes(upstreams("ws").address)
    handshake = http.get("/socket", headers={
        "Host": host, "Connection": "Upgrade", "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
    })
    assert handshake.status_code == 501


class Poller:
    """A client hitting the route continuously; records every answer or failure."""

    def __init__(self, router: int, host: str) -> None:
        self.router, self.host = router, host
        self.names: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{self.router}", timeout=10) as client:
            while not self._stop.is_set():
                try:
                    response = client.get("/", headers={"Host": self.host})
                    if response.status_code == 200:
                        self.names.append(response.json()["name"])
                    else:
                        self.failures.append(f"HTTP {response.status_code}")
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))

    def __enter__(self) -> "Poller":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(20)

    def wait_for(self, name: str, count: int = 20) -> bool:
        """Until the last `count` answers came from `name`."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.names[-count:] == [name] * count:
                return True
            time.sleep(0.02)
        return False

    def wait_more(self, count: int) -> list[str]:
        """The next `count` answers."""
        start = len(self.names)
        deadline = time.monotonic() + 20
        while len(self.names) < start + count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.names[start:]


def test_a_switch_with_drain_fails_no_request(router, routes, upstreams):
    old, new = upstreams("old"), upstreams("new")
    host = routes(old.address)
    with Poller(router, host) as poller:
        assert poller.wait_for("old")
        switch(host, new.address)
        assert poller.wait_for("new")  # the drain: the old one serves until nothing uses it
        old.stop()
        after = poller.wait_more(50)
    assert poller.failures == []
    assert after == ["new"] * len(after) and len(after) >= 50


def test_a_request_meeting_a_stopped_upstream_is_retried_on_the_new_route(http, routes,
                                                                         upstreams):
    host = routes(f"127.0.0.1:{free_port()}")  # nothing listens there
    assert http.get("/", headers={"Host": host}).status_code == 502  # the route is cached now
    switch(host, upstreams("new").address)
    answer = http.get("/", headers={"Host": host})  # within the cache's half second
    assert (answer.status_code, answer.json()["name"]) == (200, "new")


def test_an_upstream_stopped_before_the_router_noticed_the_switch_fails_no_request(
        router, routes, upstreams):
    old, new = upstreams("old"), upstreams("new")
    host = routes(old.address)
    with Poller(router, host) as poller:
        assert poller.wait_for("old")
        switch(host, new.address)
        old.stop()  # at once, while the router still has the old route cached
        assert poller.wait_for("new", count=50)
    assert poller.failures == []
    assert poller.names.count("old") >= 20
