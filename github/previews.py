"""Pull requests' previews: an environment `pr-<number>` per project (`pr-<number>-<repository>`
when another repository of the project has a pull request of that number), a copy of the
services that track the pull request's base branch, deployed at its head commit, and removed
when the pull request closes.

`handle_pull_request` runs in the webhook worker, inside the workspace's schema, with the
parsed body of a `pull_request` event. Every name the payload carries is checked before any
use (github.repositories); a payload that fails a check changes nothing.

Pull requests from forks run code nobody in the workspace wrote: their previews get no
variables at all (neither the services' nor the shared ones) and deploy a head commit only
once an admin approved that very commit on the project page (`approve_preview`). The fork's
own repository URL is never used either: GitHub serves a pull request's commits from the base
repository (`refs/pull/<number>/head`), so the copies keep the base repository and its branch,
and the engine fetches the head commit by its sha.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from deployments.models import Deployment, Trigger
from deployments.services import DeployRefused, trigger_deployment
from github.handled import Handled
from github.models import Outcome
from github.repositories import (
    checked_branch,
    repository_key,
    services_tracking,
    validate_full_name,
)
from projects.environments import copy_environment, copy_services, preview_name
from projects.models import Environment, Service
from tenants import audit
from tenants.models import AuditAction, User

OPENING = frozenset({"opened", "reopened", "synchronize"})
CLOSING = frozenset({"closed"})
MAX_NUMBER = 2**31 - 1  # PositiveIntegerField
_SHA = re.compile(r"[0-9a-f]{40}")
_URL = re.compile(r"https://[^\s\x00-\x1f\x7f<>\"']{1,490}")
TITLE_LENGTH = Environment._meta.get_field("pull_request_title").max_length
NAME_LENGTH = Environment._meta.get_field("name").max_length


class ApprovalRefused(Exception):
    """The approval is not possible (any more); str(error) tells the admin why."""


@dataclass(frozen=True)
class PullRequest:
    """What a `pull_request` event says, checked."""

    action: str
    number: int
    repository: str  # owner/name, lower case
    urls: tuple[str, ...]  # the base repository's clone, html, ssh and git URLs
    base_branch: str
    head_branch: str
    head_sha: str
    title: str
    url: str
    from_fork: bool


def _field(mapping: object, *path: str) -> object:
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _checked(check: object, value: object, what: str) -> str:
    try:
        return check(value)
    except ValidationError as error:
        raise ValueError(f"{what}: {error.messages[0]}") from None


def parse_pull_request(payload: dict) -> PullRequest:
    """The checked fields of a `pull_request` event; ValueError naming the first bad one."""
    if not isinstance(payload, dict):
        raise ValueError("The payload is not a JSON object.")
    action = payload.get("action")
    if not isinstance(action, str) or not re.fullmatch(r"[a-z_]{1,40}", action):
        raise ValueError("action: not an action name.")
    number = payload.get("number", _field(payload, "pull_request", "number"))
    if type(number) is not int or not 0 < number <= MAX_NUMBER:
        raise ValueError("number: not a pull request number.")
    repository = _checked(validate_full_name, _field(payload, "repository", "full_name"),
                          "repository.full_name")
    base = _checked(checked_branch, _field(payload, "pull_request", "base", "ref"),
                    "pull_request.base.ref")
    head = _checked(checked_branch, _field(payload, "pull_request", "head", "ref"),
                    "pull_request.head.ref")
    sha = _field(payload, "pull_request", "head", "sha")
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise ValueError("pull_request.head.sha: not a 40-character hexadecimal sha.")
    title = _field(payload, "pull_request", "title")
    title = " ".join(title.split())[:TITLE_LENGTH] if isinstance(title, str) else ""
    url = _field(payload, "pull_request", "html_url")
    if not isinstance(url, str) or not _URL.fullmatch(url):
        raise ValueError("pull_request.html_url: not an https:// URL.")
    head_repository = _field(payload, "pull_request", "head", "repo", "full_name")
    # A fork whose repository is gone (null) is a fork all the same.
    from_fork = not isinstance(head_repository, str) or head_repository.lower() != repository
    urls = tuple(value for key in ("clone_url", "html_url", "ssh_url", "git_url")
                 if isinstance(value := _field(payload, "repository", key), str))
    return PullRequest(action, number, repository, urls, base, head, sha, title, url, from_fork)


def handle_pull_request(payload: dict) -> Handled:
    """Create, update or remove the previews of the pull request the event is about."""
    try:
        pull = parse_pull_request(payload)
    except ValueError as error:
        return Handled(Outcome.FAILED, f"Refused: {error}")
    if pull.action in OPENING:
        return open_previews(pull)
    if pull.action in CLOSING:
        return close_previews(pull)
    return Handled(Outcome.IGNORED, f"Pull request action “{pull.action}” needs nothing.")


def _belongs_to(environment: Environment, pull: PullRequest) -> bool:
    """Whether the preview `environment` is one of `pull`'s repository (pull request numbers
    are per repository)."""
    keys = {repository_key(url) for url in pull.urls}
    return any(service.github_repository.lower() == pull.repository
               or (service.repository_url and repository_key(service.repository_url) in keys)
               for service in environment.services.all())


def previews_of(pull: PullRequest) -> list[Environment]:
    """The existing previews of the pull request, in every project (those made before
    previews named their repository are recognised by their services')."""
    candidates = (Environment.objects.visible().filter(pull_request=pull.number)
                  .prefetch_related("services"))
    return [environment for environment in candidates
            if environment.pull_request_repository == pull.repository
            or (not environment.pull_request_repository and _belongs_to(environment, pull))]


def free_preview_name(project_id: int, pull: PullRequest) -> str:
    """`pr-<number>`, or, when another repository's pull request of that number has it in
    the project, `pr-<number>-<repository name>` (a DNS label; a counter if even that is
    taken)."""
    taken = set(Environment.objects.filter(project_id=project_id).values_list("name",
                                                                              flat=True))
    name = preview_name(pull.number)
    if name not in taken:
        return name
    repository = re.sub(r"[^a-z0-9]+", "-", pull.repository.split("/")[1]).strip("-") or "repo"
    base = f"{name}-{repository}"[:NAME_LENGTH].rstrip("-")
    candidate, counter = base, 2
    while candidate in taken:
        suffix = f"-{counter}"
        candidate, counter = base[:NAME_LENGTH - len(suffix)].rstrip("-") + suffix, counter + 1
    return candidate


def _sources(pull: PullRequest) -> dict[int, list[Service]]:
    """Per project: the services to copy, those of one environment (production if it has
    some, else the first) that track the base branch."""
    tracking = services_tracking(pull.repository, pull.base_branch, urls=pull.urls).filter(
        environment__pull_request__isnull=True)
    by_environment: dict[Environment, list[Service]] = defaultdict(list)
    for service in tracking:
        by_environment[service.environment].append(service)
    chosen: dict[int, list[Service]] = {}
    for environment in sorted(by_environment, key=lambda e: (e.name != Environment.PRODUCTION,
                                                             e.pk)):
        chosen.setdefault(environment.project_id, by_environment[environment])
    return chosen


def _deploy(environment: Environment, sha: str, by: str = "") -> tuple[list[Deployment],
                                                                        list[str]]:
    deployments, problems = [], []
    for service in environment.services.all():
        try:
            deployments.append(trigger_deployment(service, Trigger.PULL_REQUEST,
                                                  commit_sha=sha, triggered_by=by))
        except DeployRefused as error:
            problems.append(f"{service.name}: {error}")
    return deployments, problems


def _preview_fields(pull: PullRequest) -> dict[str, object]:
    return {"pull_request_repository": pull.repository,
            "pull_request_title": pull.title, "pull_request_url": pull.url,
            "head_branch": pull.head_branch, "head_sha": pull.head_sha,
            "from_fork": pull.from_fork}


@transaction.atomic
def _update(environment: Environment, pull: PullRequest,
            tracking: list[Service]) -> Environment:
    """A new head (or title) on an existing preview, and copies of the services that began
    to track the base branch since it was made (`tracking`: those of its project). A fork's
    approval was of another commit: the new head waits for one of its own."""
    environment = Environment.objects.select_for_update().get(pk=environment.pk)
    for name, value in _preview_fields(pull).items():
        setattr(environment, name, value)
    environment.save()
    present = set(environment.services.values_list("name", flat=True))
    copy_services([service for service in tracking if service.name not in present],
                  environment, with_variables=not pull.from_fork)
    if not pull.from_fork:
        environment.services.update(branch=pull.head_branch)
    return environment


@transaction.atomic
def _create(source: Environment, services: list[Service], pull: PullRequest) -> Environment:
    environment = copy_environment(source, free_preview_name(source.project_id, pull),
                                   services=services,
                                   with_variables=not pull.from_fork,
                                   pull_request=pull.number, **_preview_fields(pull))
    if not pull.from_fork:  # the head commit is on the head branch of the same repository
        environment.services.update(branch=pull.head_branch)
    return environment


def open_previews(pull: PullRequest) -> Handled:
    """opened, reopened, synchronize: each project's preview created or brought to the new
    head, and deployed unless it comes from a fork."""
    existing = {environment.project_id: environment for environment in previews_of(pull)}
    sources = _sources(pull)
    if not sources and not existing:
        return Handled(Outcome.IGNORED, f"No service tracks {pull.repository} "
                                        f"branch {pull.base_branch}.")
    deployments, notes = [], []
    for project_id in sorted(set(sources) | set(existing)):
        environment = existing.get(project_id)
        if environment is not None:
            environment = _update(environment, pull, sources.get(project_id, []))
        else:
            services = sources[project_id]
            environment = _create(services[0].environment, services, pull)
        name = f"{environment.project.name} / {environment.name}"
        if pull.from_fork:
            notes.append(f"{name}: from a fork, waiting for an admin to approve "
                         f"{pull.head_sha[:7]}.")
            continue
        started, problems = _deploy(environment, pull.head_sha)
        deployments += started
        notes.append(f"{name}: deploying {pull.head_sha[:7]}." if started else f"{name}: "
                     "nothing to deploy.")
        notes += problems
    outcome = Outcome.PREVIEW if deployments or not pull.from_fork else Outcome.AWAITING_APPROVAL
    return Handled(outcome, " ".join(notes), deployments)


def close_previews(pull: PullRequest) -> Handled:
    """closed (merged or not): the previews deleted; their services' deletion removes what
    they run, their routes, ports and releases (deployments.receivers) and frees their
    domains."""
    previews = previews_of(pull)
    if not previews:
        return Handled(Outcome.IGNORED, f"Pull request #{pull.number} has no preview.")
    names = []
    for environment in previews:
        with transaction.atomic():
            names.append(f"{environment.project.name} / {environment.name}")
            audit.record(AuditAction.DELETED, environment, pull_request=pull.number)
            environment.delete()
    return Handled(Outcome.PREVIEW, f"Preview removed: {', '.join(names)}.")


def approve_preview(environment: Environment, sha: str, user: User) -> list[Deployment]:
    """An admin approves the head commit `sha` of a fork's preview: it is deployed. Refused
    for a preview that is no fork's, or when `sha` is no longer its head."""
    with transaction.atomic():
        locked = Environment.objects.select_for_update().get(pk=environment.pk)
        if not locked.is_preview or not locked.from_fork:
            raise ApprovalRefused("Only previews of pull requests from forks wait for approval.")
        if not isinstance(sha, str) or sha != locked.head_sha or not _SHA.fullmatch(sha):
            raise ApprovalRefused(
                f"The pull request's head is now {locked.head_sha[:7]}: look at it and "
                "approve that commit.")
        locked.approved_sha, locked.approved_by = sha, user.email
        locked.save(update_fields=["approved_sha", "approved_by"])
        audit.record(AuditAction.DEPLOYED, locked, user=user, approved=sha,
                     pull_request=locked.pull_request)
        deployments, problems = _deploy(locked, sha, by=user.email)
    if problems and not deployments:
        raise ApprovalRefused(" ".join(problems))
    return deployments
