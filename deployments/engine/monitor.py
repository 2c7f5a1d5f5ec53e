"""The monitor (every 15 s, `monitor` queue): what PM2 runs, against what the database says.

For every workspace it records a sample per process (status, restarts, CPU, memory), marks an
active deployment `crashed` when its process restarts more than PAAS_CRASH_RESTARTS times
within PAAS_CRASH_WINDOW_SECONDS or has stopped for good (and rolls back to the last healthy
release when the service allows it), starts again the processes of active deployments that PM2
lost (a daemon that died is resurrected first), fails deployments whose worker stopped beating,
and removes processes of deployments that are over (what the drain of a switch left behind).
Only processes of the panel's own PM2 whose names carry a workspace schema are touched.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Min, Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, tenant_context

from deployments import routes
from deployments.engine import accounts, firewall, launch, pipeline, pm2, ports
from deployments.engine.limits import Limits, memory_by_group
from deployments.engine.runner import kill_orphaned_build
from deployments.logs import log_once
from deployments.models import Deployment, IllegalTransition, Phase, ProcessSample, Status
from hosting.models import Host, PortAllocation
from projects.models import Service
from tenants.models import Workspace

logger = logging.getLogger(__name__)
INTERVAL_MS = 15_000
GONE = ("errored", "stopped")
MONITOR_LOCK_SECONDS = 60
SAMPLES_KEPT = timedelta(days=7)  # 4 samples a minute per process
# A deployment nobody picked up (its message was lost) is failed after this long.
QUEUED_TIMEOUT = timedelta(minutes=30)


def on_this_host() -> Q:
    """Deployments this host runs (those from before hosts were recorded too)."""
    return Q(host_name=settings.PAAS_HOST_NAME) | Q(host_name="")


def monitor_lock_key() -> str:
    """The Redis key of this host's monitor lock. Not `<namespace>:monitor`: Dramatiq keeps
    the `monitor` queue's message list under that key, and a lock there breaks the queue
    (WRONGTYPE from its dispatch script)."""
    namespace = settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"]
    return f"{namespace}:lock:monitor:{settings.PAAS_HOST_NAME}"


@dataclass(frozen=True)
class Crash:
    """An active deployment the pass marked crashed, whose service wants a rollback."""

    workspace: Workspace
    deployment_id: int
    reason: str


def run() -> list[Crash]:
    """One pass over every workspace; passes of a host never overlap (a Redis lock). Returns
    the crashes to roll back from (the caller starts the rollbacks)."""
    lock = redis.Redis.from_url(settings.REDIS_URL).lock(
        monitor_lock_key(), timeout=MONITOR_LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        return []
    try:
        return _run_once()
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # it expired: a pass took unusually long
            pass


def _run_once() -> list[Crash]:
    """1. resurrect a PM2 daemon that died while something should run;
    2. check each workspace (`check_workspace`);
    3. remove processes (and ports) of workspaces that no longer exist."""
    _ensure_daemon()
    Host.objects.register_this_host()  # seen now: the clock keeps sending it passes
    public = get_public_schema_name()
    workspaces = Workspace.objects.exclude(schema_name__in=[public, settings.TENANT_BASE_SCHEMA])
    known = set()
    crashes: list[Crash] = []
    for workspace in workspaces:
        known.add(workspace.schema_name)
        with tenant_context(workspace):
            try:
                crashes += [Crash(workspace, deployment_id, reason) for deployment_id, reason
                            in check_workspace(suspended=workspace.suspended)]
            except Exception:
                logger.exception("monitor: workspace %s", workspace.schema_name)
    strays = [info.name for info in pm2.jlist()
              if (schema := info.name.split(".", 1)[0]).startswith("ws_") and schema not in known]
    if strays:  # their workspace is gone
        pm2.delete(strays)
        PortAllocation.objects.exclude(schema_name__in=known).delete()
        pm2.save()
    _remove_stray_accounts({workspace.schema_name: workspace.pk for workspace in workspaces})
    firewall.sync()
    return crashes


def _remove_stray_accounts(workspace_ids: dict[str, int]) -> None:
    """The Unix users of workspaces that are gone (and their files, unless a new workspace
    has the same schema name), once nothing of theirs runs."""
    running = {info.name.split(".", 1)[0] for info in pm2.jlist()}
    for account in accounts.accounts_on_host():
        workspace_id = workspace_ids.get(account.schema_name)
        first_uid = settings.PAAS_WORKSPACE_UIDS[0]
        if workspace_id is not None and first_uid + workspace_id == account.uid:
            continue
        if workspace_id is None:
            if account.schema_name in running:
                continue
            for kind in accounts.KINDS:
                shutil.rmtree(settings.PAAS_APPS_DIR / kind / account.schema_name,
                              ignore_errors=True)
        accounts.remove(account)


def _ensure_daemon() -> None:
    """A daemon that died is resurrected when something should be running."""
    if pm2.daemon_running() or not _anything_active():
        return
    logger.warning("monitor: the PM2 daemon is not running; resurrecting it")
    pm2.resurrect()


def _anything_active() -> bool:
    for workspace in Workspace.objects.exclude(
        schema_name__in=[get_public_schema_name(), settings.TENANT_BASE_SCHEMA]
    ):
        with tenant_context(workspace):
            if Deployment.objects.filter(status=Status.ACTIVE).exists():
                return True
    return False


def _processes_of_workspace() -> list[pm2.ProcessInfo]:
    prefix = f"{connection.schema_name}."
    return [info for info in pm2.jlist() if info.name.startswith(prefix)]


def check_workspace(*, suspended: bool = False) -> list[tuple[int, str]]:
    """The monitor's pass over the current workspace:

    1. fail deployments whose worker stopped beating, or that nobody picked up;
    2. for each active deployment of this host: start again processes PM2 lost, record a
       sample per process, and mark it crashed when it restarts too often or stopped;
    3. remove processes of deployments that are over, past their drain period;
    4. forget samples older than SAMPLES_KEPT.

    Returns (deployment id, reason) of the crashes whose service wants a rollback."""
    now = timezone.now()
    crashes: list[tuple[int, str]] = []
    _fail_abandoned(now)
    # Only this host's: another host's monitor looks after what its PM2 runs.
    active = list(Deployment.objects.filter(status=Status.ACTIVE)
                  .filter(on_this_host())
                  .select_related("service__environment__project"))
    # Read after the active list (a deployment that went live meanwhile has its processes).
    by_deployment: dict[str, list[pm2.ProcessInfo]] = defaultdict(list)
    for info in _processes_of_workspace():
        by_deployment[info.env_deployment_id or ""].append(info)
    samples = []
    groups = memory_by_group() if active else {}  # one look at /proc for the whole pass
    for deployment in active:
        infos = by_deployment.pop(str(deployment.pk), [])
        if not infos:
            if not suspended and (reason := _respawn(deployment)):
                crashes += handle_crash(deployment, reason)
            continue
        over = _restart_past_memory_limit(deployment, infos, groups, now)
        samples += [ProcessSample(
            deployment=deployment, process_name=info.name, status=info.status,
            restarts=info.restarts, cpu_percent=info.cpu_percent,
            memory_bytes=info.memory_bytes, sampled_at=now, requested_restart=info in over,
        ) for info in infos]
        reason = crash_reason(deployment, infos, now)
        if reason:
            ProcessSample.objects.bulk_create(samples)
            samples = []
            crashes += handle_crash(deployment, reason)
    ProcessSample.objects.bulk_create(samples)
    _remove_leftovers(by_deployment, now)
    ProcessSample.objects.filter(sampled_at__lt=now - SAMPLES_KEPT).delete()
    return crashes


def _restart_past_memory_limit(deployment: Deployment, infos: list[pm2.ProcessInfo],
                               groups: dict[int, int], now: datetime) -> list[pm2.ProcessInfo]:
    """Restart the processes using more memory than their service allows; the reason goes to
    the deployment (its service's page shows it) and its log. Returns those restarted."""
    limits = Limits.of(deployment.service)
    for info in infos:  # the process and what it started (an app under `sh -c`)
        if info.pid is not None:
            info.memory_bytes = max(info.memory_bytes, groups.get(info.pid, 0))
    over = [info for info in infos
            if info.status == "online" and info.memory_bytes > limits.memory_bytes]
    for info in over:
        reason = (f"{info.name} used {info.memory_bytes // 2**20} MB, over its "
                  f"{limits.describe_memory()} memory limit: restarted")
        try:
            pm2.restart([info.name])
        except pm2.PM2Error as error:
            reason = f"{reason[:-len(': restarted')]}; restarting it failed ({error})"
        Deployment.objects.filter(pk=deployment.pk).update(restart_reason=reason[:300],
                                                           restarted_at=now)
        log_once(deployment, f"{reason} ({now:%H:%M:%S})", phase=Phase.MONITOR)
    return over


def _respawn(deployment: Deployment) -> str:
    """Start again the processes of an active deployment that PM2 lost; why it could not be
    (it crashed), or ""."""
    log_once(deployment, "Its processes were not running; starting them again.",
             phase=Phase.MONITOR)
    try:
        launch.respawn(deployment)
    except Exception as error:  # the release is gone, no port, PM2 refused...
        logger.exception("monitor: respawning deployment %s", deployment.pk)
        return f"its processes could not be started again ({error})"
    return ""


def crash_reason(deployment: Deployment, infos: list[pm2.ProcessInfo],
                 now: datetime) -> str:
    """Why the active deployment counts as crashed, or ""."""
    window = timedelta(seconds=settings.PAAS_CRASH_WINDOW_SECONDS)
    limit = settings.PAAS_CRASH_RESTARTS
    for info in infos:
        if info.status in GONE:
            return f"{info.name} stopped ({info.status}) after {info.restarts} restarts"
        # Restarts since the start of the window: a process that went live within the window
        # started at 0; otherwise the oldest sample inside the window is the baseline.
        if deployment.finished_at and deployment.finished_at >= now - window:
            baseline = 0
        else:
            baseline = ProcessSample.objects.filter(
                deployment=deployment, process_name=info.name, sampled_at__gte=now - window,
            ).exclude(requested_restart=True).aggregate(low=Min("restarts"))["low"]
            baseline = info.restarts if baseline is None else baseline
        # Restarts a user asked for (tasks.restart_deployment records them) are not crashes.
        asked = ProcessSample.objects.filter(
            deployment=deployment, process_name=info.name, requested_restart=True,
            sampled_at__gte=now - window,
        ).count()
        restarts = info.restarts - baseline - asked
        if restarts > limit:
            return (f"{info.name} restarted {restarts} times within "
                    f"{settings.PAAS_CRASH_WINDOW_SECONDS} s")
    return ""


def handle_crash(deployment: Deployment, reason: str) -> list[tuple[int, str]]:
    """Mark the deployment crashed. Returns [(its id, the reason)] when its service rolls back
    automatically and it was not itself an automatic rollback; else []."""
    try:
        deployment.transition(Status.CRASHED, reason=f"Crashed: {reason}.")
    except IllegalTransition:
        return []
    log_once(deployment, f"Crashed: {reason}.", phase=Phase.MONITOR)
    if not deployment.service.auto_rollback:
        log_once(deployment, "Automatic rollback is off for this service.", phase=Phase.MONITOR)
        return []
    if deployment.automatic:
        log_once(deployment, "It was itself an automatic rollback: not rolling back again.",
                 phase=Phase.MONITOR)
        return []
    return [(deployment.pk, reason)]


def _fail_abandoned(now: datetime) -> None:
    """Building or deploying deployments whose worker stopped beating."""
    timeout = settings.PAAS_HEARTBEAT_TIMEOUT_SECONDS
    cutoff = now - timedelta(seconds=timeout)
    abandoned = Deployment.objects.filter(on_this_host(), status__in=Status.WORKER_HELD).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    ).select_related("service__environment__project")
    for deployment in abandoned:
        killed = kill_orphaned_build(deployment)
        pipeline.fail_abandoned(deployment, (
            f"The worker running this deployment stopped responding (no heartbeat for "
            f"{timeout} s)" + ("; its build was stopped." if killed else ".")))
    never_started = Deployment.objects.filter(status=Status.QUEUED,
                                              created_at__lt=now - QUEUED_TIMEOUT)
    for deployment in never_started.select_related("service__environment__project"):
        pipeline.fail_abandoned(deployment, (
            f"No worker picked this deployment up within {QUEUED_TIMEOUT.seconds // 60} "
            "minutes (its message was lost, or no worker listens to the build queue)."))


def _remove_leftovers(by_deployment: dict[str, list[pm2.ProcessInfo]],
                      now: datetime) -> None:
    """Processes of deployments that are over, past their drain period (or unknown)."""
    grace = timedelta(seconds=routes.drain_seconds() + 60)
    ids = [int(key) for key in by_deployment if key.isdigit()]
    over = {str(pk) for pk, status, finished in Deployment.objects.filter(pk__in=ids)
            .values_list("pk", "status", "finished_at")
            if status not in (Status.ACTIVE, *Status.IN_PROGRESS)
            and (finished is None or finished < now - grace)}
    known = {str(pk) for pk in Deployment.objects.filter(pk__in=ids).values_list("pk", flat=True)}
    # A crashed deployment with nothing to roll back to stays the service's: PM2 keeps trying.
    over -= {str(pk) for pk in Service.objects.exclude(active_deployment=None)
             .values_list("active_deployment_id", flat=True)}
    gone = [key for key in by_deployment if key in over or key not in known]
    names = [info.name for key in gone for info in by_deployment[key]]
    if names:
        pm2.delete(names)
        for key in gone:
            if key.isdigit():
                ports.release(connection.schema_name, int(key))
        pm2.save()
