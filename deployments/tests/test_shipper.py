"""The log shipper (`manage.py ship_logs`): what deployed processes print reaches their
deployment's log, by stream, masked, exactly once across its own restarts, rotations and
PM2's restarts; files it has no business reading are left alone. Real PM2, PostgreSQL, Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from conftest import BASE_DIR, process_env
from deployments.engine import launch, pm2, pm2_daemon, releases
from deployments.models import Deployment, LogLine, Phase, Status, Stream
from deployments.snapshots import store_snapshot
from deployments.tests import sample_apps
from deployments.tests.engine import (
    deploy,
    make_service,
    remove_everything,
    set_variable,
    settle,
    wait_for,
)
from hosting.models import LogCursor
from projects.models import Service
from projects.services import create_project, create_service

SECRET = "sh1pp3r-secret-value"

# Prints `<prefix><n>` for n = 1..COUNT (RATE lines a second, in bursts of BURST), then
# sleeps; a run after a restart goes on from where the last one stopped (its own file).
COUNTER_APP = """\
import os, sys, time
count, rate, burst = (int(os.environ[k]) for k in ("COUNT", "RATE", "BURST"))
state = os.environ["STATE_FILE"]
start = int(open(state).read() or 0) + 1 if os.path.exists(state) else 1
stream = sys.stderr if os.environ.get("STREAM") == "err" else sys.stdout
began = time.monotonic()
for n in range(start, count + 1):
    stream.write(f"{os.environ.get('PREFIX', '')}{n}\\n")
    if n % burst == 0 or n == count:
        stream.flush()
        with open(state, "w") as out:
            out.write(str(n))
        ahead = (n - start + 1) / rate - (time.monotonic() - began)
        if ahead > 0:
            time.sleep(ahead)
time.sleep(86400)
"""


@pytest.fixture
def ws(committed_db: object) -> Iterator[object]:
    workspace = committed_db.workspace_a
    yield workspace
    remove_everything(workspace)


@pytest.fixture
def service(ws: object) -> Service:
    with tenant_context(ws):
        project = create_project(f"Shipper {time.time_ns()}")
        return create_service(project.environments.get(), "api")


def new_deployment(ws: object, service: Service, variables: dict | None = None) -> Deployment:
    with tenant_context(ws):
        number = Deployment.objects.filter(service=service).count() + 1
        deployment = Deployment.objects.create(service=service, number=number,
                                               status=Status.ACTIVE)
        store_snapshot(deployment, variables or {})
        return Deployment.objects.select_related("service").get(pk=deployment.pk)


def log_files(ws: object, deployment: Deployment, kind: str = "web") -> tuple[Path, Path]:
    with tenant_context(ws):
        return releases.log_files(releases.log_dir_for(deployment), kind, 0)


def start_counter(ws: object, deployment: Deployment, tmp_path: Path, *, count: int,
                  rate: int = 2000, burst: int = 20, stream: str = "out", prefix: str = "",
                  kind: str = "web", policy: str = "never") -> pm2.AppSpec:
    script = tmp_path / "counter.py"
    script.write_text(COUNTER_APP)
    out_file, err_file = log_files(ws, deployment, kind)
    with tenant_context(ws):
        name = launch.process_name(deployment, kind, 0)
    spec = pm2.AppSpec(
        name=name, argv=["python3", str(script)], cwd=tmp_path,
        env={"PATH": settings.PAAS_APP_PATH, "PAAS_DEPLOYMENT_ID": str(deployment.pk),
             "COUNT": str(count), "RATE": str(rate), "BURST": str(burst), "STREAM": stream,
             "PREFIX": prefix, "STATE_FILE": str(tmp_path / f"{kind}.state")},
        restart_policy=policy, max_restarts=0, out_file=out_file, err_file=err_file)
    pm2.start([spec])
    return spec


@contextmanager
def running_shipper(**env: str) -> Iterator[subprocess.Popen]:
    log_path = Path(BASE_DIR) / ".data" / "test-logs" / f"shipper-{time.time_ns()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "ship_logs"], cwd=BASE_DIR, env=process_env(**env),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def stopped(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(20)


def stored(ws: object, deployment: Deployment) -> list[tuple[str, str, str]]:
    """(stream, phase, text) of the deployment's lines, in order."""
    with tenant_context(ws):
        return list(LogLine.objects.filter(deployment_id=deployment.pk).order_by("sequence")
                    .values_list("stream", "phase", "text"))


def texts(ws: object, deployment: Deployment, stream: str = Stream.STDOUT) -> list[str]:
    return [text for line_stream, _, text in stored(ws, deployment) if line_stream == stream]


