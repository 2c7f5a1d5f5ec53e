"""The deploy engine against the same steps done by hand, rollback time, and zero downtime.

A temporary database (`bench_deploy`), a temporary apps directory with its own PM2 daemon, a
real Dramatiq worker and the development router. The sample Node app (deployments.tests.
sample_apps) gets a real dependency, express, locked from the npm registry (the same registry
the machine installs from; without it the app stays dependency-free and the figure says so).

- `deploy_vs_manual_ratio`: trigger-to-healthy through the engine (trigger_deployment → the
  deployment is active and its port answers 200) against, in the same run and alternating,
  the same steps by hand: `git clone --depth 1`, `npm ci` (a warm cache of its own, as the
  engine's per-service cache is), `npm start`, first HTTP 200. BENCH_DEPLOY_ROUNDS (7) rounds
  after one untimed warm-up of each; medians.
- `rollback_seconds`: rollback() to serving (the router answers from the rollback's
  deployment); median of BENCH_ROLLBACK_ROUNDS (3).
- `build_warm_vs_cold_cache_ratio`: the build step (npm ci) of the rounds against the first
  build of the service, whose npm cache was empty.
- `redeploy_failed_requests`: a client polls the service's URL through the router during every
  round; every answer that is not HTTP 200 from the app counts (sum over all rounds).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from benchmarks._database import temporary_database
from deployments.engine import accounts, pm2
from deployments.models import Deployment, Status
from deployments.services import rollback, trigger_deployment
from deployments.tasks import this_host
from deployments.tests import sample_apps
from projects.domains import public_domain
from projects.services import create_project, create_service
from tenants.models import User
from tenants.services import create_workspace

BENCH_DATABASE = "bench_deploy"
ROUNDS = int(os.environ.get("BENCH_DEPLOY_ROUNDS", "7"))
ROLLBACK_ROUNDS = int(os.environ.get("BENCH_ROLLBACK_ROUNDS", "3"))
BASE_DIR = Path(__file__).resolve().parent.parent
PORT_RANGE = (31000, 31999)
EXPRESS = "express@4.21.2"
MANUAL_PHASES: dict[str, list[float]] = {"clone": [], "npm ci": []}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, host: str | None = None, timeout: float = 5.0) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/")
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def answers(port: int) -> bool:
    try:
        return http_get(port, timeout=2)[0] == 200
    except OSError:
        return False


def wait(predicate: Callable[[], object], timeout: float = 120.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError("the benchmark waited too long")


def database_url() -> str:
    params = connection.settings_dict
    host = quote(params["HOST"] or "", safe="")
    port = f":{params['PORT']}" if params.get("PORT") else ""
    password = f":{quote(params['PASSWORD'])}" if params.get("PASSWORD") else ""
    return f"postgres://{params['USER']}{password}@{host}{port}/{params['NAME']}"


def app_repository(root: Path) -> tuple[str, str]:
    """The sample Node app with express locked from the registry, as a bare repository."""
    files = dict(sample_apps.NODE_APP)
    work = root / "lock"
    work.mkdir()
    (work / "package.json").write_text(files["package.json"])
    result = subprocess.run(
        ["npm", "install", "--package-lock-only", "--no-audit", "--no-fund", EXPRESS],
        cwd=work, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "npm_config_cache": str(root / "lock-cache")},
    )
    app = "node + express"
    if result.returncode == 0:
        files["package.json"] = (work / "package.json").read_text()
        files["package-lock.json"] = (work / "package-lock.json").read_text()
    else:
        app = "node without dependencies (the npm registry was not reachable)"
    return sample_apps.make_repo(root, "bench-app", files), app


@contextmanager
def background(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "w") as output:
        process = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
            _wait_for_group(process.pid)


def _wait_for_group(group: int, timeout: float = 20.0) -> None:
    """Until no process of the group is left (a server's workers may outlive their parent by
    a moment, holding database sessions), then kill what remains."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Poller:
    """A client of the service's URL through the router, 20 requests a second."""

    def __init__(self, router_port: int, host: str) -> None:
        self.router_port, self.host = router_port, host
        self.failures: list[str] = []
        self.requests = 0
        self.active = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.active.is_set():
                self.requests += 1
                try:
                    status, _ = http_get(self.router_port, self.host)
                    if status != 200:
                        self.failures.append(f"HTTP {status}")
                except OSError as error:
                    self.failures.append(repr(error))
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def manual_deploy(repo: str, work: Path, cache: Path, path: str) -> float:
    """Clone, npm ci, npm start, first HTTP 200: the engine's steps by hand."""
    target = work / f"manual-{time.time_ns()}"
    port = free_port()
    env = {"PATH": path, "HOME": str(cache), "npm_config_cache": str(cache / "npm"),
           "npm_config_prefer_offline": "true", "npm_config_audit": "false",
           "npm_config_fund": "false", "npm_config_update_notifier": "false", "PORT": str(port),
           "LANG": "C.UTF-8"}
    started = time.perf_counter()
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", f"file://{repo}", str(target)],
                   env=env, check=True, capture_output=True)
    MANUAL_PHASES["clone"].append(time.perf_counter() - started)
    subprocess.run(["npm", "ci"], cwd=target, env=env, check=True, capture_output=True)
    MANUAL_PHASES["npm ci"].append(time.perf_counter() - started - MANUAL_PHASES["clone"][-1])
    server = subprocess.Popen(["npm", "start"], cwd=target, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait(lambda: answers(port))
        return time.perf_counter() - started
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        shutil.rmtree(target, ignore_errors=True)


def engine_deploy(workspace: object, service: object) -> tuple[float, object]:
    started = time.perf_counter()
    with tenant_context(workspace):
        deployment = trigger_deployment(service, triggered_by="benchmark")

    # Light polling (the database every 100 ms until a port is known, then the port), so that
    # the measuring does not compete with the build for the two cores.
    def port_known() -> object:
        with tenant_context(workspace):
            fresh = Deployment.objects.get(pk=deployment.pk)
        if fresh.status in (Status.FAILED, Status.CANCELLED):
            raise RuntimeError(f"the benchmark deployment failed: {fresh.error_reason}")
        return fresh.port

    port = None
    while port is None:
        port = port_known()
        if port is None:
            time.sleep(0.1)
    wait(lambda: answers(port))
    elapsed = time.perf_counter() - started

    def active() -> bool:
        with tenant_context(workspace):
            return Deployment.objects.get(pk=deployment.pk).status == Status.ACTIVE

    wait(active, interval=0.1)
    with tenant_context(workspace):
        return elapsed, Deployment.objects.get(pk=deployment.pk)


def rollback_to(workspace: object, target: object, router_port: int, host: str) -> float:
    started = time.perf_counter()
    with tenant_context(workspace):
        new = rollback(target, triggered_by="benchmark")

    def serving() -> bool:
        try:
            status, body = http_get(router_port, host, timeout=2)
        except OSError:
            return False
        return status == 200 and json.loads(body).get("deployment") == str(new.pk)

    wait(serving)
    return time.perf_counter() - started


def run() -> dict[str, dict]:
    root = Path(tempfile.mkdtemp(prefix="paas-bench-deploy-"))
    root.chmod(0o711)  # with isolation, the workspace's user goes through it to its release
    saved = {name: getattr(settings, name) for name in
             ("PAAS_APPS_DIR", "PAAS_PM2_HOME", "PAAS_PORT_RANGE", "PAAS_DRAIN_SECONDS",
              "PAAS_TRAEFIK_POLL_SECONDS", "PAAS_WORKSPACE_UIDS")}
    settings.PAAS_APPS_DIR = root / "apps"
    settings.PAAS_PM2_HOME = settings.PAAS_APPS_DIR / "pm2"
    settings.PAAS_PORT_RANGE = PORT_RANGE
    settings.PAAS_DRAIN_SECONDS = 2.0
    settings.PAAS_TRAEFIK_POLL_SECONDS = 0.0  # the development router, not Traefik
    settings.PAAS_WORKSPACE_UIDS = (3_800_000, 3_800_999)  # the benchmark's own users
    try:
        repo, app = app_repository(root)
        with temporary_database(BENCH_DATABASE):
            call_command("migrate_template", verbosity=0)
            owner = User.objects.create_user("bench@example.com", "x" * 20)
            workspace = create_workspace("bench", "Bench", owner)
            with tenant_context(workspace):
                project = create_project("Bench")
                service = create_service(project.environments.get(), "web",
                                         repository_url=repo)
                host = public_domain(service)
            env = {**os.environ, "DATABASE_URL": database_url(),
                   "PAAS_APPS_DIR": str(settings.PAAS_APPS_DIR),
                   "PAAS_PORT_RANGE": "-".join(map(str, PORT_RANGE)),
                   "PAAS_DRAIN_SECONDS": "2", "PAAS_TRAEFIK_POLL_SECONDS": "0",
                   "PYTHONUNBUFFERED": "1",
                   "PAAS_WORKSPACE_UIDS": "-".join(map(str, settings.PAAS_WORKSPACE_UIDS))}
            router_port = free_port()
            worker = [sys.executable, "manage.py", "rundramatiq", "--processes", "1",
                      "--threads", "2", "--queues", this_host("build"),
                      this_host("deploy"), "default"]
            router = [sys.executable, "-m", "uvicorn", "devrouter.app:application",
                      "--host", "127.0.0.1", "--port", str(router_port), "--no-access-log"]
            with (background(worker, env, root / "worker.log"),
                  background(router, env, root / "router.log")):
                try:
                    figures = measure(workspace, service, repo, root, router_port, host)
                finally:
                    pm2.kill_daemon()
                    for account in accounts.accounts_on_host():
                        accounts.remove(account)
        figures["deploy_vs_manual_ratio"]["unit"] += f" ({app})"
        return figures
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)
        shutil.rmtree(root, ignore_errors=True)


