"""Which services a GitHub repository's events are for, and the checks of the names GitHub
sends (a payload is input from the internet: its names are validated before any use)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from projects.models import Service
from projects.validators import validate_branch

# GitHub's owner (39 characters of letters, digits and "-") and repository names (100 of
# letters, digits, ".", "-" and "_"; not "." or "..").
_FULL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")


def validate_full_name(full_name: str) -> str:
    """`owner/name` in lower case (GitHub's names are case-insensitive); ValidationError
    when it is not a GitHub repository's name."""
    if not isinstance(full_name, str) or not _FULL_NAME.fullmatch(full_name) \
            or full_name.split("/")[1] in (".", ".."):
        raise ValidationError("Not a GitHub repository name (owner/name).")
    return full_name.lower()


def checked_branch(ref_or_branch: str) -> str:
    """A branch name from a payload (`refs/heads/` removed), checked as the deploy engine
    checks one; ValidationError otherwise."""
    if not isinstance(ref_or_branch, str):
        raise ValidationError("The branch is not a string.")
    branch = ref_or_branch.removeprefix("refs/heads/")
    validate_branch(branch)
    return branch


def repository_key(url: str) -> str:
    """A repository URL as the matching compares it: no scheme, no credentials, no `.git`,
    no trailing slash, lower case. git@host:owner/name and https://host/owner/name give the
    same key; so do file:///srv/x.git and /srv/x."""
    url = url.strip()
    if url.startswith("git@") and ":" in url:
        host, _, path = url[4:].partition(":")
        url = f"{host}/{path}"
    elif "://" in url:
        parts = urlsplit(url)
        url = (parts.hostname or "") + (f":{parts.port}" if parts.port else "") + parts.path
    return url.rstrip("/").removesuffix(".git").rstrip("/").lower()


def services_tracking(full_name: str, branch: str,
                      urls: Iterable[str] = ()) -> QuerySet[Service]:
    """The services of the current workspace that deploy `branch` of the repository named
    `full_name` (connected through the picker), or whose repository URL is one of `urls` (the
    payload's clone_url, html_url, ssh_url…). Projects being deleted are left out; preview
    environments are included (callers that want them not filter on pull_request)."""
    keys = {repository_key(url) for url in urls if isinstance(url, str) and url}
    by_url = Q(pk__in=[]) if not keys else Q(pk__in=[
        pk for pk, url in Service.objects.exclude(repository_url="")
        .values_list("pk", "repository_url") if repository_key(url) in keys])
    return (Service.objects.visible()
            .filter(Q(github_repository__iexact=full_name) | by_url, branch=branch)
            .select_related("environment__project").order_by("pk"))
