"""The deploy pipeline of DESIGN.md §5, run by the worker: fetch, build, release, then the
release is started, health-checked and switched to (deployments.engine.launch). Each step
logs what it does; a failure at any step leaves the previous active deployment serving and
untouched, and removes what this deployment created.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import connection

from deployments.engine import accounts, pm2, releases, uploads
from deployments.engine.builders import BuildError, cache_env, detect
from deployments.engine.credentials import CredentialsError, token_for
from deployments.engine.launch import DeployFailed, base_env, deploy, stop_processes, timed
from deployments.engine.limits import Limits
from deployments.engine.ports import NoFreePort
from deployments.engine.runner import Cancelled, CommandFailed, Control, TimedOut, build_slot
from deployments.engine.source import SourceError, fetch, source_root
from deployments.logs import LogWriter, secret_values
from deployments.models import Deployment, IllegalTransition, Phase, Status, Stream
from deployments.snapshots import read_snapshot, snapshot_variables, store_snapshot
from projects.validators import validate_command

logger = logging.getLogger(__name__)


# Build -------------------------------------------------------------------------------------


def build_and_deploy(deployment_id: int) -> int | None:
    """The build actor's body: a queued deployment, from its repository to serving. Returns
    the deployment it superseded (to stop after the drain period), if any."""
    with _claimed(deployment_id, Status.BUILDING) as claimed:
        if not claimed:
            return None
        deployment, control = claimed
        return _run(deployment, control, lambda: _build(deployment, control))


def deploy_existing_release(deployment_id: int) -> int | None:
    """The rollback actor's body: start the source deployment's release again, no build.
    Returns the deployment it superseded, if any."""
    with _claimed(deployment_id, Status.DEPLOYING) as claimed:
        if not claimed:
            return None
        deployment, control = claimed

        def steps() -> int | None:
            control.prepare_start()
            source = deployment.source_deployment
            if source is None or not releases.release_exists(source):
                raise DeployFailed("The release to roll back to no longer exists.")
            built_from = (source.commit_sha[:7] or (f"upload {source.source_archive.short_sha}"
                                                    if source.source_archive else "no commit"))
            control.log.write(f"Rolling back to the release of #{source.number} "
                              f"({built_from}); no rebuild.",
                              phase=Phase.RELEASE, stream=Stream.DEPLOY)
            values = read_snapshot(source)
            store_snapshot(deployment, values)
            control.log.add_secrets(secret_values(values))
            deployment.release_kept = True  # its source's directory, on this host
            deployment.save(update_fields=["release_kept"])
            return deploy(deployment, control, values)

        return _run(deployment, control, steps)


@contextmanager
def _claimed(deployment_id: int,
             status: Status) -> Iterator[tuple[Deployment, Control] | None]:
    """Move a queued deployment to `status` for this worker, with its log and control; None
    when it is not queued (cancelled meanwhile, or a second delivery of the message)."""
    deployment = (Deployment.objects.select_related("service__environment__project",
                                                    "source_deployment", "source_archive")
                  .filter(pk=deployment_id).first())
    if deployment is None or deployment.status != Status.QUEUED:
        yield None
        return
    with LogWriter(deployment) as log:
        try:
            deployment.transition(status)
        except IllegalTransition:
            yield None
            return
        control = Control(deployment, log)
        control.beat(force=True)
        yield deployment, control


def _run(deployment: Deployment, control: Control,
         steps: Callable[[], int | None]) -> int | None:
    """Run the steps; turn every way they can end into the deployment's final status. The
    reason stored (and shown to every member) is masked like the log: app output in it may
    echo a variable."""
    log = control.log

    def fail(status: Status, reason: str) -> None:
        reason = log.mask(reason)
        log.write(reason if status == Status.CANCELLED else f"Failed: {reason}",
                  phase=Phase.BUILD, stream=Stream.DEPLOY)
        log.flush()  # whoever sees the final status sees the whole log
        _give_up(deployment, status, reason)

    try:
        return steps()
    except Cancelled:
        fail(Status.CANCELLED, "Cancelled.")
    except TimedOut:
        fail(Status.FAILED,
             f"The build took longer than {control.timeout_minutes} minutes and was stopped.")
    except (DeployFailed, SourceError, BuildError, CommandFailed, pm2.PM2Error,
            NoFreePort, accounts.AccountError, CredentialsError) as error:
        fail(Status.FAILED, str(error))
    except ValidationError as error:  # a setting the database holds that is no longer valid
        fail(Status.FAILED, "Service settings: " + " ".join(error.messages))
    except Exception:
        logger.exception("deployment %s of %s failed", deployment.pk, connection.schema_name)
        fail(Status.FAILED, "Internal error of the panel (see the worker's log).")
    except BaseException:  # the actor's time limit, or the worker shutting down
        fail(Status.FAILED, "The worker stopped this deployment (time limit or shutdown).")
        raise
    finally:
        control.close()
        deployment.timings.setdefault("total", round(time.monotonic() - control.started, 3))
        Deployment.objects.filter(pk=deployment.pk).update(timings=deployment.timings)
        log.flush()


def _give_up(deployment: Deployment, status: Status, reason: str) -> None:
    """Undo what this deployment started; the previous active deployment is not touched."""
    try:
        deployment.refresh_from_db(fields=["status"])
    except Deployment.DoesNotExist:  # deleted with its project meanwhile
        stop_processes(deployment)
        releases.remove_release_dir(Path(deployment.release_dir), deployment)
        return
    if deployment.status == Status.ACTIVE:  # it went live; what failed after is cosmetic
        return
    stop_processes(deployment)
    if deployment.release_dir:  # only its own: a rollback's directory is its source's marker
        releases.remove_release_dir(Path(deployment.release_dir), deployment)
    if deployment.is_in_progress:
        try:
            deployment.transition(status, reason=reason)
        except IllegalTransition:
            pass


def _build(deployment: Deployment, control: Control) -> int | None:
    """A queued deployment, built and run, one named step after another:

    1. `_resolve_variables`: the service's variables into the deployment's encrypted
       snapshot (a reference that does not resolve fails it, naming the variable);
    2. `_fetch`: the branch head (or the exact commit) into a new release directory;
    3. `_build_release`: detect the runtime, run its install and build steps in a build slot
       of the host within the service's build timeout, write the release's manifest (what
       rollbacks start again) and record the release as kept;
    4. start, health-check and switch to it (deployments.engine.launch.deploy).

    Returns the deployment it superseded, if any."""
    deployment.timings["queued"] = round(
        (deployment.started_at - deployment.created_at).total_seconds(), 3)
    values = _resolve_variables(deployment, control)
    if values is None:
        return None
    control.prepare_start()  # pm2 loads while the source is fetched
    release = _fetch(deployment, control)
    _build_release(deployment, control, release, values)
    deployment.transition(Status.DEPLOYING)
    return deploy(deployment, control, values)


def _resolve_variables(deployment: Deployment, control: Control) -> dict[str, str] | None:
    """The deployment's variables (their values masked in its log from now on), or None when
    a reference did not resolve and the deployment failed."""
    if not snapshot_variables(deployment):
        control.log.write(f"Failed: {deployment.error_reason}", phase=Phase.BUILD,
                          stream=Stream.DEPLOY)
        return None
    values = read_snapshot(deployment)
    control.log.add_secrets(secret_values(values))
    return values


def _fetch(deployment: Deployment, control: Control) -> Path:
    """A new release directory with the source in `src/` (the checkout, or the uploaded
    tree), handed to the workspace's user."""
    started = time.monotonic()
    release = releases.create_release_dir(deployment)
    deployment.release_dir = str(release)
    deployment.save(update_fields=["release_dir"])
    if deployment.source_archive is not None:
        uploads.unpack(deployment.source_archive, release / "src", log=lambda line: (
            control.log.write(line, phase=Phase.FETCH, stream=Stream.DEPLOY)))
    else:
        _checkout(deployment, control, release)
    # git and the extraction ran as the panel: no link is followed handing the tree over.
    accounts.hand_over(release / "src", accounts.current())
    timed(deployment, "fetch", started)
    return release


