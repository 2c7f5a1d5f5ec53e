"""What the service form's "Pick from GitHub" shows: the signed-in user's repositories
(searched by name), a repository's branches, and the check, on every save, that the user's
token may read the repository the form names.

GitHub's /user/repos has no name filter: a search reads up to MAX_PAGES pages of 100 from
the page asked for, keeps the names that match, and says which page to read next ("Load
more"), so a user with thousands of repositories is never made to wait for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from github import client
from github.models import GitHubAccount
from github.repositories import validate_full_name
from github.tokens import TokenExpired, with_token
from projects.connections import ConnectedRepository
from projects.validators import validate_repository_url
from tenants.models import User

MAX_PAGES = 10  # pages of 100 read per search, and of branches per repository
MAX_QUERY = 100


@dataclass(frozen=True)
class Found:
    repositories: list[client.Repository]
    next_page: int | None  # the GitHub page "Load more" reads from
    searched: int  # how many repositories were looked at


def account_of(user: User) -> GitHubAccount | None:
    return GitHubAccount.objects.filter(user=user).first() if user.is_authenticated else None


def search_repositories(account: GitHubAccount, query: str, page: int) -> Found:
    """The account's repositories from GitHub page `page` on: that page alone without a
    query; with one, the names containing it (case-insensitive) in up to MAX_PAGES pages."""
    needle = query.strip().lower()
    found: list[client.Repository] = []
    searched, next_page = 0, page
    for _ in range(MAX_PAGES if needle else 1):
        result = with_token(account, lambda token, at=next_page: client.list_repositories(
            token, at))
        searched += len(result.items)
        found += [repo for repo in result.items if needle in repo.full_name.lower()]
        next_page = result.next_page
        if next_page is None:
            break
    return Found(found, next_page, searched)


@dataclass(frozen=True)
class Branches:
    names: list[str]
    truncated: bool  # more than MAX_PAGES pages: the list shows the first ones


def branches_of(account: GitHubAccount, full_name: str) -> Branches:
    """The repository's branch names, following GitHub's pages up to MAX_PAGES."""
    names: list[str] = []
    page: int | None = 1
    for _ in range(MAX_PAGES):
        result = with_token(account, lambda token, at=page: client.list_branches(
            token, full_name, at))
        names += result.items
        page = result.next_page
        if page is None:
            break
    return Branches(names, page is not None)


def readable_repository(account: GitHubAccount, full_name: str) -> client.Repository:
    """The repository, as GitHub shows it to the account; GitHubError (404) when the
    account's token may not read it, TokenExpired when the token no longer works."""
    return with_token(account, lambda token: client.get_repository(token, full_name))


def check_repository(user: User, full_name: str) -> ConnectedRepository:
    """The repository a service form names, if `user`'s GitHub token may read it (filled in
    as projects.connections' repository check); ValidationError otherwise."""
    full_name = validate_full_name(full_name)
    account = account_of(user)
    if account is None:
        raise ValidationError("Sign in with GitHub to connect a GitHub repository.")
    try:
        repository = readable_repository(account, full_name)
    except TokenExpired as error:
        raise ValidationError(str(error)) from None
    except client.GitHubError as error:
        if error.status in (403, 404):
            raise ValidationError(
                f"Your GitHub account cannot read {full_name}, or it does not exist.") from None
        raise ValidationError(str(error)) from None
    validate_repository_url(repository.clone_url)
    return ConnectedRepository(full_name=validate_full_name(repository.full_name),
                               clone_url=repository.clone_url, account_id=account.github_id)
