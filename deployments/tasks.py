"""Actors of the deploy engine (Dramatiq): the only module that imports deployments.engine.

They take ids, never secrets, and run in the schema of the workspace that enqueued them
(config.dramatiq). The deployment row is the truth: a second delivery of a message finds its
deployment no longer queued and does nothing.

Engine work runs on the host that keeps the deployment's release: its actors are declared on
this machine's queues (`build.<PAAS_HOST_NAME>`, `deploy.<...>`, `monitor.<...>`, which its
worker consumes), and `send_to_host` sends a message to another host's queue of that kind.
"""

from __future__ import annotations

import dramatiq
from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name, tenant_context
from dramatiq_crontab import cron

from deployments import logstore, routes
from deployments.engine import launch, monitor, pipeline, pm2, releases
from deployments.logs import log_once
from deployments.models import Deployment, Phase, ProcessSample, Status, Trigger
from hosting.models import Host, host_queue
from tenants.models import Workspace

MINUTE_MS = 60 * 1000
AUTOMATIC_ROLLBACK = "automatic rollback"  # who started it, as the page says


def this_host(kind: str) -> str:
    """This machine's queue for `kind` (build, deploy, monitor)."""
    return host_queue(kind, settings.PAAS_HOST_NAME)


def send_to_host(actor: dramatiq.Actor, host_name: str, *args: object,
                 delay: int | None = None) -> None:
    """Send a message to `actor` on `host_name`'s queue of the actor's kind."""
    kind = actor.queue_name.partition(".")[0]
    message = actor.message_with_options(args=args).copy(
        queue_name=host_queue(kind, host_name or settings.PAAS_HOST_NAME))
    actor.broker.enqueue(message, delay=delay)


def send_on_commit(actor: dramatiq.Actor, deployment: Deployment) -> None:
    """Send `actor` the deployment, on its host's queue, once the transaction commits."""
    host_name, deployment_id = deployment.host_name, deployment.pk
    transaction.on_commit(lambda: send_to_host(actor, host_name, deployment_id))


@dramatiq.actor(queue_name=this_host("build"), time_limit=70 * MINUTE_MS, max_retries=0)
def build_deployment(deployment_id: int) -> None:
    """Fetch, build, release, start, health-check and switch a queued deployment."""
    stop_after_drain(pipeline.build_and_deploy(deployment_id))


@dramatiq.actor(queue_name=this_host("deploy"), time_limit=15 * MINUTE_MS, max_retries=0)
def deploy_release(deployment_id: int) -> None:
    """Start an existing release again (rollback): no fetch, no build."""
    stop_after_drain(pipeline.deploy_existing_release(deployment_id))


def stop_after_drain(superseded_id: int | None) -> None:
    """The deployment a switch superseded keeps serving for the drain period (until Traefik
    has read the new route, then PAAS_DRAIN_SECONDS: routes.drain_seconds), then stops."""
    if superseded_id is not None:  # on this host: the switch ran here
        stop_deployment.send_with_options(args=(superseded_id,),
                                          delay=int(routes.drain_seconds() * 1000))


@dramatiq.actor(queue_name=this_host("deploy"), time_limit=2 * MINUTE_MS, max_retries=3)
def stop_deployment(deployment_id: int) -> None:
    """Stop a deployment's processes and free its ports (after a switch's drain period, or a
    Stop). Idempotent. Never stops the service's active deployment."""
    deployment = Deployment.objects.select_related("service").filter(pk=deployment_id).first()
    if deployment is None or deployment.status == Status.ACTIVE:
        return
    launch.stop_processes(deployment)
    pm2.save()


@dramatiq.actor(queue_name=this_host("deploy"), time_limit=2 * MINUTE_MS, max_retries=0)
def restart_deployment(deployment_id: int) -> None:
    deployment = Deployment.objects.select_related("service").filter(pk=deployment_id).first()
    if deployment is None or deployment.status != Status.ACTIVE:
        return
    names = launch.process_names_of(deployment)
    if names:
        pm2.restart(names)
        # Recorded, so that the monitor does not count these restarts as a crash loop.
        ProcessSample.objects.bulk_create(
            ProcessSample(deployment=deployment, process_name=name, status="restarted",
                          requested_restart=True)
            for name in names
        )
        log_once(deployment, f"Restarted {len(names)} process(es).", phase=Phase.RUNTIME)
    else:
        log_once(deployment, "No process to restart: the monitor will start them again.",
                 phase=Phase.RUNTIME)


