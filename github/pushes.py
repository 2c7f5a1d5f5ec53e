"""A push to GitHub: deploy every service that tracks the pushed branch of the repository, at
the pushed commit, unless its watch paths leave the push out.

Everything in the payload is checked before use, as the deploy engine checks what users type:
the repository's name, the ref and its branch, the commit (40 hex digits). Tag pushes and
branch deletions deploy nothing; neither do pull requests' previews, which follow
pull_request events.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError

from deployments.models import Deployment, Trigger
from deployments.services import DeployRefused, trigger_deployment
from github.handled import Handled
from github.models import Outcome
from github.repositories import checked_branch, services_tracking, validate_full_name
from projects.models import Service

COMMIT = re.compile(r"[0-9a-f]{40}")
# GitHub lists at most 20 commits in a push; with as many, the files changed are not all known.
LISTED_COMMITS = 20
MAX_FILES = 10_000
URL_FIELDS = ("clone_url", "html_url", "ssh_url", "git_url")


def refused(reason: str) -> Handled:
    return Handled(Outcome.IGNORED, f"Refused: {reason}. Nothing was deployed.")


def changed_files(payload: dict) -> set[str] | None:
    """The paths the push added, modified or removed; None when the payload cannot tell them
    all (20 commits or more listed, or none listed for a push that compares commits)."""
    commits = payload.get("commits")
    commits = [c for c in commits if isinstance(c, dict)] if isinstance(commits, list) else []
    if len(commits) >= LISTED_COMMITS or (not commits and payload.get("compare")):
        return None
    files: set[str] = set()
    for commit in commits:
        for key in ("added", "modified", "removed"):
            paths = commit.get(key)
            if isinstance(paths, list):
                files.update(path for path in paths if isinstance(path, str) and path)
            if len(files) > MAX_FILES:
                return None
    return files


def matches(path: str, glob: str) -> bool:
    """Whether a changed file matches a watch path: as a path glob (`**` spans folders) or
    as fnmatch does (`*` spans them too), from the repository's root."""
    glob = glob.strip().removeprefix("./").lstrip("/")
    if not glob:
        return False
    try:
        if PurePosixPath(path).full_match(glob):
            return True
    except ValueError:
        pass
    return fnmatch.fnmatchcase(path, glob)


def watched(service: Service, files: set[str] | None) -> bool:
    globs = [glob for glob in service.watch_paths or [] if isinstance(glob, str)]
    if not globs or files is None:
        return True
    return any(matches(path, glob) for path in files for glob in globs)


def pusher_name(payload: dict) -> str:
    pusher = payload.get("pusher")
    name = pusher.get("name") if isinstance(pusher, dict) else None
    if not isinstance(name, str):
        return "someone"
    return "".join(char for char in name if char.isprintable())[:100] or "someone"


def _names(services: Iterable[Service]) -> str:
    return ", ".join(f"{service.environment.project.name}/{service.name}"
                     for service in services)


def handle_push(payload: dict) -> Handled:
    repository = payload.get("repository")
    if not isinstance(repository, dict):
        return refused("the payload names no repository")
    ref, after = payload.get("ref"), payload.get("after")
    try:
        full_name = validate_full_name(repository.get("full_name"))
    except ValidationError:
        return refused("the repository's name is not valid")
    if not isinstance(ref, str):
        return refused("the ref is not valid")
    if ref.startswith("refs/tags/"):
        return Handled(Outcome.IGNORED, "A tag push: tags are not deployed.")
    if payload.get("deleted") is True:
        return Handled(Outcome.IGNORED, "The branch was deleted: nothing to deploy.")
    if not ref.startswith("refs/heads/"):
        return refused("the ref is not a branch")
    try:
        branch = checked_branch(ref)
    except ValidationError:
        return refused("the branch name is not valid")
    if not isinstance(after, str) or not COMMIT.fullmatch(after):
        return refused("the pushed commit is not a commit id")

    urls = [repository.get(field) for field in URL_FIELDS]
    services = list(services_tracking(full_name, branch, urls=urls)
                    .filter(environment__pull_request__isnull=True))
    if not services:
        return Handled(Outcome.IGNORED,
                       f"No service deploys {branch} of {full_name}.")
    files = changed_files(payload)
    to_deploy = [service for service in services if watched(service, files)]
    skipped = [service for service in services if service not in to_deploy]
    triggered_by = f"{pusher_name(payload)} (GitHub push)"
    deployments: list[Deployment] = []
    refusals: list[str] = []
    for service in to_deploy:
        try:
            deployments.append(trigger_deployment(service, Trigger.PUSH, commit_sha=after,
                                                  triggered_by=triggered_by))
        except DeployRefused as error:
            refusals.append(f"{_names([service])}: {error}")
    parts = []
    if deployments:
        parts.append(f"Deploying {after[:7]} of {branch}: "
                     f"{_names(d.service for d in deployments)}.")
    if skipped:
        parts.append(f"Skipped, no watched path changed: {_names(skipped)}.")
    if refusals:
        parts.append("Not deployed: " + "; ".join(refusals) + ".")
    outcome = (Outcome.DEPLOYED if deployments else
               Outcome.SKIPPED if skipped and not refusals else Outcome.FAILED)
    return Handled(outcome, " ".join(parts), deployments)
