"""The panel's own PM2: one daemon under settings.PAAS_PM2_HOME runs every deployed process.

Environment. The pm2 CLI, and so the daemon it spawns and every app (pm2 merges the CLI's
environment into each app's), runs with a minimal environment built here: PATH
(settings.PAAS_APP_PATH), HOME, PM2_HOME, LANG/LC_ALL and three pm2 switches (no banner, no
version check over the network, SIGTERM rather than SIGINT to stop an app). Never os.environ:
an app must not inherit SECRET_KEY, DATABASE_URL, PAAS_ENCRYPTION_KEYS... (`filter_env` is
broken before pm2 7.1.2).

Restart policies (pm2 7.0.4, lib/God.js handleExit). pm2's `max_restarts` only counts
"unstable" restarts (an exit within `min_uptime` of the start) and stops at the Nth, after N-1
restarts. So: "always" = autorestart with a limit that is never reached and a backoff delay
(100 ms growing to 15 s, reset after 30 s up); "on-failure" with N = autorestart, exit code 0
stops, `min_uptime` so large that every exit counts, `max_restarts` N+1, then status
`errored`; "never" = no autorestart. No delay except for "always": with one, pm2 overwrites
the final `errored`/`stopped` status with `waiting restart`.

Speed. A pm2 CLI call costs a Node start (measured here: 0.12-0.2 s; 0.4 s when it spawns the
daemon). `jlist()` and `daemon_running()` do not use the CLI: they speak pm2's RPC protocol
(axon over PM2_HOME/rpc.sock, the one the CLI speaks) from Python, in milliseconds, and
never spawn a daemon. Mutations use the CLI (it prepares the app configuration).

Daemon. Mutating calls resurrect a daemon that is not running before acting, so that a
`start` never leaves a fresh empty daemon in place of one that died with the saved list.
When the daemon died hard, the apps it spawned (detached) are still running and hold their
ports: `resurrect()` first stops those orphans, found through PM2_HOME/pids and recognised by
the PM2_HOME in their environment (Linux /proc).

Users. The daemon runs as the panel's user; with isolation on it starts each app as its
workspace's Unix user (pm2's `uid` option), so that no app can reach PM2_HOME (mode 0700: the
RPC sockets, the dump with every app's environment, pm2's own logs) or another app.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from deployments.engine import pm2_daemon
from deployments.engine.limits import Limits
from deployments.engine.pm2_daemon import (  # noqa: F401 -- the daemon's API, re-exported
    CLI_TIMEOUT,
    KILL_TIMEOUT_MS,
    PM2Error,
    cli_env,
    daemon_running,
    ensure_daemon,
    home,
    kill_daemon,
    resurrect,
    run_cli,
    scrub,
)
from deployments.engine.pm2_starter import Starter
from projects.validators import pm2_reserves

RESTART_POLICIES = ("always", "on-failure", "never")
ALWAYS_MAX_RESTARTS = 1_000_000_000
EVERY_EXIT_COUNTS_MS = 10**15  # min_uptime for "on-failure": every exit is "unstable"
BACKOFF_FIRST_DELAY_MS = 100
PROCESS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,199}")
# pm2 reads these as process names in a special way (all processes, a namespace, a number).
RESERVED_NAMES = frozenset({"all", "default", "Infinity"})
ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Platform values, left readable in error messages (every other variable value is hidden).
NOT_SECRET = frozenset({"PORT", "PATH", "HOME", "LANG", "LC_ALL"})


@dataclass
class AppSpec:
    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    restart_policy: str  # "always" | "on-failure" | "never"
    max_restarts: int
    out_file: Path  # what PM2 writes of its stdout
    err_file: Path  # and of its stderr (the log shipper reads both)
    user: str | None = None  # the Unix user it runs as (the daemon's when None)
    limits: Limits | None = None  # processes, open files, CPU priority


@dataclass
class ProcessInfo:
    name: str
    pid: int | None
    status: str  # online, stopping, stopped, launching, errored, one-launch-status,
    #              waiting restart (between two runs under "always")
    restarts: int
    cpu_percent: float
    memory_bytes: int
    uptime_started_ms: int | None  # when the running process started (epoch ms), if online
    env_deployment_id: str | None


def save() -> None:
    """Save the process list (`pm2 save --force`: an empty list too) for `resurrect`."""
    ensure_daemon()
    run_cli(["save", "--force"])


# Processes -----------------------------------------------------------------------------------


def start(apps: list[AppSpec], starter: Starter | None = None) -> None:
    """Start the apps with one `pm2 start <ecosystem.json>` (or a Starter prepared ahead). The
    file holds variable values: it is written mode 0600 next to the first app's log files and
    removed once pm2 has read it. On failure the apps are deleted again (none is left
    half-started) and PM2Error is raised."""
    if not apps:
        return
    secrets = [value for app in apps for key, value in app.env.items()
               if key not in NOT_SECRET and not key.startswith("PAAS_")]
    ecosystem = {"apps": [_ecosystem_entry(app) for app in apps]}
    for app in apps:
        for log_file in (app.out_file, app.err_file):
            log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = apps[0].out_file.parent / f"ecosystem-{uuid.uuid4().hex}.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(ecosystem, handle)
    try:
        if starter is not None:
            try:
                starter.start(path, timeout=CLI_TIMEOUT)
            except PM2Error as error:
                raise PM2Error(scrub(str(error), secrets)) from None
        else:
            ensure_daemon()
            run_cli(["start", str(path)], secrets=secrets)
    except PM2Error:
        try:
            delete(app.name for app in apps)
        except PM2Error:
            pass
        raise
    finally:
        path.unlink(missing_ok=True)


def delete(names: Iterable[str]) -> None:
    """Stop and forget these processes. Idempotent: names PM2 does not know are fine."""
    _act("delete", names, missing_ok=True)


def stop(names: Iterable[str]) -> None:
    """Stop these processes (they stay listed, `stopped`). Names PM2 does not know are fine."""
    _act("stop", names, missing_ok=True)


def restart(names: Iterable[str]) -> None:
    """Restart these processes with their own environment; an unknown name is an error."""
    _act("restart", names, missing_ok=False)


def jlist() -> list[ProcessInfo]:
    """What the daemon runs. Without a daemon: [] (none is spawned just to list; call
    daemon_running() to tell "no daemon" from "no process"). Of the environment, only
    PAAS_DEPLOYMENT_ID is returned."""
    try:
        processes = pm2_daemon.call("getMonitorData", {})
    except (ConnectionRefusedError, FileNotFoundError):
        return []
    return [_process_info(process) for process in processes or []]


def tail(log_file: Path, lines: int = 20) -> list[str]:
    """The last lines of a log file (without their newlines); [] when there is none."""
    if lines <= 0:
        return []
    try:
        with open(log_file, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            position, data = handle.tell(), b""
            while position > 0 and data.count(b"\n") <= lines:
                step = min(65536, position)
                position -= step
                handle.seek(position)
                data = handle.read(step) + data
    except FileNotFoundError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


# Ecosystem entries ---------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if not PROCESS_NAME.fullmatch(name) or name in RESERVED_NAMES:
        raise PM2Error(f"Invalid PM2 process name: {name!r}")
    return name


def _executable(app: AppSpec) -> str:
    """argv[0] as an absolute path: relative to cwd when it has a slash, else looked up on the
    app's own PATH (pm2 would search the CLI's)."""
    command = app.argv[0]
    if "/" in command:
        candidate = str((app.cwd / command).resolve())
    else:
        candidate = shutil.which(command, path=app.env.get("PATH", settings.PAAS_APP_PATH))
    if not candidate or not os.path.isfile(candidate) or not os.access(candidate, os.X_OK):
        raise PM2Error(f"{app.name}: command not found or not executable: {command!r}")
    return candidate


def _ecosystem_entry(app: AppSpec) -> dict:
    _check_name(app.name)
    if not app.argv:
        raise PM2Error(f"{app.name}: no command to run")
    if not Path(app.cwd).is_dir():
        raise PM2Error(f"{app.name}: working directory {app.cwd} does not exist")
    for key, value in app.env.items():
        if not ENV_KEY.fullmatch(key):
            raise PM2Error(f"{app.name}: invalid variable name {key!r}")
        if pm2_reserves(key):
            raise PM2Error(f"{app.name}: the variable name {key!r} is reserved by PM2")
        if not isinstance(value, str) or "\x00" in value:
            raise PM2Error(f"{app.name}: the value of {key} is not text")
    command = [_executable(app), *app.argv[1:]]
    if app.limits is not None:
        command = app.limits.wrap(command)
    entry = {
        "name": app.name,
        "script": command[0],
        "args": command[1:],
        "interpreter": "none",
        "cwd": str(app.cwd),
        "env": dict(app.env),
        # pm2's "merge_logs" keeps the paths as given (no "-<pm id>" added to them); stdout
        # and stderr go to files of their own.
        "merge_logs": True,
        "out_file": str(app.out_file),
        "error_file": str(app.err_file),
        "kill_timeout": KILL_TIMEOUT_MS,
        "treekill": True,
        "vizion": False,  # no git metadata scan of the release on every start
        "pmx": False,
        "automation": False,
    }
    if app.user is not None:  # pm2 (root) spawns it as the user: HOME from /etc/passwd
        entry["uid"] = app.user
    if app.restart_policy == "always":
        entry.update(autorestart=True, max_restarts=ALWAYS_MAX_RESTARTS, min_uptime=1000,
                     exp_backoff_restart_delay=BACKOFF_FIRST_DELAY_MS)
    elif app.restart_policy == "on-failure":
        if app.max_restarts < 0:
            raise PM2Error(f"{app.name}: max_restarts must be 0 or more")
        entry.update(autorestart=True, stop_exit_codes=[0], min_uptime=EVERY_EXIT_COUNTS_MS,
                     max_restarts=app.max_restarts + 1)
    elif app.restart_policy == "never":
        entry.update(autorestart=False)
    else:
        raise PM2Error(f"{app.name}: unknown restart policy {app.restart_policy!r}")
    return entry


# The CLI -------------------------------------------------------------------------------------


def _act(action: str, names: Iterable[str], *, missing_ok: bool) -> None:
    names = list(dict.fromkeys(_check_name(name) for name in names))
    if not names:
        return
    ensure_daemon()
    timeout = CLI_TIMEOUT + KILL_TIMEOUT_MS / 1000 * len(names)
    run_cli([action, *names], timeout=timeout, missing_ok=names if missing_ok else ())


# What the daemon reports ---------------------------------------------------------------------


def _process_info(process: dict) -> ProcessInfo:
    pm2_env = process.get("pm2_env") or {}
    monit = process.get("monit") or {}
    status = str(pm2_env.get("status", "unknown"))
    pid = process.get("pid")
    deployment_id = (pm2_env.get("env") or {}).get("PAAS_DEPLOYMENT_ID")
    return ProcessInfo(
        name=str(process.get("name") or pm2_env.get("name") or ""),
        pid=pid if isinstance(pid, int) and pid > 0 else None,
        status=status,
        restarts=int(pm2_env.get("restart_time") or 0),
        cpu_percent=float(monit.get("cpu") or 0.0),
        memory_bytes=int(monit.get("memory") or 0),
        uptime_started_ms=(int(pm2_env["pm_uptime"])
                           if status == "online" and pm2_env.get("pm_uptime") else None),
        env_deployment_id=str(deployment_id) if deployment_id is not None else None,
    )
