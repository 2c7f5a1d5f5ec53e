"""The service form's "Pick from GitHub": the signed-in user's repositories (searched, a page
at a time) and, once one is picked, the form's source block filled in from GitHub (its clone
URL, the hidden github_repository the form checks again on save, and a list of its branches
with the default one preselected). Whoever may edit services may use it; every parameter is
checked (400 naming it) before GitHub is asked anything."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from github import client
from github.picker import (
    MAX_QUERY,
    account_of,
    branches_of,
    readable_repository,
    search_repositories,
)
from github.repositories import validate_full_name
from github.tokens import TokenExpired
from projects.source_fields import ID_PREFIX, SourceFields
from tenants.access import requires
from tenants.roles import Action

LIST = "github/_picker.html"
MAX_PAGE = 10_000
NO_ACCOUNT = "Sign in with GitHub to pick a repository."


def _bad(field: str, message: str) -> HttpResponse:
    return HttpResponseBadRequest(f"{field}: {message}", content_type="text/plain")


def _prefix(request: HttpRequest) -> str | None:
    prefix = request.GET.get("prefix", "id_")
    return prefix if ID_PREFIX.fullmatch(prefix) else None


def _note(request: HttpRequest, prefix: str, message: str) -> HttpResponse:
    return render(request, LIST, {"prefix": prefix, "note": message})


@require_GET
@requires(Action.EDIT_SERVICE)
def github_repositories(request: HttpRequest) -> HttpResponse:
    """The user's repositories from GitHub page `page` on, those whose name contains `q`."""
    prefix = _prefix(request)
    if prefix is None:
        return _bad("prefix", "not a form's id prefix.")
    query = request.GET.get("q", "")
    if len(query) > MAX_QUERY:
        return _bad("q", f"at most {MAX_QUERY} characters.")
    raw_page = request.GET.get("page", "1")
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        return _bad("page", f"a whole number from 1 to {MAX_PAGE}.")
    account = account_of(request.user)
    if account is None:
        return _note(request, prefix, NO_ACCOUNT)
    try:
        found = search_repositories(account, query, int(raw_page))
    except client.GitHubError as error:  # TokenExpired included: its message says what to do
        return _note(request, prefix, str(error))
    context = {"prefix": prefix, "query": query, "found": found, "page": int(raw_page)}
    if request.htmx and request.GET.get("more"):
        return render(request, LIST + "#items", context)
    if request.htmx and request.htmx.trigger_name == "q":  # the search box: the list only
        return render(request, LIST + "#list", context)
    return render(request, LIST, context)


@require_GET
@requires(Action.EDIT_SERVICE)
def github_source(request: HttpRequest) -> HttpResponse:
    """The form's source block: connected to `full_name` (checked against the user's token),
    or, without it, the plain repository URL and branch fields ("Use another URL")."""
    prefix = _prefix(request)
    if prefix is None:
        return _bad("prefix", "not a form's id prefix.")
    full_name = request.GET.get("full_name", "")
    if not full_name:
        return render(request, "projects/_source_fields.html",
                      {"source": SourceFields(id_prefix=prefix)})
    try:
        full_name = validate_full_name(full_name)
    except ValidationError:
        return _bad("full_name", "not a GitHub owner/name.")
    account = account_of(request.user)
    if account is None:
        return _note(request, prefix, NO_ACCOUNT)
    try:
        repository = readable_repository(account, full_name)
        branches = branches_of(account, repository.full_name)
    except TokenExpired as error:
        return _note(request, prefix, str(error))
    except client.GitHubError as error:
        if error.status in (403, 404):
            return _note(request, prefix, f"Your GitHub account cannot read {full_name}.")
        return _note(request, prefix, str(error))
    names = branches.names or [repository.default_branch]
    source = SourceFields(
        id_prefix=prefix, repository_url=repository.clone_url,
        branch=repository.default_branch, github_repository=repository.full_name.lower(),
        private=repository.private, branches=names, branches_truncated=branches.truncated)
    return render(request, "projects/_source_fields.html", {"source": source})
