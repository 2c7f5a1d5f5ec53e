"""The deploy pipeline of DESIGN.md §5, run by the worker: fetch, build, release, start, health,
switch. Each step logs what it does; a failure at any step leaves the previous active
deployment serving and untouched, and removes what this deployment created.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from deployments import pm2, ports, releases, routes
from deployments.builders import BuildError, cache_env, detect
from deployments.health import checked_path, wait_healthy
from deployments.logstream import LogWriter, secret_values
from deployments.models import Deployment, IllegalTransition, Phase, Status, Stream
from deployments.runner import Cancelled, CommandFailed, Control, TimedOut, build_slot
from deployments.source import SourceError, fetch, source_root
from projects.models import Service
from projects.references import public_domain
from projects.validators import validate_command
from projects.variables import read_snapshot, snapshot_variables, store_snapshot
from tenants import events

logger = logging.getLogger(__name__)


class DeployFailed(Exception):
    """A step failed; the message is the deployment's failure reason (shown to the user)."""


def changed(deployment: Deployment) -> None:
    events.publish(connection.schema_name, "deployment_changed",
                   service_id=deployment.service_id, deployment_id=deployment.pk,
                   status=str(deployment.status))


def process_name(deployment: Deployment, process_type: str, index: int) -> str:
    """`<schema>.<service>-<service id>.d<number>.<type>.<index>`: unique on the host."""
    service = deployment.service
    return (f"{connection.schema_name}.{service.name}-{service.pk}.d{deployment.number}"
            f".{process_type}.{index}")


def base_env(values: dict[str, str], deployment: Deployment, manifest: releases.Manifest,
             release: Path) -> dict[str, str]:
    """What builds and processes of the release see: the variables snapshot, the platform's
    metadata, and a PATH of the host's (never the panel's own environment)."""
    prefix = [str(release / entry) for entry in manifest.path_prefix]
    return {
        **values,
        **manifest.env,
        "PAAS_DEPLOYMENT_ID": str(deployment.pk),
        "PAAS_GIT_COMMIT_SHA": deployment.commit_sha,
        "PAAS_SERVICE_NAME": deployment.service.name,
        "PAAS_PUBLIC_DOMAIN": public_domain(deployment.service),
        "PATH": ":".join([*prefix, settings.PAAS_APP_PATH]),
        "HOME": str(release),
        "LANG": "C.UTF-8",
    }


# Build -------------------------------------------------------------------------------------


def build_and_deploy(deployment_id: int) -> None:
    """The build actor's body: a queued deployment, from its repository to serving."""
    deployment = (Deployment.objects.select_related("service__environment__project")
                  .filter(pk=deployment_id).first())
    if deployment is None or deployment.status != Status.QUEUED:
        return  # cancelled while queued, or a second delivery of the message
    with LogWriter(deployment) as log:
        control = Control(deployment, log)
        try:
            deployment.transition(Status.BUILDING)
        except IllegalTransition:
            return
        changed(deployment)
        control.beat(force=True)
        _run(deployment, control, lambda: _build(deployment, control))


def deploy_existing_release(deployment_id: int) -> None:
    """The rollback actor's body: start the source deployment's release again, no build."""
    deployment = (Deployment.objects.select_related("service__environment__project",
                                                    "source_deployment")
                  .filter(pk=deployment_id).first())
    if deployment is None or deployment.status != Status.QUEUED:
        return
    with LogWriter(deployment) as log:
        control = Control(deployment, log)
        try:
            deployment.transition(Status.DEPLOYING)
        except IllegalTransition:
            return
        changed(deployment)
        control.beat(force=True)

        def steps() -> None:
            source = deployment.source_deployment
            if source is None or not releases.release_exists(source):
                raise DeployFailed("The release to roll back to no longer exists.")
            log.write(f"Rolling back to the release of #{source.number} "
                      f"({source.commit_sha[:7] or 'no commit'}); no rebuild.",
                      phase=Phase.RELEASE, stream=Stream.DEPLOY)
            values = read_snapshot(source)
            store_snapshot(deployment, values)
            log.add_secrets(secret_values(values))
            _deploy(deployment, control, values)

        _run(deployment, control, steps)


