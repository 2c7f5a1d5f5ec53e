"""Running a release: its processes under PM2 (one per process type, and per instance of
`web`, each web instance on a port of its own), the health check, and the switch of the
service's route to it. Used by the build pipeline, by rollbacks and by the monitor."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from deployments import routes
from deployments.engine import accounts, pm2, ports, releases
from deployments.engine.builders import cache_env
from deployments.engine.health import checked_path, wait_healthy
from deployments.engine.limits import Limits
from deployments.engine.runner import Cancelled, Control
from deployments.models import Deployment, Phase, Status, Stream
from deployments.snapshots import read_snapshot
from projects.domains import public_domain
from projects.models import Service

# Of the processes' last output, what a failed health check's reason shows at most.
MAX_TAIL_LINES = 40


class DeployFailed(Exception):
    """A step failed; the message is the deployment's failure reason (shown to the user)."""


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


def process_names_of(deployment: Deployment | int,
                     processes: list[pm2.ProcessInfo] | None = None) -> list[str]:
    """The names of the deployment's processes PM2 runs now (given the deployment or its
    id: a deleted deployment's processes too)."""
    deployment_id = deployment if isinstance(deployment, int) else deployment.pk
    prefix = f"{connection.schema_name}."
    return [info.name for info in (pm2.jlist() if processes is None else processes)
            if info.env_deployment_id == str(deployment_id) and info.name.startswith(prefix)]


def stop_processes_of(deployment_id: int) -> None:
    """Delete the deployment's processes from PM2 and free its ports."""
    names = process_names_of(deployment_id)
    if names:
        pm2.delete(names)
    ports.release(connection.schema_name, deployment_id)


def stop_processes(deployment: Deployment) -> None:
    stop_processes_of(deployment.pk)


def timed(deployment: Deployment, phase: str, started: float) -> None:
    deployment.timings[phase] = round(time.monotonic() - started, 3)


def deploy(deployment: Deployment, control: Control, values: dict[str, str]) -> int | None:
    """Run a built release and make it the service's, one named step after another:

    1. `_start`: its processes under PM2 (web instances on ports of their own);
    2. `_wait_healthy`: HTTP 2xx on the health check path (or a listening port), watching
       that no process died; on failure the last output is in the reason (DeployFailed);
    3. `_switch`: the service's route moves to it, the previous deployment is superseded.

    Returns the deployment it superseded, whose processes the caller stops once the drain
    period is over (None when there was none)."""
    manifest = releases.Manifest.read(Path(deployment.release_dir))
    if not deployment.runtime:
        deployment.runtime = manifest.runtime
        deployment.processes = {kind: " ".join(argv)
                                for kind, argv in manifest.processes.items()}
        deployment.save(update_fields=["runtime", "processes"])
    apps, web_ports = _start(deployment, control, values, manifest)
    _wait_healthy(deployment, control, apps, web_ports)
    return _switch(deployment, control, web_ports)


def _start(deployment: Deployment, control: Control, values: dict[str, str],
           manifest: releases.Manifest) -> tuple[list[pm2.AppSpec], list[int]]:
    started = time.monotonic()
    apps, web_ports = app_specs(deployment, values, manifest)
    if web_ports:
        deployment.port = web_ports[0]
        deployment.save(update_fields=["port"])
    control.log.write(
        f"Starting {len(apps)} process{'es' if len(apps) != 1 else ''} under PM2"
        + (f" on port{'s' if len(web_ports) > 1 else ''} "
           f"{', '.join(map(str, web_ports))}" if web_ports else ""),
        phase=Phase.START, stream=Stream.DEPLOY)
    pm2.start(apps, starter=control.take_starter())
    timed(deployment, "start", started)
    return apps, web_ports


def _wait_healthy(deployment: Deployment, control: Control, apps: list[pm2.AppSpec],
                  web_ports: list[int]) -> None:
    log, service = control.log, deployment.service
    started = time.monotonic()
    path = checked_path(service.healthcheck_path)
    what = f"HTTP 2xx on {path}" if path else "the port to listen"
    log.write(f"Waiting up to {service.healthcheck_timeout} s for {what}", phase=Phase.HEALTH,
              stream=Stream.DEPLOY)
    deadline = time.monotonic() + service.healthcheck_timeout
    names = [app.name for app in apps]
    healthy, seen = wait_healthy(
        web_ports, path, wait=control.sleep, deadline=lambda: time.monotonic() > deadline,
        alive=_death_watch(names), domain=public_domain(service),
    )
    if healthy and not web_ports:  # workers only: they must still be up after a moment
        control.sleep(min(2.0, service.healthcheck_timeout))
        problem = _dead(names)
        healthy, seen = problem is None, problem or "processes are running"
    if not healthy:
        # The processes' output itself reaches the log through the log shipper: the last
        # lines go to the reason only.
        tail = [line for app in apps for line in last_output(app)]
        raise DeployFailed(
            f"Health check failed: {seen} after {round(time.monotonic() - started)} s"
            + ("; last output:\n" + "\n".join(tail[-MAX_TAIL_LINES:]) if tail else "; no output.")
        )
    log.write(f"Healthy: {seen}", phase=Phase.HEALTH, stream=Stream.DEPLOY)
    timed(deployment, "health", started)