def wait_for_lines(ws: object, deployment: Deployment, count: int, timeout: float = 30.0,
                   stream: str = Stream.STDOUT) -> list[str]:
    wait_for(lambda: len(texts(ws, deployment, stream)) >= count, timeout, interval=0.1)
    return texts(ws, deployment, stream)


def numbers(count: int, prefix: str = "") -> list[str]:
    return [f"{prefix}{n}" for n in range(1, count + 1)]


def test_a_deployed_apps_stdout_and_stderr_reach_its_log_masked(committed_db, worker,
                                                                 tmp_path):
    ws = committed_db.workspace_a
    repo = sample_apps.make_repo(tmp_path, "chatty", {
        "Procfile": ('web: echo "web up with $API_TOKEN"; echo "web warns" >&2; '
                     'exec python3 -m http.server "$PORT" --bind 127.0.0.1\n'
                     'worker: echo "worker 1"; echo "worker oops" >&2; echo "worker 2"; '
                     "exec sleep 86400\n"),
    })
    service = make_service(ws, repo, name="chatty")
    set_variable(ws, service, "API_TOKEN", SECRET)
    try:
        with running_shipper():
            deployment = settle(ws, deploy(ws, service))
            assert deployment.status == Status.ACTIVE, deployment.error_reason
            wait_for(lambda: len([1 for _, phase, _ in stored(ws, deployment)
                                  if phase == Phase.RUNTIME]) >= 5, 15)
        log = stored(ws, deployment)
    finally:
        remove_everything(ws)
    runtime = [(stream, text) for stream, phase, text in log if phase == Phase.RUNTIME]
    assert ("stdout", "web up with *****") in runtime
    assert ("stderr", "web warns") in runtime
    assert ("stderr", "worker oops") in runtime
    # Within a stream, in the order printed.
    assert [text for stream, text in runtime
            if stream == "stdout" and text.startswith("worker")] == ["worker 1", "worker 2"]
    assert not any(SECRET in text for _, _, text in log)


def test_killed_and_started_again_it_stores_every_line_once(ws, service, tmp_path):
    deployment = new_deployment(ws, service, {"API_TOKEN": SECRET})
    count = 12_000
    start_counter(ws, deployment, tmp_path, count=count, rate=2000, prefix=f"{SECRET} ")
    for _ in range(3):
        before = len(texts(ws, deployment))
        with running_shipper() as shipper:
            wait_for(lambda before=before: len(texts(ws, deployment)) > before + 200, 15,
                     interval=0.02)
            shipper.send_signal(signal.SIGKILL)  # in the middle of the stream
            shipper.wait()
    with running_shipper() as shipper:
        lines = wait_for_lines(ws, deployment, count)
        assert stopped(shipper) == 0
    assert lines == numbers(count, "***** ")
    # What it had read is where it left off: its cursors say the whole file.
    out_file, _ = log_files(ws, deployment)
    assert LogCursor.objects.get(host_name=settings.PAAS_HOST_NAME, path=str(out_file),
                                 inode=out_file.stat().st_ino).offset == out_file.stat().st_size


def disk_use(path: Path) -> int:
    return path.stat().st_blocks * 512


def test_rotation_under_continuous_writing_loses_nothing(ws, service, tmp_path):
    deployment = new_deployment(ws, service)
    count = 20_000
    with running_shipper(PAAS_LOG_FILE_MAX_BYTES="30000"):
        start_counter(ws, deployment, tmp_path, count=count, rate=5000, prefix="out ")
        start_counter(ws, deployment, tmp_path, count=count, rate=5000, prefix="err ",
                      stream="err", kind="worker")
        lines = wait_for_lines(ws, deployment, count)
        errors = wait_for_lines(ws, deployment, count, stream=Stream.STDERR)
        time.sleep(0.3)  # the last batch's cursor, then its punch
    assert lines == numbers(count, "out ")
    assert errors == numbers(count, "err ")
    # What was stored no longer takes disk space: a few blocks past the limit at most.
    out_file, _ = log_files(ws, deployment)
    _, err_file = log_files(ws, deployment, "worker")
    for path in (out_file, err_file):
        assert path.stat().st_size > 150_000
        assert disk_use(path) < 30_000 + 3 * 4096
    assert not list(out_file.parent.glob("*.1"))


def test_rotation_by_renaming_loses_no_stdout(ws, service, tmp_path):
    """Where holes cannot be punched: renamed aside, PM2 reopens, the old file is read to its
    end and removed. (PM2's reopening drops stderr written meanwhile: not asserted here.)"""
    deployment = new_deployment(ws, service)
    count = 20_000
    out_file, _ = log_files(ws, deployment)
    with running_shipper(PAAS_LOG_FILE_MAX_BYTES="30000", PAAS_LOG_ROTATION="rename"):
        start_counter(ws, deployment, tmp_path, count=count, rate=5000, prefix="out ")
        lines = wait_for_lines(ws, deployment, count)
        assert wait_for(lambda: not list(out_file.parent.glob("*.1")), 5)
    assert lines == numbers(count, "out ")
    assert out_file.stat().st_size < 60_000  # a new file since the last rotation
    assert len("\n".join(lines)) > 5 * 30_000  # which happened several times