def measure(workspace: object, service: object, repo: str, root: Path, router_port: int,
            host: str) -> dict[str, dict]:
    path = settings.PAAS_APP_PATH
    cache = root / "manual-cache"
    cache.mkdir()
    _, cold = engine_deploy(workspace, service)  # warm-ups: caches, the PM2 daemon
    manual_deploy(repo, root, cache, path)
    poller = Poller(router_port, host)
    engine_times, manual_times, deployments = [], [], []
    try:
        poller.active.set()
        for round_number in range(ROUNDS):
            steps = ["engine", "manual"] if round_number % 2 == 0 else ["manual", "engine"]
            for step in steps:
                if step == "engine":
                    elapsed, deployment = engine_deploy(workspace, service)
                    engine_times.append(elapsed)
                    deployments.append(deployment)
                else:
                    manual_times.append(manual_deploy(repo, root, cache, path))
        time.sleep(settings.PAAS_DRAIN_SECONDS + 1)  # the last drain, still polled
        rollback_times = [
            rollback_to(workspace, deployments[-2 - index], router_port, host)
            for index in range(ROLLBACK_ROUNDS)
        ]
        time.sleep(settings.PAAS_DRAIN_SECONDS + 1)
    finally:
        poller.close()
    engine, manual = statistics.median(engine_times), statistics.median(manual_times)
    if os.environ.get("BENCH_DEBUG"):  # the last deployment's log, with timestamps
        with tenant_context(workspace):
            last = deployments[-1]
            t0 = last.created_at
            for line in last.log_lines.order_by("sequence"):
                offset = (line.timestamp - t0).total_seconds()
                print(f"    {offset:7.3f} {line.phase:8} {line.text[:70]}")
    phases = {phase: statistics.median(d.timings.get(phase, 0) for d in deployments)
              for phase in ("queued", "fetch", "build", "start", "health", "switch", "total")}
    print("  by hand (medians): " + ", ".join(
        f"{phase} {statistics.median(times):.2f}" for phase, times in MANUAL_PHASES.items()))
    print("  engine phases (medians): "
          + ", ".join(f"{phase} {seconds:.2f}" for phase, seconds in phases.items()))
    print(f"  engine {engine:.2f} s, manual {manual:.2f} s (medians of {ROUNDS}); "
          f"rollbacks {', '.join(f'{t:.2f}' for t in rollback_times)} s; "
          f"{poller.requests} polled requests, {len(poller.failures)} failed")
    return {
        "deploy_vs_manual_ratio": {"value": round(engine / manual, 3),
                                   "unit": "x trigger-to-healthy vs by hand", "goal": "<= 1.15"},
        "deploy_seconds": {"value": round(engine, 3), "unit": "s trigger to healthy",
                           "goal": "informational"},
        # The first build filled the service's npm cache; the others reuse it.
        "build_warm_vs_cold_cache_ratio": {
            "value": round(phases["build"] / cold.timings["build"], 3),
            "unit": f"x build time with the service's cache (cold {cold.timings['build']:.2f} s)",
            "goal": "< 1"},
        "rollback_seconds": {"value": round(statistics.median(rollback_times), 3),
                             "unit": "s rollback to serving", "goal": "< 3"},
        "redeploy_failed_requests": {"value": len(poller.failures),
                                     "unit": f"of {poller.requests} polled requests",
                                     "goal": "== 0"},
    }
