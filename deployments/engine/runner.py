"""Running a deployment's commands (git, installs, builds) from a worker.

Each command runs from an argv list in its own process group, with its output streamed line by
line to the deployment's log. While it runs, the worker beats the deployment's heartbeat and
watches for a cancel request and for the build timeout; either kills the whole group.
Concurrent builds on a host are limited by slots in Redis (PAAS_MAX_CONCURRENT_BUILDS).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from deployments.engine.accounts import Account
from deployments.engine.pm2_daemon import PM2Error
from deployments.engine.pm2_starter import Starter
from deployments.logs import LogWriter
from deployments.models import Deployment, Phase, Stream

HEARTBEAT_SECONDS = 2.0
POLL_SECONDS = 0.1
KILL_GRACE_SECONDS = 5.0


BUILD_MARKER = "PAAS_BUILD"


def build_marker(schema_name: str, deployment_id: int) -> str:
    """What every command of a build has in its environment under BUILD_MARKER: unique on the
    host (deployment ids repeat across workspaces)."""
    return f"{schema_name}:{deployment_id}"


class Cancelled(Exception):
    """The deployment was cancelled while it ran."""


class TimedOut(Exception):
    """The build ran past its service's build timeout."""


class CommandFailed(Exception):
    def __init__(self, label: str, returncode: int) -> None:
        super().__init__(f"{label} exited with status {returncode}")
        self.returncode = returncode


class Control:
    """The worker's side of a running deployment: heartbeat, cancel, deadline."""

    def __init__(self, deployment: Deployment, log: LogWriter) -> None:
        self.deployment = deployment
        self.log = log
        self.started = time.monotonic()
        self.slot: tuple[redis.Redis, str] | None = None
        self.starter: Starter | None = None
        # In the environment of every command of this build, to recognise what is left of
        # it if the worker dies (deployment ids repeat across workspaces).
        self.marker = build_marker(connection.schema_name, deployment.pk)
        self.deadline: float | None = None
        self.timeout_minutes = 0
        self._last_beat = 0.0

    def prepare_start(self) -> None:
        """Load pm2 in the background now, to start the release the moment it is built."""
        try:
            self.starter = Starter()
        except PM2Error:
            self.starter = None  # the plain CLI will do (and report the problem)

    def take_starter(self) -> Starter | None:
        starter, self.starter = self.starter, None
        return starter

    def close(self) -> None:
        if self.starter is not None:
            self.take_starter().close()

    def start_deadline(self, minutes: int) -> None:
        self.timeout_minutes = minutes
        self.deadline = time.monotonic() + minutes * 60

    def beat(self, *, force: bool = False) -> None:
        """Record that the worker is alive; raise Cancelled when a cancel was requested."""
        now = time.monotonic()
        if not force and now - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        if self.slot is not None:
            client, key = self.slot
            client.expire(key, SLOT_TTL_SECONDS)
        Deployment.objects.filter(pk=self.deployment.pk).update(
            heartbeat_at=timezone.now(), worker_host=settings.PAAS_HOST_NAME
        )
        self.log.flush()
        cancel = Deployment.objects.filter(pk=self.deployment.pk).values_list(
            "cancel_requested", flat=True).first()
        if cancel is None or cancel:  # cancelled, or deleted with its project
            raise Cancelled()

    def check(self) -> None:
        self.beat()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimedOut()

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.check()
            time.sleep(min(left, POLL_SECONDS))

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, *, phase: Phase,
            label: str = "", account: Account | None = None) -> int:
        """Run `argv` to completion with its output in the log; returns its exit status.
        With an account, as that workspace user (no other group, files private to it).
        Cancel and timeout kill the command's process group and raise."""
        argv = _with_parent_death_signal(argv)
        env = {**env, BUILD_MARKER: self.marker}
        as_user = {} if account is None else {
            "user": account.uid, "group": account.gid, "extra_groups": [], "umask": 0o077}
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, process_group=0, **as_user,
        )
        Deployment.objects.filter(pk=self.deployment.pk).update(build_pgid=process.pid)
        reader = threading.Thread(
            target=self._read, args=(process, phase), name=f"log-{process.pid}", daemon=True
        )
        reader.start()
        try:
            while True:
                try:
                    process.wait(POLL_SECONDS)  # returns the moment the command ends
                    break
                except subprocess.TimeoutExpired:
                    self.check()
                    self.log.flush_if_due()
        except BaseException:  # cancel, timeout, the actor's time limit, shutdown
            _kill_group(process)
            raise
        finally:
            reader.join(timeout=5)
            self.log.flush()
            Deployment.objects.filter(pk=self.deployment.pk).update(build_pgid=None)
        return process.returncode

    def run_checked(self, argv: list[str], env: dict[str, str], cwd: Path, *, phase: Phase,
                    label: str, account: Account | None = None) -> None:
        self.log.write(f"$ {label}", phase=phase)
        returncode = self.run(argv, env, cwd, phase=phase, label=label, account=account)
        if returncode != 0:
            raise CommandFailed(label, returncode)

    def _read(self, process: subprocess.Popen, phase: Phase) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self.log.write(raw.decode("utf-8", "replace"), phase=phase, stream=Stream.BUILD)


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    """Kill the command if the worker dies (util-linux setpriv), so a killed worker does not
    leave its build running; the monitor kills what is left of the group."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *argv] if setpriv else argv


def _kill_group(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def kill_orphaned_build(deployment: Deployment) -> bool:
    """Kill what is left of the build of a deployment whose worker died, if it ran on this
    host: the processes of its recorded process group whose environment carries the build's
    marker (the group's leader died with the worker; its children live on)."""
    pgid = deployment.build_pgid
    if not pgid or deployment.worker_host != settings.PAAS_HOST_NAME:
        return False
    marker = f"{BUILD_MARKER}={build_marker(connection.schema_name, deployment.pk)}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getpgid(int(proc.name)) != pgid:
                continue
            if marker not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            os.killpg(pgid, signal.SIGKILL)
            return True
        except (OSError, ProcessLookupError):
            continue
    return False


# Build slots -------------------------------------------------------------------------------

def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _slot_keys() -> list[str]:
    namespace = settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"]
    return [f"{namespace}:build-slot:{settings.PAAS_HOST_NAME}:{index}"
            for index in range(settings.PAAS_MAX_CONCURRENT_BUILDS)]


SLOT_TTL_SECONDS = 30  # refreshed by the heartbeat: a dead worker's slot frees itself


@contextmanager
def build_slot(control: Control) -> Iterator[None]:
    """Hold one of the host's build slots while building; wait (beating, cancellable) for one."""
    client = _redis()
    token = str(control.deployment.pk)
    waited = False
    while True:
        for key in _slot_keys():
            if client.set(key, token, nx=True, ex=SLOT_TTL_SECONDS):
                control.slot = (client, key)
                try:
                    yield
                finally:
                    control.slot = None
                    if client.get(key) == token.encode():
                        client.delete(key)
                return
        if not waited:
            control.log.write(
                f"Waiting for a build slot ({settings.PAAS_MAX_CONCURRENT_BUILDS} builds run "
                "at a time on this host)", phase=Phase.BUILD, stream=Stream.DEPLOY,
            )
            waited = True
        control.beat()
        time.sleep(0.5)