def _run(deployment: Deployment, control: Control, steps: Callable[[], None]) -> None:
    """Run the steps; turn every way they can end into the deployment's final status."""
    log = control.log
    try:
        steps()
    except Cancelled:
        log.write("Cancelled.", phase=Phase.BUILD, stream=Stream.DEPLOY)
        _give_up(deployment, Status.CANCELLED, "Cancelled.")
    except TimedOut:
        reason = f"The build took longer than {control.timeout_minutes} minutes and was stopped."
        log.write(reason, phase=Phase.BUILD, stream=Stream.DEPLOY)
        _give_up(deployment, Status.FAILED, reason)
    except (DeployFailed, SourceError, BuildError, CommandFailed, routes.RouteTaken) as error:
        log.write(f"Failed: {error}", phase=Phase.BUILD, stream=Stream.DEPLOY)
        _give_up(deployment, Status.FAILED, str(error))
    except Exception:
        logger.exception("deployment %s of %s failed", deployment.pk, connection.schema_name)
        log.write("Failed: an internal error of the panel (see the worker's log).",
                  phase=Phase.BUILD, stream=Stream.DEPLOY)
        _give_up(deployment, Status.FAILED, "Internal error of the panel.")
    finally:
        deployment.timings.setdefault("total", round(time.monotonic() - control.started, 3))
        Deployment.objects.filter(pk=deployment.pk).update(timings=deployment.timings)
        log.flush()


def _give_up(deployment: Deployment, status: Status, reason: str) -> None:
    """Undo what this deployment started; the previous active deployment is not touched."""
    deployment.refresh_from_db(fields=["status"])
    if deployment.status == Status.ACTIVE:  # it went live; what failed after is cosmetic
        return
    stop_processes(deployment)
    if deployment.release_dir and not deployment.source_deployment_id:
        releases.remove_release_dir(Path(deployment.release_dir), deployment)
    if deployment.status in (Status.QUEUED, Status.BUILDING, Status.DEPLOYING):
        try:
            deployment.transition(status, reason=reason)
        except IllegalTransition:
            pass
    changed(deployment)


def process_names_of(deployment: Deployment,
                     processes: list[pm2.ProcessInfo] | None = None) -> list[str]:
    """The names of the deployment's processes PM2 runs now."""
    prefix = f"{connection.schema_name}."
    return [info.name for info in (pm2.jlist() if processes is None else processes)
            if info.env_deployment_id == str(deployment.pk) and info.name.startswith(prefix)]


def stop_processes(deployment: Deployment) -> None:
    """Delete the deployment's processes from PM2 and free its ports."""
    names = process_names_of(deployment)
    if names:
        pm2.delete(names)
    ports.release(connection.schema_name, deployment.pk)


def _timed(deployment: Deployment, phase: str, started: float) -> None:
    deployment.timings[phase] = round(time.monotonic() - started, 3)


def _build(deployment: Deployment, control: Control) -> None:
    log = control.log
    service = deployment.service
    deployment.timings["queued"] = round(
        (deployment.started_at - deployment.created_at).total_seconds(), 3)
    if not snapshot_variables(deployment):  # an unresolved reference: failed, reason named
        log.write(f"Failed: {deployment.error_reason}", phase=Phase.BUILD, stream=Stream.DEPLOY)
        changed(deployment)
        return
    values = read_snapshot(deployment)
    log.add_secrets(secret_values(values))

    release = releases.create_release_dir(deployment)
    deployment.release_dir = str(release)
    deployment.save(update_fields=["release_dir"])

    started = time.monotonic()
    where = f"{service.branch}" + (f" at {deployment.commit_sha[:12]}"
                                   if deployment.commit_sha else "")
    log.write(f"Fetching {service.repository_url} ({where})", phase=Phase.FETCH,
              stream=Stream.DEPLOY)
    commit = fetch(
        service.repository_url, service.branch, release / "src", commit=deployment.commit_sha,
        log=lambda line: log.write(line, phase=Phase.FETCH),
        run=lambda argv, env, cwd: control.run(argv, env, cwd, phase=Phase.FETCH),
    )
    deployment.commit_sha, deployment.commit_message = commit.sha, commit.message[:2000]
    deployment.commit_author = commit.author[:200]
    deployment.save(update_fields=["commit_sha", "commit_message", "commit_author"])
    subject = commit.message.splitlines()[0] if commit.message else ""
    log.write(f"Commit {commit.sha[:12]}: {subject}", phase=Phase.FETCH, stream=Stream.DEPLOY)
    _timed(deployment, "fetch", started)

    started = time.monotonic()
    for command in (service.build_command, service.start_command):
        if command:
            validate_command(command)
    app_dir = source_root(release / "src", service.root_directory)
    plan = detect(app_dir, build_command=service.build_command,
                  start_command=service.start_command)
    manifest = releases.Manifest(
        runtime=plan.runtime, app_dir=str(app_dir.relative_to(release)),
        processes=plan.processes,
        path_prefix=[str(Path(entry).relative_to(release)) if Path(entry).is_absolute()
                     else entry for entry in plan.path_prefix],
        env=plan.env,
    )
    log.write(f"Detected {plan.runtime}; processes: {', '.join(plan.processes)}",
              phase=Phase.BUILD, stream=Stream.DEPLOY)
    env = {**base_env(values, deployment, manifest, release),
           **cache_env(releases.cache_dir_for(deployment)), "CI": "true"}
    env["HOME"] = str(releases.cache_dir_for(deployment))
    with build_slot(control):
        control.start_deadline(service.build_timeout)
        for step in plan.steps:
            control.run_checked(step.argv, env, step.cwd, phase=Phase.BUILD, label=step.label)
        control.deadline = None
    _timed(deployment, "build", started)

    manifest.write(release)
    deployment.runtime = plan.runtime
    deployment.processes = {kind: " ".join(argv) for kind, argv in plan.processes.items()}
    deployment.save(update_fields=["runtime", "processes", "timings"])
    log.write(f"Release #{deployment.number} ready.", phase=Phase.RELEASE, stream=Stream.DEPLOY)
    deployment.transition(Status.DEPLOYING)
    changed(deployment)
    _deploy(deployment, control, values)


