"""Actors of the deploy engine (Dramatiq). They take ids, never secrets, and run in the schema
of the workspace that enqueued them (config.dramatiq). The deployment row is the truth: a
second delivery of a message finds its deployment no longer queued and does nothing."""

import dramatiq
from django.db import connection
from dramatiq_crontab import cron

from deployments import launch, monitor, pipeline, pm2
from deployments.logstream import log_once
from deployments.models import Deployment, Phase, ProcessSample, Status

MINUTE_MS = 60 * 1000


@dramatiq.actor(queue_name="build", time_limit=70 * MINUTE_MS, max_retries=0)
def build_deployment(deployment_id: int) -> None:
    """Fetch, build, release, start, health-check and switch a queued deployment."""
    pipeline.build_and_deploy(deployment_id)


@dramatiq.actor(queue_name="deploy", time_limit=15 * MINUTE_MS, max_retries=0)
def deploy_release(deployment_id: int) -> None:
    """Start an existing release again (rollback): no fetch, no build."""
    pipeline.deploy_existing_release(deployment_id)


@dramatiq.actor(queue_name="deploy", time_limit=2 * MINUTE_MS, max_retries=3)
def stop_deployment(deployment_id: int) -> None:
    """Stop a deployment's processes and free its ports (after a switch's drain period, or a
    Stop). Idempotent. Never stops the service's active deployment."""
    deployment = Deployment.objects.select_related("service").filter(pk=deployment_id).first()
    if deployment is None or deployment.status == Status.ACTIVE:
        return
    launch.stop_processes(deployment)
    pm2.save()


@dramatiq.actor(queue_name="deploy", time_limit=2 * MINUTE_MS, max_retries=0)
def restart_deployment(deployment_id: int) -> None:
    deployment = Deployment.objects.select_related("service").filter(pk=deployment_id).first()
    if deployment is None or deployment.status != Status.ACTIVE:
        return
    names = launch.process_names_of(deployment)
    if names:
        pm2.restart(names)
        # Recorded, so that the monitor does not count these restarts as a crash loop.
        ProcessSample.objects.bulk_create(
            ProcessSample(deployment=deployment, process_name=name, status=monitor.RESTARTED)
            for name in names
        )
        log_once(deployment, f"Restarted {len(names)} process(es).", phase=Phase.RUNTIME)
    else:
        log_once(deployment, "No process to restart: the monitor will start them again.",
                 phase=Phase.RUNTIME)


@dramatiq.actor(queue_name="monitor", time_limit=MINUTE_MS, max_retries=0)
def monitor_processes() -> None:
    """Read PM2's process list, record samples, detect crashes, and reconcile."""
    assert connection.schema_name == "public"
    monitor.run()


@cron("* * * * *")
@dramatiq.actor(queue_name="monitor", time_limit=MINUTE_MS, max_retries=0)
def schedule_monitor() -> None:
    """The clock ticks every minute; the monitor runs every 15 seconds."""
    for delay in range(0, MINUTE_MS, monitor.INTERVAL_MS):
        monitor_processes.send_with_options(delay=delay)
