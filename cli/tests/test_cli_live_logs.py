"""`paas logs -f` and the follow of `up`/`deploy`/`rollback` against the panel under uvicorn:
lines written after the command started are printed live (over the API's WebSocket), in
order and once, across a restart of the panel; a deployment's log ends the command when the
deployment is over (exit 0 live, 1 failed); Ctrl-C ends it cleanly; and a panel without the
API's sockets is polled instead."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from types import SimpleNamespace

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from api.models import ApiToken
from api.tokens import create_token
from cli import deploys
from cli.client import Api
from cli.config import LINK_FILE, Link
from conftest import BASE_DIR, free_port, start_panel
from deployments.models import Deployment, Status
from deployments.tests import test_log_consumers as page_sockets

world = page_sockets.world  # workspace A: services web and worker, an active deployment each
write = page_sockets.write


@pytest.fixture
def token(world):
    row, token = create_token(world["people"].workspace_a, world["people"].member, "cli", 7)
    yield token
    ApiToken.objects.filter(pk=row.pk).delete()


def panel_fixture(world, app: str = "config.asgi:application"):
    port = free_port()
    log = settings.PAAS_DATA_DIR / "test-logs" / f"uvicorn-{port}.log"
    log.unlink(missing_ok=True)  # an earlier run's on this port
    processes = [start_panel(port, app)]

    def restart(meanwhile) -> None:
        """Stop the panel, call `meanwhile`, start it again on the same port."""
        processes[-1].terminate()
        processes[-1].wait(10)
        meanwhile()
        processes.append(start_panel(port, app))

    try:
        yield SimpleNamespace(url=f"http://{world['people'].workspace_a.hostname}:{port}",
                              restart=restart, log=log)
    finally:
        processes[-1].terminate()
        processes[-1].wait(10)


@pytest.fixture
def panel(world):
    yield from panel_fixture(world)


@pytest.fixture
def old_panel(world):
    """A panel without the API's sockets (cli/tests/old_panel.py)."""
    yield from panel_fixture(world, "cli.tests.old_panel:application")


def linked(directory, panel, world) -> None:
    """`paas link` done: .paas.json of the web service."""
    service = world["web"].service
    link = Link(panel.url, world["people"].workspace_a.slug, world["a"].pk,
                world["environment"].pk, service.pk, "web")
    (directory / LINK_FILE).write_text(json.dumps(asdict(link)))