# Run, health, switch ------------------------------------------------------------------------


def _deploy(deployment: Deployment, control: Control, values: dict[str, str]) -> None:
    log = control.log
    service = deployment.service
    release = Path(deployment.release_dir)
    manifest = releases.Manifest.read(release)
    if not deployment.runtime:
        deployment.runtime = manifest.runtime
        deployment.processes = {kind: " ".join(argv)
                                for kind, argv in manifest.processes.items()}
        deployment.save(update_fields=["runtime", "processes"])
    started = time.monotonic()
    apps, web_ports = app_specs(deployment, values, manifest)
    if web_ports:
        deployment.port = web_ports[0]
        deployment.save(update_fields=["port"])
    log.write(f"Starting {len(apps)} process{'es' if len(apps) != 1 else ''} under PM2"
              + (f" on port{'s' if len(web_ports) > 1 else ''} "
                 f"{', '.join(map(str, web_ports))}" if web_ports else ""),
              phase=Phase.START, stream=Stream.DEPLOY)
    pm2.start(apps)
    _timed(deployment, "start", started)

    started = time.monotonic()
    path = checked_path(service.healthcheck_path)
    what = f"HTTP 2xx on {path}" if path else "the port to listen"
    log.write(f"Waiting up to {service.healthcheck_timeout} s for {what}", phase=Phase.HEALTH,
              stream=Stream.DEPLOY)
    deadline = time.monotonic() + service.healthcheck_timeout
    names = [app.name for app in apps]
    healthy, seen = wait_healthy(
        web_ports, path, wait=control.sleep, deadline=lambda: time.monotonic() > deadline,
        alive=_death_watch(names),
    )
    if healthy and not web_ports:  # workers only: they must still be up after a moment
        control.sleep(min(2.0, service.healthcheck_timeout))
        problem = _dead(names)
        healthy, seen = problem is None, problem or "processes are running"
    if not healthy:
        tail = []
        for app in apps:
            tail += [f"[{app.name}] {line}" for line in pm2.tail(app.log_file, 20)]
        for line in tail:
            log.write(line, phase=Phase.HEALTH, stream=Stream.RUNTIME)
        raise DeployFailed(
            f"Health check failed: {seen} after {round(time.monotonic() - started)} s"
            + ("; last output:\n" + "\n".join(tail[-10:]) if tail else "; no output.")
        )
    log.write(f"Healthy: {seen}", phase=Phase.HEALTH, stream=Stream.DEPLOY)
    _timed(deployment, "health", started)
    _switch(deployment, control, web_ports)