def last_output(app: pm2.AppSpec, lines: int = 10) -> list[str]:
    """The last lines of a process's stdout, then of its stderr (marked), named after it."""
    return ([f"[{app.name}] {line}" for line in pm2.tail(app.out_file, lines)]
            + [f"[{app.name} stderr] {line}" for line in pm2.tail(app.err_file, lines)])


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
    account = accounts.current()
    env.update(accounts.private_tmp(account))
    apps, web_ports = [], []
    for kind, argv in manifest.processes.items():
        for index in range(service.instances if kind == "web" else 1):
            name = process_name(deployment, kind, index)
            out_file, err_file = releases.log_files(log_dir, kind, index)
            app_env = {**env, "PAAS_PROCESS_TYPE": kind}
            if kind == "web":
                port = (reuse_ports or {}).get(name) or ports.allocate(
                    connection.schema_name, deployment.pk, name)
                web_ports.append(port)
                app_env["PORT"] = str(port)
            apps.append(pm2.AppSpec(
                name=name, argv=argv, cwd=app_dir, env=app_env,
                restart_policy=service.restart_policy, max_restarts=service.max_restarts,
                out_file=out_file, err_file=err_file,
                user=account.name if account is not None else None,
                limits=Limits.of(service),
            ))
    return apps, web_ports


def respawn(deployment: Deployment) -> None:
    """Start an active deployment's processes again, on the ports it holds (the monitor, after
    PM2 lost them)."""
    held = ports.held_by(connection.schema_name, deployment.pk)
    manifest = releases.Manifest.read(Path(deployment.release_dir))
    apps, _ = app_specs(deployment, read_snapshot(deployment), manifest, reuse_ports=held)
    pm2.start(apps)
    pm2.save()


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


def _switch(deployment: Deployment, control: Control, web_ports: list[int]) -> int | None:
    """In one transaction, under locks on the service and its active deployment:

    1. refuse when a newer deployment went live first, or a cancel arrived;
    2. the deployment becomes active, the previous one superseded;
    3. the service's route points at the new ports;
    4. the log and timings commit with it (whoever sees "active" sees them too).

    Then the process list is saved for a resurrect, and releases beyond those kept are
    pruned. Returns the superseded deployment (it keeps serving for the drain period)."""
    log = control.log
    started = time.monotonic()
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=deployment.service_id)
        # Locked too: the monitor may be marking it crashed, a user stopping it.
        previous = (Deployment.objects.select_for_update().get(pk=service.active_deployment_id)
                    if service.active_deployment_id else None)
        if (previous is not None and previous.number > deployment.number
                and previous.status == Status.ACTIVE):
            raise DeployFailed(f"A newer deployment (#{previous.number}) went live first.")
        if Deployment.objects.filter(pk=deployment.pk, cancel_requested=True).exists():
            raise Cancelled()
        deployment.transition(Status.ACTIVE)
        if previous is not None and previous.status == Status.ACTIVE:
            previous.transition(Status.SUPERSEDED)
        service.active_deployment = deployment
        service.save(update_fields=["active_deployment"])
        routes.point(service, deployment, web_ports)
        log.write(f"Live: {public_domain(service)} now routes to #{deployment.number}"
                  + (f"; #{previous.number} keeps serving for {routes.drain_seconds():g} "
                     "s, then stops" if previous is not None else ""),
                  phase=Phase.SWITCH, stream=Stream.DEPLOY)
        log.flush()
        timed(deployment, "switch", started)
        deployment.timings["total"] = round(time.monotonic() - control.started, 3)
        Deployment.objects.filter(pk=deployment.pk).update(timings=deployment.timings)
    pm2.save()
    removed = releases.prune_releases(service.pk)
    if removed:
        log.write(f"Removed old releases: {', '.join(f'#{n}' for n in removed)}",
                  phase=Phase.SWITCH, stream=Stream.DEPLOY)
    return previous.pk if previous is not None else None