@dramatiq.actor(queue_name=this_host("deploy"), time_limit=5 * MINUTE_MS, max_retries=3)
def remove_service_files(service_id: int, deployment_ids: list[int]) -> None:
    """What a deleted service ran and kept on this host: its processes and ports, releases,
    caches and logs (only what the panel created). Its rows are gone already."""
    for deployment_id in deployment_ids:
        launch.stop_processes_of(deployment_id)
    releases.remove_service_files(service_id)
    pm2.save()


@dramatiq.actor(queue_name=this_host("monitor"), time_limit=MINUTE_MS, max_retries=0)
def monitor_processes() -> None:
    """Read PM2's process list, record samples, detect crashes and roll back from them, and
    reconcile."""
    assert connection.schema_name == "public"
    for crash in monitor.run():
        with tenant_context(crash.workspace):
            roll_back_after_crash(crash)


@cron("* * * * *")
@dramatiq.actor(queue_name="default", time_limit=MINUTE_MS, max_retries=0)
def schedule_monitor() -> None:
    """The clock ticks every minute; each host seen lately gets a monitor pass every 15
    seconds (a host whose worker is gone gets none until it is back)."""
    hosts = {*Host.objects.seen_recently().values_list("name", flat=True),
             settings.PAAS_HOST_NAME}
    for host_name in sorted(hosts):
        for delay in range(0, MINUTE_MS, monitor.INTERVAL_MS):
            send_to_host(monitor_processes, host_name, delay=delay)


@cron("7 * * * *")
@dramatiq.actor(queue_name="default", time_limit=10 * MINUTE_MS, max_retries=0)
def drop_expired_logs() -> None:
    """Every hour, drop each workspace's log partitions whose lines have expired (each
    service keeps its lines `log_retention_days`)."""
    workspaces = Workspace.objects.exclude(
        schema_name__in=[get_public_schema_name(), settings.TENANT_BASE_SCHEMA])
    for workspace in workspaces:
        with tenant_context(workspace):
            logstore.drop_expired()


def roll_back_after_crash(crash: monitor.Crash) -> None:
    """Start the last healthy release again after a crash, as an automatic rollback."""
    crashed = (Deployment.objects.select_related("service").filter(pk=crash.deployment_id)
               .first())
    if crashed is None:
        return
    # Never the release that just crashed (a rollback's is its source's).
    target = (Deployment.objects.rollback_targets(crashed.service)
              .filter(number__lt=crashed.number).exclude(release_dir=crashed.release_dir)
              .first())
    if target is None:
        log_once(crashed, "No earlier healthy release to roll back to; deploy a fix.",
                 phase=Phase.MONITOR)
        return
    new = start_rollback(target, triggered_by=AUTOMATIC_ROLLBACK, automatic=True,
                         reason=f"Automatic rollback: #{crashed.number} crashed ({crash.reason}).")
    log_once(crashed, f"Rolling back automatically to #{target.number} (as #{new.number}).",
             phase=Phase.MONITOR)


def start_rollback(target: Deployment, *, triggered_by: str, reason: str = "",
                   automatic: bool = False) -> Deployment:
    """A new deployment that starts `target`'s release again with its variables snapshot:
    no fetch, no build. Sent to the worker once the transaction commits."""
    with transaction.atomic():
        new = Deployment.objects.create_next(
            target.service, Trigger.ROLLBACK, triggered_by, source_deployment=target,
            commit_sha=target.commit_sha, commit_message=target.commit_message,
            commit_author=target.commit_author, source_archive=target.source_archive,
            release_dir=target.release_dir,
            automatic=automatic, host_name=target.host_name,  # where the release is
        )
        send_on_commit(deploy_release, new)
    if reason:
        log_once(new, reason, phase=Phase.RELEASE)
    return new
