"""What users (pages, the API, webhooks) ask of the deploy engine. Each function checks what is
possible, changes the database, and enqueues the work on commit; the worker does the rest
(deployments.pipeline). Callers have checked the role (tenants.access)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max, QuerySet

from deployments import pm2, releases, routes
from deployments.launch import changed, stop_processes
from deployments.logstream import log_once
from deployments.models import IN_PROGRESS, Deployment, Phase, Status, Trigger
from projects.models import Service


class DeployRefused(Exception):
    """The action is not possible now; str(error) tells the user why."""


def _new_deployment(service: Service, trigger: Trigger, triggered_by: str,
                    **fields: object) -> Deployment:
    locked = Service.objects.select_for_update().get(pk=service.pk)
    last = locked.deployments.aggregate(last=Max("number"))["last"] or 0
    return Deployment.objects.create(
        service=locked, number=last + 1, trigger=trigger, triggered_by=triggered_by[:254],
        **fields,
    )


def trigger_deployment(service: Service, trigger: Trigger = Trigger.MANUAL, *,
                       triggered_by: str = "", commit_sha: str = "",
                       source: Deployment | None = None) -> Deployment:
    """The one entry point of a build: a queued deployment of the branch head (or of
    `commit_sha`), built by the worker once the transaction commits."""
    from deployments.tasks import build_deployment

    if not service.repository_url:
        raise DeployRefused("Add a repository URL to the service first.")
    with transaction.atomic():
        deployment = _new_deployment(service, trigger, triggered_by, commit_sha=commit_sha,
                                     source_deployment=source)
        transaction.on_commit(lambda: build_deployment.send(deployment.pk))
    changed(deployment)
    return deployment


def latest_deployment(service: Service) -> Deployment | None:
    return service.active_deployment or service.deployments.exclude(commit_sha="").first()


def redeploy(service: Service, *, triggered_by: str = "") -> Deployment:
    """Build the commit that runs now (or ran last) again, with the current variables."""
    current = latest_deployment(service)
    if current is None or not current.commit_sha:
        raise DeployRefused("Nothing has been deployed yet; use Deploy.")
    return trigger_deployment(service, Trigger.MANUAL, triggered_by=triggered_by,
                              commit_sha=current.commit_sha, source=current)


def rollback_candidates(service: Service) -> QuerySet[Deployment]:
    """Earlier successful deployments whose release is still on the host."""
    kept = service.deployments.filter(
        status__in=(Status.SUPERSEDED, Status.REMOVED)
    ).exclude(release_dir="").exclude(pk=service.active_deployment_id or 0)
    ids = [d.pk for d in kept if releases.release_exists(d)]
    return service.deployments.filter(pk__in=ids)


def rollback(deployment: Deployment, *, triggered_by: str = "",
             reason: str = "") -> Deployment:
    """Start `deployment`'s release again with its variables snapshot: no fetch, no build."""
    from deployments.tasks import deploy_release

    service = deployment.service
    if not rollback_candidates(service).filter(pk=deployment.pk).exists():
        raise DeployRefused(
            f"#{deployment.number} cannot be rolled back to: only earlier successful "
            "deployments whose release is kept can."
        )
    with transaction.atomic():
        new = _new_deployment(
            service, Trigger.ROLLBACK, triggered_by, source_deployment=deployment,
            commit_sha=deployment.commit_sha, commit_message=deployment.commit_message,
            commit_author=deployment.commit_author, release_dir=deployment.release_dir,
        )
        transaction.on_commit(lambda: deploy_release.send(new.pk))
    if reason:
        log_once(new, reason, phase=Phase.RELEASE)
    changed(new)
    return new


def cancel_deployment(deployment: Deployment, *, by: str = "") -> None:
    """Cancel a deployment that has not gone live. Queued: at once. Building or deploying: the
    worker stops its commands and removes what it started (within a second or two)."""
    if deployment.status not in IN_PROGRESS:
        raise DeployRefused(f"#{deployment.number} is {deployment.get_status_display().lower()}"
                            "; only queued, building or deploying deployments can be cancelled.")
    with transaction.atomic():
        locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if locked.status == Status.QUEUED:
            locked.transition(Status.CANCELLED, reason=f"Cancelled by {by}." if by else "")
        elif locked.status in IN_PROGRESS:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
        else:
            raise DeployRefused(f"#{locked.number} already finished.")
    if by:
        log_once(locked, f"Cancel requested by {by}.", phase=Phase.BUILD)
    changed(locked)


def _active(service: Service) -> Deployment:
    active = service.active_deployment
    if active is None or active.status != Status.ACTIVE:
        raise DeployRefused("The service has no active deployment.")
    return active


def restart_service(service: Service, *, by: str = "") -> None:
    """Restart the active deployment's processes (same release, same variables)."""
    from deployments.tasks import restart_deployment

    active = _active(service)
    log_once(active, f"Restart requested by {by or 'the panel'}.", phase=Phase.RUNTIME)
    transaction.on_commit(lambda: restart_deployment.send(active.pk))


def stop_service(service: Service, *, by: str = "") -> None:
    """Stop serving: the active deployment is removed, its route dropped, its processes and
    ports freed. Its release stays for a rollback. A crashed deployment that PM2 keeps
    restarting (nothing to roll back to) is stopped the same way, keeping its status."""
    from deployments.tasks import stop_deployment

    with transaction.atomic():
        locked = Service.objects.select_for_update().get(pk=service.pk)
        current = (Deployment.objects.select_for_update()
                   .filter(pk=locked.active_deployment_id).first())
        if current is None or current.status not in (Status.ACTIVE, Status.CRASHED):
            raise DeployRefused("The service has no active deployment.")
        if current.status == Status.ACTIVE:
            current.transition(Status.REMOVED, reason=f"Stopped by {by}." if by else "Stopped.")
        locked.active_deployment = None
        locked.save(update_fields=["active_deployment"])
        routes.remove(locked)
        transaction.on_commit(lambda: stop_deployment.send(current.pk))
    service.active_deployment = None
    log_once(current, f"Stopped by {by or 'the panel'}.", phase=Phase.RUNTIME)
    changed(current)


def tear_down(service: Service) -> None:
    """Remove what the service runs and keeps on the host, before it is deleted: builds in
    progress are cancelled, its route dropped, its processes and ports freed, and its
    releases, caches and logs removed (only what the panel created)."""
    service.deployments.filter(status__in=IN_PROGRESS).update(cancel_requested=True)
    routes.remove(service)
    for deployment in service.deployments.all():
        stop_processes(deployment)
    releases.remove_service_files(service.pk)
    pm2.save()
