"""What users (pages, the API, webhooks) ask of the deploy engine. Each function checks what is
possible, changes the database, and enqueues the work on commit (deployments.tasks); the worker
does the rest. Callers have checked the role (tenants.access)."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from typing import BinaryIO

from django.db import transaction

from deployments import archives, routes, tasks
from deployments.logs import log_once
from deployments.models import Deployment, Phase, SourceArchive, Status, Trigger
from projects.models import Service
from tenants import audit
from tenants.models import AuditAction


class DeployRefused(Exception):
    """The action is not possible now; str(error) tells the user why."""


def trigger_deployment(service: Service, trigger: Trigger = Trigger.MANUAL, *,
                       triggered_by: str = "", commit_sha: str = "",
                       source: Deployment | None = None,
                       source_archive: SourceArchive | None = None) -> Deployment:
    """The one entry point of a build: a queued deployment of the branch head (or of
    `commit_sha`, or of an uploaded `source_archive`), built by the worker once the
    transaction commits."""
    if not service.repository_url and source_archive is None:
        raise DeployRefused("Add a repository URL to the service first.")
    with transaction.atomic():
        deployment = Deployment.objects.create_next(
            service, trigger, triggered_by, commit_sha=commit_sha, source_deployment=source,
            source_archive=source_archive)
        tasks.send_on_commit(tasks.build_deployment, deployment)
        upload = {"upload": source_archive.short_sha} if source_archive else {}
        audit.record(AuditAction.REDEPLOYED if source else AuditAction.DEPLOYED, deployment,
                     service=service.name, commit=commit_sha, trigger=trigger, **upload)
    return deployment


def deploy_upload(service: Service, archive: bytes | BinaryIO, *,
                  trigger: Trigger = Trigger.API, triggered_by: str = "") -> Deployment:
    """Deploy an uploaded source tree (a .tar.gz, as bytes or a file read from its start):
    checked whole (size, every entry, expansion) before anything is stored, then kept in the
    database for every host and built like a checkout. Raises DeployRefused saying what is
    wrong with it."""
    limits = archives.Limits.from_settings()
    with tempfile.TemporaryFile(prefix="paas-upload-") as spooled:
        try:
            size, sha256 = archives.spool(archive, spooled, limits)
            summary = archives.check(spooled, size, limits)
        except archives.ArchiveRefused as error:
            raise DeployRefused(str(error)) from None
        with transaction.atomic():
            stored = SourceArchive.objects.create(
                service=service, size=size, sha256=sha256, files=summary.files,
                expanded_bytes=summary.bytes, uploaded_by=triggered_by[:254])
            stored.store_bytes(spooled)
            return trigger_deployment(service, trigger, triggered_by=triggered_by,
                                      source_archive=stored)


def redeploy(service: Service, *, triggered_by: str = "") -> Deployment:
    """Build the commit (or the upload) that runs now (or ran last) again, with the current
    variables."""
    current = service.latest_built()
    if current is None or not (current.commit_sha or current.source_archive_id):
        raise DeployRefused("Nothing has been deployed yet; use Deploy.")
    return trigger_deployment(service, Trigger.MANUAL, triggered_by=triggered_by,
                              commit_sha=current.commit_sha, source=current,
                              source_archive=current.source_archive)


def rollback(deployment: Deployment, *, triggered_by: str = "") -> Deployment:
    """Start `deployment`'s release again with its variables snapshot: no fetch, no build."""
    if not Deployment.objects.rollback_targets(deployment.service).filter(
            pk=deployment.pk).exists():
        raise DeployRefused(
            f"#{deployment.number} cannot be rolled back to: only earlier successful "
            "deployments whose release is kept can."
        )
    rollback = tasks.start_rollback(deployment, triggered_by=triggered_by)
    audit.record(AuditAction.ROLLED_BACK, rollback, service=deployment.service.name,
                 to=deployment.number)
    return rollback


def cancel_deployment(deployment: Deployment, *, by: str = "") -> None:
    """Cancel a deployment that has not gone live. Queued: at once. Building or deploying: the
    worker stops its commands and removes what it started (within a second or two)."""
    if not deployment.is_in_progress:
        raise DeployRefused(f"#{deployment.number} is {deployment.get_status_display().lower()}"
                            "; only queued, building or deploying deployments can be cancelled.")
    with transaction.atomic():
        locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if locked.status == Status.QUEUED:
            locked.transition(Status.CANCELLED, reason=f"Cancelled by {by}." if by else "")
        elif locked.is_in_progress:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
            locked.publish_changed()
        else:
            raise DeployRefused(f"#{locked.number} already finished.")
    audit.record(AuditAction.CANCELLED, locked, service=deployment.service.name)
    if by:
        log_once(locked, f"Cancel requested by {by}.", phase=Phase.BUILD)


def _active(service: Service) -> Deployment:
    active = service.active_deployment
    if active is None or active.status != Status.ACTIVE:
        raise DeployRefused("The service has no active deployment.")
    return active


def restart_service(service: Service, *, by: str = "") -> None:
    """Restart the active deployment's processes (same release, same variables)."""
    active = _active(service)
    log_once(active, f"Restart requested by {by or 'the panel'}.", phase=Phase.RUNTIME)
    tasks.send_on_commit(tasks.restart_deployment, active)
    audit.record(AuditAction.RESTARTED, service)


def stop_service(service: Service, *, by: str = "") -> None:
    """Stop serving: the active deployment is removed, its route dropped, its processes and
    ports freed. Its release stays for a rollback. A crashed deployment that PM2 keeps
    restarting (nothing to roll back to) is stopped the same way, keeping its status."""
    with transaction.atomic():
        locked = Service.objects.select_for_update().get(pk=service.pk)
        current = (Deployment.objects.select_for_update()
                   .filter(pk=locked.active_deployment_id).first())
        if current is None or current.status not in (Status.ACTIVE, Status.CRASHED):
            raise DeployRefused("The service has no active deployment.")
        if current.status == Status.ACTIVE:
            current.transition(Status.REMOVED, reason=f"Stopped by {by}." if by else "Stopped.")
        else:
            current.publish_changed()
        locked.active_deployment = None
        locked.save(update_fields=["active_deployment"])
        routes.remove(locked)
        tasks.send_on_commit(tasks.stop_deployment, current)
    service.active_deployment = None
    audit.record(AuditAction.STOPPED, service, deployment=current.number)
    log_once(current, f"Stopped by {by or 'the panel'}.", phase=Phase.RUNTIME)


def tear_down(service: Service) -> None:
    """Before the service is deleted (with its project): builds in progress are cancelled,
    its route dropped, and once the deletion commits its processes, ports, releases, caches
    and logs are removed from its host."""
    service.deployments.in_progress().update(cancel_requested=True)
    routes.remove(service)
    by_host: dict[str, list[int]] = defaultdict(list)
    for pk, host_name in service.deployments.values_list("pk", "host_name"):
        by_host[host_name or service.host_name].append(pk)
    service_id = service.pk
    for host_name, deployment_ids in by_host.items():
        transaction.on_commit(lambda h=host_name, ids=deployment_ids: tasks.send_to_host(
            tasks.remove_service_files, h, service_id, ids))
