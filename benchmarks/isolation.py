"""What isolation costs: deploy time, and PM2's memory at 200 workspaces (README, Isolation).

- `deploy_isolated_vs_shared_ratio`: the deploy benchmark's trigger-to-healthy (the sample Node
  app with express) through two workers of the same run, alternating: one isolated (builds and
  apps as the workspace's user, limits, the firewall's table loaded and its set kept), one with
  PAAS_ISOLATION=off. Each
  is a host of its own (its queues), each service placed on one. BENCH_ISOLATION_ROUNDS (5)
  rounds after a warm-up of each; medians. Needs root (isolation does): without it the figure
  is 0 and says so.
- PM2's memory at 200 workspaces, one daemon for all (the choice) against a daemon per
  workspace user: a fresh daemon's resident memory with one app, and the growth of one daemon
  per app (BENCH_PM2_APPS apps, 40), both measured here; 200 daemons are extrapolated from
  BENCH_PM2_DAEMONS (4) of them rather than started (10 GB on these machines).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django_tenants.utils import tenant_context

from benchmarks._database import temporary_database
from benchmarks.deploy import app_repository, background, database_url, engine_deploy
from deployments.engine import accounts, firewall, pm2
from hosting.models import host_queue
from projects.services import create_project, create_service
from tenants.models import User
from tenants.services import create_workspace

BENCH_DATABASE = "bench_isolation"
ROUNDS = int(os.environ.get("BENCH_ISOLATION_ROUNDS", "5"))
PM2_APPS = int(os.environ.get("BENCH_PM2_APPS", "40"))
PM2_DAEMONS = int(os.environ.get("BENCH_PM2_DAEMONS", "4"))
WORKSPACES = 200
PORT_RANGE = (32000, 32999)
BASE_DIR = Path(__file__).resolve().parent.parent
HOSTS = {"isolated": "bench-isolated", "shared": "bench-shared"}


def run() -> dict[str, dict]:
    return {**deploy_figures(), **pm2_memory_figures()}


# Deploys -----------------------------------------------------------------------------------


def deploy_figures() -> dict[str, dict]:
    if not settings.PAAS_ISOLATED:
        return {"deploy_isolated_vs_shared_ratio": {
            "value": 0, "unit": "not measured: isolation needs the panel to run as root",
            "goal": "<= 1.10"}}
    root = Path(tempfile.mkdtemp(prefix="paas-bench-isolation-"))
    root.chmod(0o711)  # the workspace users go through it to their releases
    saved = {name: getattr(settings, name) for name in
             ("PAAS_APPS_DIR", "PAAS_PM2_HOME", "PAAS_PORT_RANGE", "PAAS_WORKSPACE_UIDS",
              "PAAS_FIREWALL_TABLE")}
    settings.PAAS_APPS_DIR = root / "apps"
    settings.PAAS_PM2_HOME = settings.PAAS_APPS_DIR / "pm2"
    settings.PAAS_PORT_RANGE = PORT_RANGE
    settings.PAAS_WORKSPACE_UIDS = (3_900_000, 3_900_999)  # the benchmark's own users
    settings.PAAS_FIREWALL_TABLE = "paas_bench"  # kept by the isolated worker, as in production
    firewall_loaded = firewall.load()
    try:
        repo, app = app_repository(root)
        with temporary_database(BENCH_DATABASE):
            call_command("migrate_template", verbosity=0)
            owner = User.objects.create_user("bench@example.com", "x" * 20)
            workspace = create_workspace("bench-isolation", "Bench", owner)
            services = {}
            with tenant_context(workspace):
                project = create_project("Bench")
                for kind, host in HOSTS.items():
                    services[kind] = create_service(
                        project.environments.get(), kind, repository_url=repo,
                        host_name=host)
            env = {**os.environ, "DATABASE_URL": database_url(),
                   "PAAS_APPS_DIR": str(settings.PAAS_APPS_DIR),
                   "PAAS_PORT_RANGE": "-".join(map(str, PORT_RANGE)),
                   "PAAS_WORKSPACE_UIDS": "-".join(map(str, settings.PAAS_WORKSPACE_UIDS)),
                   "PAAS_FIREWALL_TABLE": settings.PAAS_FIREWALL_TABLE,
                   "PAAS_DRAIN_SECONDS": "2", "PAAS_TRAEFIK_POLL_SECONDS": "0",
                   "PYTHONUNBUFFERED": "1"}
            workers = []
            for kind, host in HOSTS.items():
                workers.append((
                    [sys.executable, "manage.py", "rundramatiq", "--processes", "1",
                     "--threads", "2", "--queues", host_queue("build", host),
                     host_queue("deploy", host)],
                    {**env, "PAAS_HOST_NAME": host,
                     "PAAS_ISOLATION": "auto" if kind == "isolated" else "off"},
                    root / f"worker-{kind}.log"))
            with background(*workers[0]), background(*workers[1]):
                try:
                    times = measure(workspace, services)
                finally:
                    pm2.kill_daemon()
                    for account in accounts.accounts_on_host():
                        accounts.remove(account)
    finally:
        if firewall_loaded:
            firewall.unload()
        for name, value in saved.items():
            setattr(settings, name, value)
        shutil.rmtree(root, ignore_errors=True)
    isolated, shared = (statistics.median(times[kind]) for kind in ("isolated", "shared"))
    print(f"  isolated {isolated:.2f} s, shared {shared:.2f} s (medians of {ROUNDS}, {app})")
    return {
        "deploy_isolated_vs_shared_ratio": {
            "value": round(isolated / shared, 3),
            "unit": f"x trigger-to-healthy, isolation on vs off ({app})", "goal": "<= 1.10"},
        "deploy_isolated_seconds": {"value": round(isolated, 3), "unit": "s trigger to healthy",
                                    "goal": "informational"},
    }


def measure(workspace: object, services: dict[str, object]) -> dict[str, list[float]]:
    for service in services.values():  # warm-ups: caches, the PM2 daemon, the users
        engine_deploy(workspace, service)
    times: dict[str, list[float]] = {kind: [] for kind in services}
    for round_number in range(ROUNDS):
        order = list(services) if round_number % 2 == 0 else list(reversed(services))
        for kind in order:
            elapsed, _ = engine_deploy(workspace, services[kind])
            times[kind].append(elapsed)
    return times


# PM2's memory ------------------------------------------------------------------------------


def _pm2(home: Path, *args: str) -> None:
    env = {"PATH": settings.PAAS_APP_PATH, "HOME": str(home), "PM2_HOME": str(home),
           "PM2_DISCRETE_MODE": "true", "PM2_DISABLE_VERSION_CHECK": "true"}
    subprocess.run([settings.PAAS_PM2_BIN, *args], env=env, capture_output=True, check=True,
                   timeout=120)


def _daemon_rss_kb(home: Path) -> int:
    pid = int((home / "pm2.pid").read_text())
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS for the PM2 daemon")


def _start_apps(home: Path, count: int) -> None:
    sleep = shutil.which("sleep", path=settings.PAAS_APP_PATH)
    home.mkdir(exist_ok=True, mode=0o700)
    ecosystem = home / "apps.json"
    ecosystem.write_text(json.dumps({"apps": [
        {"name": f"app{index}", "script": sleep, "args": ["3600"], "interpreter": "none",
         "autorestart": False, "vizion": False, "pmx": False, "automation": False}
        for index in range(count)]}))
    _pm2(home, "start", str(ecosystem))
    time.sleep(2)  # the daemon's memory settles once the apps have started


def pm2_memory_figures() -> dict[str, dict]:
    root = Path(tempfile.mkdtemp(prefix="paas-bench-pm2-", dir="/tmp"))
    homes = []
    try:
        per_daemon = []
        for index in range(PM2_DAEMONS):  # a daemon per workspace user: each with one app
            home = root / f"d{index}"
            homes.append(home)
            _start_apps(home, 1)
            per_daemon.append(_daemon_rss_kb(home))
        shared = root / "shared"  # one daemon: its growth per app
        homes.append(shared)
        _start_apps(shared, 1)
        before = _daemon_rss_kb(shared)
        _pm2(shared, "delete", "all")
        _start_apps(shared, PM2_APPS)
        per_app = max(0.0, (_daemon_rss_kb(shared) - before) / (PM2_APPS - 1))
    finally:
        for home in homes:
            try:
                _pm2(home, "kill")
            except (subprocess.SubprocessError, OSError):
                pass
        shutil.rmtree(root, ignore_errors=True)
    daemon_mb = statistics.median(per_daemon) / 1024
    one_daemon_mb = daemon_mb + per_app * (WORKSPACES - 1) / 1024
    per_workspace_mb = daemon_mb * WORKSPACES
    print(f"  PM2 daemon {daemon_mb:.1f} MB with one app, +{per_app:.0f} kB per app; at "
          f"{WORKSPACES} workspaces: one daemon {one_daemon_mb:.0f} MB, a daemon each "
          f"{per_workspace_mb:.0f} MB")
    return {
        "pm2_one_daemon_mb_at_200_workspaces": {
            "value": round(one_daemon_mb, 1),
            "unit": f"MB resident, one daemon running an app per workspace "
                    f"(+{per_app:.0f} kB per app, measured with {PM2_APPS})",
            "goal": "informational"},
        "pm2_daemon_per_workspace_mb_at_200_workspaces": {
            "value": round(per_workspace_mb, 1),
            "unit": f"MB resident, {WORKSPACES} daemons of {daemon_mb:.1f} MB (median of "
                    f"{PM2_DAEMONS} measured)",
            "goal": "informational"},
    }
