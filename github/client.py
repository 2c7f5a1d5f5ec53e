"""GitHub's REST API, as the panel uses it: a user's repositories and branches, repository
webhooks, commit statuses, and refreshing an expiring token.

Addresses come from GITHUB_URL and GITHUB_API_URL, so GitHub Enterprise Server works, and the
tests point them at a fake GitHub on loopback. A token is sent in the Authorization header
only, and never appears in an error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from django.conf import settings

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
PER_PAGE = 100
_NEXT_LINK = re.compile(r'<[^>]*[?&]page=(\d+)[^>]*>;\s*rel="next"')
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
               "User-Agent": "paas-panel"}


class GitHubError(Exception):
    """GitHub refused or could not be reached; str(error) is safe to show a user."""

    def __init__(self, message: str, status: int | None = None,
                 details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.details = details  # the messages of GitHub's `errors` (a 422's reasons)


class BadCredentials(GitHubError):
    """GitHub answered 401: the token was revoked or expired."""


class HookExists(GitHubError):
    """GitHub answered 422: the repository has a webhook with this URL already."""


@dataclass(frozen=True)
class Repository:
    full_name: str
    clone_url: str
    html_url: str
    private: bool
    default_branch: str
    admin: bool  # may create the repository's webhooks


@dataclass(frozen=True)
class Hook:
    id: int
    url: str  # config.url: where GitHub posts
    events: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class Page[T]:
    items: list[T]
    next_page: int | None


def _client(token: str) -> httpx.Client:
    return httpx.Client(base_url=settings.GITHUB_API_URL + "/", timeout=TIMEOUT,
                        headers={**API_HEADERS, "Authorization": f"Bearer {token}"},
                        follow_redirects=False)


def _request(token: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    try:
        with _client(token) as client:
            response = client.request(method, path.lstrip("/"), **kwargs)
    except httpx.HTTPError as error:
        raise GitHubError(f"GitHub could not be reached ({type(error).__name__}).") from None
    if response.status_code == 401:
        raise BadCredentials("GitHub refused the token (revoked or expired).", 401)
    if response.status_code >= 400:
        detail, details = _error_of(response)
        raise GitHubError(f"GitHub answered {response.status_code}"
                          + (f": {detail}" if detail else "."), response.status_code, details)
    return response


def _error_of(response: httpx.Response) -> tuple[str, tuple[str, ...]]:
    """GitHub's `message` and the messages of its `errors`, when the body says them."""
    try:
        body = response.json()
    except ValueError:
        return "", ()
    if not isinstance(body, dict):
        return "", ()
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    return (str(body.get("message", ""))[:200],
            tuple(str(error.get("message", ""))[:200] for error in errors
                  if isinstance(error, dict)))


def _next_page(response: httpx.Response) -> int | None:
    match = _NEXT_LINK.search(response.headers.get("link", ""))
    return int(match.group(1)) if match else None


def _repository(item: dict) -> Repository:
    return Repository(full_name=str(item["full_name"]), clone_url=str(item["clone_url"]),
                      html_url=str(item.get("html_url", "")), private=bool(item.get("private")),
                      default_branch=str(item.get("default_branch") or "main"),
                      admin=bool((item.get("permissions") or {}).get("admin")))


def list_repositories(token: str, page: int = 1) -> Page[Repository]:
    """One page of the repositories the token's user may read, most recently pushed first."""
    response = _request(token, "GET", "user/repos", params={
        "per_page": PER_PAGE, "page": page, "sort": "pushed",
        "affiliation": "owner,collaborator,organization_member"})
    repositories = [_repository(item) for item in response.json()
                    if isinstance(item, dict) and "full_name" in item and "clone_url" in item]
    return Page(repositories, _next_page(response))


def get_repository(token: str, full_name: str) -> Repository:
    """The repository named `full_name` (checked by the caller), if the token's user may read
    it; GitHubError 404 when not (GitHub answers 404 for private repositories of others)."""
    item = _request(token, "GET", f"repos/{full_name}").json()
    if not isinstance(item, dict) or "full_name" not in item or "clone_url" not in item:
        raise GitHubError("GitHub's answer about the repository was not understood.")
    return _repository(item)


def list_branches(token: str, full_name: str, page: int = 1) -> Page[str]:
    """One page of a repository's branch names. `full_name` is owner/name, checked by the
    caller (github.repositories.validate_full_name)."""
    response = _request(token, "GET", f"repos/{full_name}/branches",
                        params={"per_page": PER_PAGE, "page": page})
    names = [str(item["name"]) for item in response.json()
             if isinstance(item, dict) and "name" in item]
    return Page(names, _next_page(response))


def _hook_config(url: str, secret: str) -> dict[str, str]:
    return {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"}


def create_hook(token: str, full_name: str, url: str, secret: str) -> int:
    """Create the repository's webhook for push and pull_request events; its id. HookExists
    when the repository has one posting to `url` already (GitHub's 422)."""
    try:
        response = _request(token, "POST", f"repos/{full_name}/hooks", json={
            "name": "web", "active": True, "events": ["push", "pull_request"],
            "config": _hook_config(url, secret)})
    except GitHubError as error:
        if error.status == 422 and any("already exists" in d for d in error.details):
            raise HookExists(str(error), 422, error.details) from None
        raise
    return _hook_id(response.json())


def _hook_id(item: object) -> int:
    hook_id = item.get("id") if isinstance(item, dict) else None
    if not isinstance(hook_id, int):
        raise GitHubError("GitHub's answer about the webhook was not understood.")
    return hook_id


def list_hooks(token: str, full_name: str, page: int = 1) -> Page[Hook]:
    """One page of the repository's webhooks (its admins only: 404 for others)."""
    response = _request(token, "GET", f"repos/{full_name}/hooks",
                        params={"per_page": PER_PAGE, "page": page})
    hooks = [Hook(id=item["id"], url=str((item.get("config") or {}).get("url", "")),
                  events=tuple(str(event) for event in item.get("events") or ()),
                  active=bool(item.get("active")))
             for item in response.json()
             if isinstance(item, dict) and isinstance(item.get("id"), int)]
    return Page(hooks, _next_page(response))


def update_hook(token: str, full_name: str, hook_id: int, url: str, secret: str) -> None:
    """Set the webhook's configuration (its URL and secret: GitHub replaces the whole
    config, so all of it is sent)."""
    _request(token, "PATCH", f"repos/{full_name}/hooks/{hook_id}",
             json={"config": _hook_config(url, secret)})


def create_status(token: str, full_name: str, sha: str, *, state: str, target_url: str,
                  description: str, context: str) -> None:
    """Report a commit status (pending, success, failure or error) on `sha`."""
    _request(token, "POST", f"repos/{full_name}/statuses/{sha}", json={
        "state": state, "target_url": target_url, "description": description[:140],
        "context": context,
    })


def refresh_token(refresh_token: str) -> dict[str, object]:
    """A new token for an expiring one (GitHub's OAuth refresh grant): GitHub's answer, with
    `access_token` when it worked and `error` when it did not."""
    try:
        response = httpx.post(
            settings.GITHUB_URL + "/login/oauth/access_token", timeout=TIMEOUT,
            headers={"Accept": "application/json"},
            data={"client_id": settings.GITHUB_CLIENT_ID,
                  "client_secret": settings.GITHUB_CLIENT_SECRET,
                  "grant_type": "refresh_token", "refresh_token": refresh_token})
        answer = response.json()
    except (httpx.HTTPError, ValueError):
        raise GitHubError("GitHub could not be reached to refresh the token.") from None
    return answer if isinstance(answer, dict) else {"error": "unexpected answer"}