def app_specs(deployment: Deployment, values: dict[str, str], manifest: releases.Manifest,
              reuse_ports: dict[str, int] | None = None) -> tuple[list[pm2.AppSpec], list[int]]:
    """One PM2 app per process type (and per instance for `web`), each web instance with a
    port of its own. `reuse_ports` (name → port) restarts a deployment on its ports."""
    service = deployment.service
    release = Path(deployment.release_dir)
    app_dir = release / manifest.app_dir
    log_dir = releases.log_dir_for(deployment)
    # The service's npm/pip caches also at run time: `npm start` in a fresh HOME spends a
    # quarter of a second setting up a cache directory before it starts the app.
    env = {**cache_env(releases.cache_dir_for(deployment)),
           **base_env(values, deployment, manifest, release), "HOME": str(app_dir)}
    apps, web_ports = [], []
    for kind, argv in manifest.processes.items():
        for index in range(service.instances if kind == "web" else 1):
            name = process_name(deployment, kind, index)
            app_env = {**env, "PAAS_PROCESS_TYPE": kind}
            if kind == "web":
                port = (reuse_ports or {}).get(name) or ports.allocate(
                    connection.schema_name, deployment.pk, name)
                web_ports.append(port)
                app_env["PORT"] = str(port)
            apps.append(pm2.AppSpec(
                name=name, argv=argv, cwd=app_dir, env=app_env,
                restart_policy=service.restart_policy, max_restarts=service.max_restarts,
                log_file=log_dir / f"{kind}-{index}.log",
            ))
    return apps, web_ports


def respawn(deployment: Deployment) -> None:
    """Start an active deployment's processes again, on the ports it holds (the monitor, after
    PM2 lost them)."""
    from tenants.models import PortAllocation

    held = dict(PortAllocation.objects.filter(
        schema_name=connection.schema_name, deployment_id=deployment.pk
    ).values_list("process_name", "port"))
    manifest = releases.Manifest.read(Path(deployment.release_dir))
    apps, _ = app_specs(deployment, read_snapshot(deployment), manifest, reuse_ports=held)
    pm2.start(apps)
    pm2.save()


def fail_abandoned(deployment: Deployment, reason: str) -> None:
    """A deployment whose worker died: failed, and what it started removed."""
    with LogWriter(deployment) as log:
        log.write(f"Failed: {reason}", phase=Phase.MONITOR, stream=Stream.DEPLOY)
    _give_up(deployment, Status.FAILED, reason)


def _dead(names: list[str]) -> str | None:
    """Why one of the processes is not running, or None."""
    by_name = {info.name: info for info in pm2.jlist()}
    for name in names:
        info = by_name.get(name)
        if info is None:
            return f"{name} is not running"
        if info.status in ("errored", "stopped"):
            return f"{name} exited ({info.status}, {info.restarts} restarts)"
    return None


def _death_watch(names: list[str], every: float = 2.0):
    """`alive` for wait_healthy: asks PM2 at most every `every` seconds (a CLI call costs)."""
    last = time.monotonic()

    def check() -> str | None:
        nonlocal last
        if time.monotonic() - last < every:
            return None
        last = time.monotonic()
        return _dead(names)

    return check


def _switch(deployment: Deployment, control: Control, web_ports: list[int]) -> None:
    from deployments.tasks import stop_deployment

    log = control.log
    started = time.monotonic()
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=deployment.service_id)
        previous = service.active_deployment
        if (previous is not None and previous.number > deployment.number
                and previous.status == Status.ACTIVE):
            raise DeployFailed(f"A newer deployment (#{previous.number}) went live first.")
        deployment.transition(Status.ACTIVE)
        if previous is not None and previous.status == Status.ACTIVE:
            previous.transition(Status.SUPERSEDED)
        service.active_deployment = deployment
        service.save(update_fields=["active_deployment"])
        routes.point(service, deployment, web_ports)
        if previous is not None:
            drain_ms = int(settings.PAAS_DRAIN_SECONDS * 1000)
            transaction.on_commit(lambda: stop_deployment.send_with_options(
                args=(previous.pk,), delay=drain_ms))
        # The log and timings commit with the switch: whoever sees "active" sees them too.
        log.write(f"Live: {public_domain(service)} now routes to #{deployment.number}"
                  + (f"; #{previous.number} keeps serving for {settings.PAAS_DRAIN_SECONDS:g} "
                     "s, then stops" if previous is not None else ""),
                  phase=Phase.SWITCH, stream=Stream.DEPLOY)
        log.flush()
        _timed(deployment, "switch", started)
        deployment.timings["total"] = round(time.monotonic() - control.started, 3)
        Deployment.objects.filter(pk=deployment.pk).update(timings=deployment.timings)
    pm2.save()
    changed(deployment)
    if previous is not None:
        changed(previous)
    removed = releases.prune_releases(service.pk)
    if removed:
        log.write(f"Removed old releases: {', '.join(f'#{n}' for n in removed)}",
                  phase=Phase.SWITCH, stream=Stream.DEPLOY)
