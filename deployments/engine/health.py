"""Health checks of a new release: HTTP 2xx on the service's path, or a listening port."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable

from projects.validators import validate_healthcheck_path

CONNECT_TIMEOUT = 2.0
FAST_INTERVAL, FAST_POLLS, SLOW_INTERVAL = 0.02, 150, 0.25


def port_listens(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return True
    except OSError:
        return False


def http_status(port: int, path: str, domain: str = "") -> int | None:
    """The status of GET `path` on the port, or None when nothing answers. `domain` is sent as
    the Host (apps that check their host name, like Django's ALLOWED_HOSTS, expect theirs)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CONNECT_TIMEOUT)
    headers = {"User-Agent": "paas-healthcheck", "Connection": "close"}
    if domain:
        headers["Host"] = domain
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def probe(port: int, path: str, domain: str = "") -> tuple[bool, str]:
    """One check: (healthy, what was seen)."""
    if not path:
        return (True, "port is listening") if port_listens(port) else (False, "not listening")
    status = http_status(port, path, domain)
    if status is None:
        return False, "no answer"
    return 200 <= status < 300, f"HTTP {status}"


def checked_path(path: str) -> str:
    """The service's healthcheck path, checked again before use (it came from the database)."""
    if path:
        validate_healthcheck_path(path)
    return path


def wait_healthy(ports: list[int], path: str, *, wait: Callable[[float], None],
                 deadline: Callable[[], bool], alive: Callable[[], str | None],
                 domain: str = "") -> tuple[bool, str]:
    """Poll every port until all are healthy, the deadline passes, or `alive` reports that a
    process died (returns its message). Returns (healthy, the last observation)."""
    pending = list(ports)
    seen = "not checked"
    polls = 0
    while pending:
        problem = alive()
        if problem:
            return False, problem
        port = pending[0]
        healthy, seen = probe(port, path, domain)
        if healthy:
            pending.pop(0)
            continue
        if deadline():
            return False, f"port {port}: {seen}"
        # Every 20 ms for the first seconds (apps usually come up then), then every 250 ms.
        polls += 1
        wait(FAST_INTERVAL if polls < FAST_POLLS else SLOW_INTERVAL)
    return True, seen
