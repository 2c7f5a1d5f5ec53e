"""A user's GitHub token, usable: an expiring one is refreshed when its time is up (or when
GitHub refuses it), and an account whose token GitHub no longer accepts is marked expired,
so that the pages ask its user to sign in with GitHub again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from github import client
from github.models import GitHubAccount

# Refresh a little before GitHub's expiry, so a token does not expire during a clone.
EARLY = timedelta(minutes=5)


class TokenExpired(client.GitHubError):
    """The account's token no longer works and could not be refreshed."""

    def __init__(self) -> None:
        super().__init__("Your GitHub authorization has expired: sign in with GitHub again.",
                         401)


def store_token_answer(account: GitHubAccount, answer: dict[str, object]) -> None:
    """Keep the tokens of GitHub's answer to a sign-in or a refresh (encrypted) and their
    expiry times; the account is usable again. The caller saves it."""
    now = timezone.now()
    account.set_tokens(str(answer["access_token"]), str(answer.get("refresh_token") or ""))
    expires_in = answer.get("expires_in")
    account.token_expires_at = now + timedelta(seconds=int(expires_in)) \
        if str(expires_in or "").isdigit() else None
    refresh_in = answer.get("refresh_token_expires_in")
    account.refresh_token_expires_at = now + timedelta(seconds=int(refresh_in)) \
        if str(refresh_in or "").isdigit() else None
    if answer.get("scope") is not None:
        account.scopes = str(answer["scope"])[:500]
    account.state = GitHubAccount.State.OK


def refresh(account: GitHubAccount) -> str:
    """A new token for the account, or TokenExpired (the account is then marked expired)."""
    with transaction.atomic():
        locked = GitHubAccount.objects.select_for_update().get(pk=account.pk)
        if (bytes(locked.token_ciphertext or b"") != bytes(account.token_ciphertext or b"")
                and locked.state == GitHubAccount.State.OK):
            account.refresh_from_db()  # another process refreshed it meanwhile
            return account.token()
        refresh_token = locked.refresh_token()
        answer = client.refresh_token(refresh_token) if refresh_token else {}
        if answer.get("access_token"):
            store_token_answer(locked, answer)
        else:
            locked.state = GitHubAccount.State.EXPIRED
        locked.save()
    account.refresh_from_db()
    if account.state == GitHubAccount.State.EXPIRED:
        raise TokenExpired()
    return account.token()


def usable_token(account: GitHubAccount) -> str:
    """The account's token, refreshed first when it expires within a few minutes;
    TokenExpired when there is none that works."""
    if account.state == GitHubAccount.State.EXPIRED or not account.token_ciphertext:
        raise TokenExpired()
    expires = account.token_expires_at
    if expires is not None and expires - EARLY <= timezone.now():
        return refresh(account)
    return account.token()


def with_token[T](account: GitHubAccount, call: Callable[[str], T]) -> T:
    """`call(token)`; when GitHub refuses the token (401), it is refreshed once and `call`
    tried again, or the account is marked expired (TokenExpired)."""
    try:
        return call(usable_token(account))
    except client.BadCredentials:
        return call(refresh(account))


def account_for_user_id(github_id: int | None) -> GitHubAccount | None:
    if github_id is None:
        return None
    return GitHubAccount.objects.filter(github_id=github_id).first()