def test_pm2_restarts_of_the_app_and_of_the_daemon_lose_and_repeat_nothing(ws, service,
                                                                           tmp_path):
    deployment = new_deployment(ws, service)
    count = 6000
    with running_shipper():
        spec = start_counter(ws, deployment, tmp_path, count=count, rate=3000, burst=10)
        wait_for(lambda: len(texts(ws, deployment)) > 1000, 15, interval=0.05)
        pm2.restart([spec.name])  # the panel's Restart
        wait_for(lambda: len(texts(ws, deployment)) > 3000, 15, interval=0.05)
        pm2.save()
        os.kill(pm2_daemon.daemon_pid(), signal.SIGKILL)  # the daemon dies...
        wait_for(lambda: not pm2.daemon_running(), 10)
        pm2.resurrect()  # ...and the monitor brings it back
        # The counter goes on from where its runs got (a line cut by the kills is lost by
        # the app, not by the shipper): the stored lines are the file's, once each.
        assert wait_for(lambda: (tmp_path / "web.state").read_text() == str(count), 30)
        out_file, _ = log_files(ws, deployment)
        written = out_file.read_text().splitlines()
        lines = wait_for_lines(ws, deployment, len(written))
    assert lines == written
    assert lines[-1] == str(count) and len(lines) >= count - 100


def test_a_line_without_its_newline_is_stored_after_a_moment(ws, service):
    deployment = new_deployment(ws, service)
    out_file, _ = log_files(ws, deployment)
    with running_shipper():
        with open(out_file, "ab", buffering=0) as out:
            out.write(b"whole\nhalf a li")
            assert wait_for_lines(ws, deployment, 2, timeout=10) == ["whole", "half a li"]
            out.write(b"ne\n")
            assert wait_for_lines(ws, deployment, 3) == ["whole", "half a li", "ne"]


def test_files_of_gone_deployments_and_planted_links_are_left_alone(ws, service, tmp_path):
    kept = new_deployment(ws, service)
    gone = new_deployment(ws, service)
    kept_out, _ = log_files(ws, kept)
    gone_out, _ = log_files(ws, gone)
    gone_out.write_text("of a deployment since deleted\n")
    with tenant_context(ws):
        Deployment.objects.filter(pk=gone.pk).delete()
    # Never made by the panel: links to a file and to a directory outside the tree (named
    # as a deployment's), a directory of a deployment that never was.
    victim = new_deployment(ws, service)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "web-0.out.log").write_text("planted outside\n")
    (kept_out.parent / "web-1.out.log").symlink_to(outside / "web-0.out.log")
    (kept_out.parent.parent / str(victim.pk)).symlink_to(outside)
    (kept_out.parent.parent / "999999").mkdir()
    (kept_out.parent.parent / "999999" / "web-0.out.log").write_text("nobody's\n")
    with running_shipper() as shipper:
        kept_out.write_text("first\n")
        assert wait_for_lines(ws, kept, 1) == ["first"]
        # A file that vanishes (its service deleted) is no trouble either.
        with open(kept_out, "a") as out:
            out.write("second\n")
        assert wait_for_lines(ws, kept, 2) == ["first", "second"]
        kept_out.unlink()
        time.sleep(1.5)
        assert shipper.poll() is None
        kept_out.write_text("third\n")  # a new file at the same path: read from its start
        assert wait_for_lines(ws, kept, 3) == ["first", "second", "third"]
        assert stopped(shipper) == 0
    assert texts(ws, kept) == ["first", "second", "third"]
    assert stored(ws, victim) == []
    with tenant_context(ws):
        assert not LogLine.objects.filter(deployment_id=gone.pk).exists()
        assert not LogLine.objects.filter(text__in=["planted outside", "nobody's"]).exists()


def test_pm2s_own_log_is_kept_small(settings, tmp_path):
    settings.PAAS_PM2_HOME = tmp_path
    log = tmp_path / "pm2.log"
    log.write_text("x" * 2000)
    assert not pm2_daemon.trim_daemon_log(4000)
    with open(log, "a") as daemon:  # the daemon's own descriptor, in append mode
        daemon.write("y" * 3000)
        daemon.flush()
        assert pm2_daemon.trim_daemon_log(4000)
        daemon.write("after\n")
    assert log.read_text() == "after\n"
    assert (tmp_path / "pm2.log.1").stat().st_size == 5000