def _checkout(deployment: Deployment, control: Control, release: Path) -> None:
    """The repository's checkout in `src/`, its commit recorded on the deployment and its
    history left out (a static site would serve .git/)."""
    log, service = control.log, deployment.service
    token = token_for(service)  # a private repository's; masked in every line of the log
    if token:
        log.add_secrets([token])
    where = f"{service.branch}" + (f" at {deployment.commit_sha[:12]}"
                                   if deployment.commit_sha else "")
    log.write(f"Fetching {service.repository_url} ({where})", phase=Phase.FETCH,
              stream=Stream.DEPLOY)
    commit = fetch(
        service.repository_url, service.branch, release / "src", commit=deployment.commit_sha,
        token=token, log=lambda line: log.write(line, phase=Phase.FETCH),
        run=lambda argv, env, cwd: control.run(argv, env, cwd, phase=Phase.FETCH),
    )
    deployment.commit_sha, deployment.commit_message = commit.sha, commit.message[:2000]
    deployment.commit_author = commit.author[:200]
    deployment.save(update_fields=["commit_sha", "commit_message", "commit_author"])
    shutil.rmtree(release / "src" / ".git", ignore_errors=True)
    subject = commit.message.splitlines()[0] if commit.message else ""
    log.write(f"Commit {commit.sha[:12]}: {subject}", phase=Phase.FETCH, stream=Stream.DEPLOY)


def _build_release(deployment: Deployment, control: Control, release: Path,
                   values: dict[str, str]) -> None:
    """Install and build the app in place; the release's manifest written, the release kept."""
    log, service = control.log, deployment.service
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
    cache = releases.cache_dir_for(deployment)  # also the builds' HOME
    env = {**base_env(values, deployment, manifest, release),
           **cache_env(cache), "CI": "true", "HOME": str(cache)}
    account, limits = accounts.current(), Limits.of(service)
    env.update(accounts.private_tmp(account))
    with build_slot(control):
        control.start_deadline(service.build_timeout)
        for step in plan.steps:
            control.run_checked(limits.wrap(step.argv), env, step.cwd, phase=Phase.BUILD,
                                label=step.label, account=account)
        control.deadline = None
    timed(deployment, "build", started)

    manifest.write(release)
    deployment.runtime = plan.runtime
    deployment.processes = {kind: " ".join(argv) for kind, argv in plan.processes.items()}
    deployment.release_kept = True
    deployment.save(update_fields=["runtime", "processes", "timings", "release_kept"])
    log.write(f"Release #{deployment.number} ready.", phase=Phase.RELEASE, stream=Stream.DEPLOY)


def fail_abandoned(deployment: Deployment, reason: str) -> None:
    """A deployment whose worker died: failed, and what it started removed."""
    with LogWriter(deployment) as log:
        log.write(f"Failed: {reason}", phase=Phase.MONITOR, stream=Stream.DEPLOY)
    _give_up(deployment, Status.FAILED, reason)
