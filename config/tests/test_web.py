"""The web process (`python -m config.web`, as production and `make run` start it): its workers
listen on sockets of their own, a dead one is replaced, and SIGTERM stops them all."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from django.conf import settings

from config import web
from conftest import BASE_DIR, free_port, process_env


def workers_of(pid: int) -> set[int]:
    """The worker processes started by `pid` (not multiprocessing's resource tracker)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    spawned = b"spawn_main" in cmdline.read()
            except OSError:
                continue
            if parent == pid and spawned:
                found.add(int(entry))
    return found


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.1)


def login_page(port: int) -> int:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        client.request("GET", "/login/", headers={"Host": f"{settings.PAAS_DOMAIN}:{port}"})
        return client.getresponse().status
    finally:
        client.close()


def test_two_workers_a_socket_each_a_dead_one_replaced_and_all_stopped_on_sigterm(
        committed_db):
    port = free_port()
    log_path = settings.PAAS_DATA_DIR / "test-logs" / f"web-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "config.web", "--no-access-log"], cwd=BASE_DIR,
            env=process_env(PANEL_PORT=str(port), PAAS_WEB_WORKERS="2"), stdout=log,
            stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: web.listening_sockets(port) == 2, "two listening workers")
        assert login_page(port) == 200
        first = workers_of(process.pid)
        assert len(first) == 2

        os.kill(next(iter(first)), signal.SIGKILL)
        wait_for(lambda: len(workers_of(process.pid) - first) == 1, "a new worker")
        wait_for(lambda: web.listening_sockets(port) == 2, "two listening workers again")
        assert login_page(port) == 200
        workers = workers_of(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    assert process.returncode == 0
    wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in workers),
             "the workers to exit", timeout=10)
    assert web.listening_sockets(port) == 0
