"""Where a deployment lives on the host, and the releases kept per service.

    PAAS_APPS_DIR/releases/<schema>/<service id>/<deployment number>/
        .paas-release      the marker: only directories carrying it are ever removed
        manifest.json      runtime, processes, app directory, PATH additions (for rollbacks)
        src/               the checkout, built in place (a virtualenv's paths stay valid)
    PAAS_APPS_DIR/cache/<schema>/<service id>/   npm and pip caches of the service
    PAAS_APPS_DIR/logs/<schema>/<service id>/<deployment id>/
        <type>-<index>.out.log    what PM2 (root) writes of a process's stdout
        <type>-<index>.err.log    and of its stderr; `.1` appended while the log shipper
                                  rotates one (deployments.engine.shipper)

With isolation on, `src/` and the caches are the workspace user's, the rest root's in
directories only the workspace's group may go through (deployments.engine.accounts).

A release is built in its final place and never changed afterwards: a rollback starts the same
directory again with the variables snapshot of its deployment.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

from deployments.engine import accounts
from deployments.models import Deployment, Status

MARKER = ".paas-release"
MANIFEST = "manifest.json"
OUT_SUFFIX = ".out.log"
ERR_SUFFIX = ".err.log"


@dataclass
class Manifest:
    runtime: str
    app_dir: str  # relative to the release directory
    processes: dict[str, list[str]]
    path_prefix: list[str] = field(default_factory=list)  # relative to the release directory
    env: dict[str, str] = field(default_factory=dict)

    def write(self, release_dir: Path) -> None:
        (release_dir / MANIFEST).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, release_dir: Path) -> Manifest:
        return cls(**json.loads((release_dir / MANIFEST).read_text()))


def _service_part(deployment: Deployment) -> Path:
    return Path(connection.schema_name) / str(deployment.service_id)


def releases_root() -> Path:
    return settings.PAAS_APPS_DIR / "releases"


def release_dir_for(deployment: Deployment) -> Path:
    return releases_root() / _service_part(deployment) / str(deployment.number)


def cache_dir_for(deployment: Deployment) -> Path:
    """The service's build caches (and HOME of its builds): the workspace user's."""
    account = accounts.current()
    accounts.workspace_dir("cache", connection.schema_name, account)
    return accounts.user_dir(settings.PAAS_APPS_DIR / "cache" / _service_part(deployment),
                             account)


def logs_root() -> Path:
    return settings.PAAS_APPS_DIR / "logs"


def _log_dir(deployment: Deployment) -> Path:
    """Named by the deployment's id (not its number): the log shipper reads the workspace
    and the deployment of a file from its path alone."""
    return logs_root() / _service_part(deployment) / str(deployment.pk)


def log_files(log_dir: Path, process_type: str, index: int) -> tuple[Path, Path]:
    """The stdout and stderr files of one process in a deployment's log directory."""
    stem = f"{process_type}-{index}"
    return log_dir / f"{stem}{OUT_SUFFIX}", log_dir / f"{stem}{ERR_SUFFIX}"


def log_dir_for(deployment: Deployment) -> Path:
    """Where PM2 (root) writes the processes' output: root's, the workspace's to go through."""
    account = accounts.current()
    accounts.workspace_dir("logs", connection.schema_name, account)
    path = _log_dir(deployment)
    accounts.panel_dir(path.parent, account)
    path.mkdir(exist_ok=True, mode=0o700)
    return accounts.panel_dir(path, account)


def create_release_dir(deployment: Deployment) -> Path:
    """A new, empty release directory with its marker. An earlier attempt's leftovers (the
    same deployment, interrupted) are removed first."""
    path = release_dir_for(deployment)
    remove_release_dir(path, deployment)
    account = accounts.current()
    accounts.workspace_dir("releases", connection.schema_name, account)
    accounts.panel_dir(path.parent, account)
    path.mkdir(mode=0o750)
    accounts.panel_dir(path, account)
    (path / MARKER).write_text(json.dumps(
        {"schema": connection.schema_name, "service": deployment.service_id,
         "deployment": deployment.pk, "number": deployment.number}
    ))
    return path


def _owned(path: Path, deployment_id: int | None = None) -> bool:
    """Whether `path` is a release directory the panel created (for that deployment)."""
    try:
        resolved = path.resolve(strict=True)
    except OSError:
        return False
    if path.is_symlink() or not resolved.is_relative_to(releases_root().resolve()):
        return False
    try:
        marker = json.loads((resolved / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return deployment_id is None or marker.get("deployment") == deployment_id


def remove_release_dir(path: Path, deployment: Deployment | None = None) -> bool:
    """Remove a release directory, only if the panel created it (for `deployment`)."""
    if not _owned(path, deployment.pk if deployment else None):
        return False
    shutil.rmtree(path, ignore_errors=True)
    # Rollbacks share their source's directory: none of them can be rolled back to now.
    Deployment.objects.filter(release_dir=str(path)).update(release_kept=False)
    return True


def prune_releases(service_id: int) -> list[int]:
    """Remove the releases of a service beyond the newest PAAS_RELEASES_KEPT successful ones.

    Kept: the active deployment's release, those of deployments still in progress, and the
    newest N successful ones (the rollback targets). Removed: the rest, and only directories
    that carry the panel's marker. Returns the deployment numbers whose release went."""
    deployments = Deployment.objects.filter(service_id=service_id).order_by("-number")
    in_use = {
        d.release_dir for d in deployments if not d.is_final or d.status == Status.ACTIVE
    }
    keep = set(in_use)
    newest: list[str] = []  # distinct directories: a rollback shares its source's
    for deployment in deployments:
        if (deployment.status in Status.SUCCEEDED and deployment.release_dir
                and deployment.release_dir not in newest
                and len(newest) < settings.PAAS_RELEASES_KEPT):
            newest.append(deployment.release_dir)
    keep.update(newest)
    removed = []
    for deployment in deployments:
        path = deployment.release_dir
        if deployment.is_final and path not in keep:
            # Its processes' output files (what mattered went to its log when it failed).
            shutil.rmtree(_log_dir(deployment), ignore_errors=True)
        if not path or path in keep:
            continue
        # A rollback shares its source's directory: the marker names the source.
        if remove_release_dir(Path(path)):
            removed.append(deployment.number)
    return removed


def release_exists(deployment: Deployment) -> bool:
    return bool(deployment.release_dir) and _owned(Path(deployment.release_dir)) and (
        Path(deployment.release_dir) / MANIFEST
    ).exists()


def remove_service_files(service_id: int) -> None:
    """A deleted service's releases (those carrying the marker), caches and logs."""
    part = Path(connection.schema_name) / str(service_id)
    service_releases = releases_root() / part
    if service_releases.is_dir():
        for child in service_releases.iterdir():
            remove_release_dir(child)
        try:
            service_releases.rmdir()
        except OSError:
            pass  # something the panel did not make is in there: left alone
    for kind in ("cache", "logs"):
        shutil.rmtree(settings.PAAS_APPS_DIR / kind / part, ignore_errors=True)