class Paas:
    """A `paas` command running; its output lines as they come."""

    def __init__(self, directory, token: str, *args: str) -> None:
        environment = {key: value for key, value in os.environ.items()
                       if not key.startswith("PAAS_")}
        environment.update({"XDG_CONFIG_HOME": str(directory / "config"), "NO_COLOR": "1",
                            "PYTHONPATH": str(BASE_DIR), "PAAS_TOKEN": token})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", *args], cwd=directory, env=environment,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_lines(self, count: int, timeout: float = 20) -> list[str]:
        deadline, lines = time.monotonic() + timeout, []
        while len(lines) < count:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            lines.append(line)
        return lines

    def nothing_more(self, wait: float = 1.5) -> bool:
        try:
            self.lines.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def interrupt(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        return self.finished()

    def finished(self, timeout: float = 20) -> tuple[int, str]:
        code = self.process.wait(timeout)
        return code, self.process.stderr.read()


def socket_open(panel, timeout: float = 20) -> None:
    """Wait until the panel has accepted a WebSocket (its access log says so)."""
    deadline = time.monotonic() + timeout
    while "[accepted]" not in panel.log.read_text():
        assert time.monotonic() < deadline, "no WebSocket was accepted"
        time.sleep(0.1)


def new_deployment(world, number: int, *statuses: Status) -> Deployment:
    with tenant_context(world["people"].workspace_a):
        deployment = Deployment.objects.create(service=world["web"].service, number=number)
        for status in statuses:
            deployment.transition(status)
        return deployment


def move(world, deployment: Deployment, status: Status, reason: str = "") -> None:
    with tenant_context(world["people"].workspace_a):
        Deployment.objects.get(pk=deployment.pk).transition(status, reason=reason)


def test_logs_follow_prints_lines_as_they_are_written_until_interrupted(
        world, panel, token, tmp_path):
    a, web = world["people"].workspace_a, world["web"]
    linked(tmp_path, panel, world)
    write(a, web, ["old 1", "old 2", "old 3"])
    paas = Paas(tmp_path, token, "logs", "-f", "-n", "2")
    assert paas.next_lines(2) == ["old 2", "old 3"]
    for n in range(1, 6):
        write(a, web, [f"live {n}"])
    assert paas.next_lines(5) == [f"live {n}" for n in range(1, 6)]
    # A redeploy: the new deployment's output follows, another service's does not.
    second = new_deployment(world, 2, Status.BUILDING, Status.DEPLOYING)
    write(a, second, ["built"], stream="build")
    write(a, world["worker"], ["another service"])
    write(a, second, ["the new one listening"], stream="stderr")
    assert paas.next_lines(1) == ["the new one listening"]
    assert paas.nothing_more()
    code, stderr = paas.interrupt()
    assert code == 130 and "Traceback" not in stderr, stderr
    # It was the live socket, not polling.
    assert f'"WebSocket /api/v1/ws/services/{web.service_id}/logs/" [accepted]' in \
        panel.log.read_text()


def test_a_filter_picks_the_lines_of_the_log_and_of_the_live_stream(
        world, panel, token, tmp_path):
    """`--filter '@level:error'` (the log views' language): only error lines, stored and
    live; `--since` leaves out what is older."""
    a, web = world["people"].workspace_a, world["web"]
    linked(tmp_path, panel, world)
    write(a, web, ['{"level": "error", "msg": "disk full"}', "plain",
                   '{"level": "info", "msg": "ok"}'])
    paas = Paas(tmp_path, token, "logs", "-f", "--filter", "@level:error", "--since", "1h")
    assert paas.next_lines(1) == ['{"level": "error", "msg": "disk full"}']
    write(a, web, ["quiet", '{"level": "error", "msg": "again"}', '{"level": "warn"}'])
    assert paas.next_lines(1) == ['{"level": "error", "msg": "again"}']
    assert paas.nothing_more()
    code, stderr = paas.interrupt()
    assert code == 130 and "Traceback" not in stderr, stderr

    future = Paas(tmp_path, token, "logs", "--since", "2999-01-01T00:00:00+00:00")
    code, stderr = future.finished()
    assert code == 0 and future.next_lines(1) == [], stderr


def test_logs_follow_goes_on_across_a_restart_of_the_panel(world, panel, token, tmp_path):
    a, web = world["people"].workspace_a, world["web"]
    linked(tmp_path, panel, world)
    paas = Paas(tmp_path, token, "logs", "-f", "--json")
    write(a, web, [f"before {n}" for n in range(3)])
    received = [json.loads(line) for line in paas.next_lines(3)]
    panel.restart(lambda: write(a, web, [f"while down {n}" for n in range(3)]))
    write(a, web, [f"after {n}" for n in range(3)])
    received += [json.loads(line) for line in paas.next_lines(6, timeout=40)]
    assert [line["sequence"] for line in received] == list(range(1, 10))
    assert [line["text"] for line in received[3:]] == [
        *(f"while down {n}" for n in range(3)), *(f"after {n}" for n in range(3))]
    assert set(received[0]) == {"deployment", "sequence", "stream", "phase", "timestamp",
                                "text", "level"}
    assert paas.nothing_more()
    code, stderr = paas.interrupt()
    assert code == 130 and "Traceback" not in stderr, stderr


def test_a_build_log_followed_ends_when_the_deployment_is_over(world, panel, token, tmp_path):
    a = world["people"].workspace_a
    linked(tmp_path, panel, world)
    deployment = new_deployment(world, 2)
    paas = Paas(tmp_path, token, "logs", "-f", "--build", "--json",
                "--deployment", str(deployment.pk))
    assert paas.nothing_more(1.0)  # queued: nothing yet, and still running
    move(world, deployment, Status.BUILDING)
    write(a, deployment, ["npm ci", "npm run build"], stream="build")
    move(world, deployment, Status.DEPLOYING)
    write(a, deployment, ["starting"], stream="deploy")
    write(a, deployment, ["listening on 3000"], stream="stdout")  # runtime: not a build line
    write(a, deployment, ["healthy"], stream="deploy")
    move(world, deployment, Status.ACTIVE)
    code, stderr = paas.finished()
    assert code == 0, stderr
    lines = [json.loads(line) for line in paas.next_lines(10, timeout=1)]
    assert [(line["sequence"], line["text"]) for line in lines] == [
        (1, "npm ci"), (2, "npm run build"), (3, "starting"), (5, "healthy")]


@pytest.mark.parametrize("outcome", [Status.ACTIVE, Status.FAILED])
def test_following_a_deployment_prints_its_log_and_says_how_it_ended(
        world, panel, token, outcome, capfd):
    """What `up`, `deploy` and `rollback` do once the deployment exists."""
    a = world["people"].workspace_a
    deployment = new_deployment(world, 2)
    api = Api(panel.url, token)
    result = {}
    started = {"id": deployment.pk, "number": 2, "status": "queued",
               "service": world["web"].service.pk}
    thread = threading.Thread(target=lambda: result.update(
        code=deploys.follow(api, started, as_json=False)))
    thread.start()
    try:
        time.sleep(1.0)
        move(world, deployment, Status.BUILDING)
        write(a, deployment, [f"step {n}" for n in range(1, 201)], stream="build")
        move(world, deployment, Status.DEPLOYING)
        write(a, deployment, ["starting"], stream="deploy")
        if outcome == Status.ACTIVE:
            move(world, deployment, Status.ACTIVE)
        else:
            move(world, deployment, Status.FAILED, reason="health check timed out")
        thread.join(20)
    finally:
        api.close()
    assert not thread.is_alive()
    out, err = capfd.readouterr()
    printed = out.splitlines()
    assert printed[:201] == [*(f"step {n}" for n in range(1, 201)), "starting"]
    if outcome == Status.ACTIVE:
        assert result["code"] == 0 and printed[201:] == ["#2 is live."]
    else:
        assert result["code"] == 1 and printed[201:] == []
        assert "#2 failed: health check timed out" in err
    assert f'"WebSocket /api/v1/ws/deployments/{deployment.pk}/logs/" [accepted]' in \
        panel.log.read_text()


def test_a_panel_without_the_sockets_is_polled(world, old_panel, token, tmp_path):
    a, web = world["people"].workspace_a, world["web"]
    linked(tmp_path, old_panel, world)
    paas = Paas(tmp_path, token, "logs", "-f")
    write(a, web, ["polled 1", "polled 2"])
    assert paas.next_lines(2) == ["polled 1", "polled 2"]
    code, stderr = paas.interrupt()
    assert code == 130 and "Traceback" not in stderr, stderr

    deployment = new_deployment(world, 2, Status.BUILDING)
    write(a, deployment, ["compiling"], stream="build")
    paas = Paas(tmp_path, token, "logs", "-f", "--build", "--deployment", str(deployment.pk))
    assert paas.next_lines(1) == ["compiling"]
    write(a, deployment, ["compiled"], stream="build")
    move(world, deployment, Status.FAILED, reason="exit 1")
    code, stderr = paas.finished()
    assert code == 0, stderr
    assert paas.next_lines(5, timeout=1) == ["compiled"]
    assert "[accepted]" not in old_panel.log.read_text()


def test_a_token_revoked_while_following_ends_the_command(world, panel, token, tmp_path):
    a, web = world["people"].workspace_a, world["web"]
    linked(tmp_path, panel, world)
    paas = Paas(tmp_path, token, "logs", "-f")
    socket_open(panel)
    write(a, web, ["seen"])
    assert paas.next_lines(1) == ["seen"]
    ApiToken.objects.get(prefix=token[:11]).revoke()
    code, stderr = paas.finished(timeout=15)
    assert code == 1 and stderr.startswith("error: 401 "), stderr
    assert stderr.count("\n") == 1

