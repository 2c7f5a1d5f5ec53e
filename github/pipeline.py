"""The steps of a sign-in with GitHub that are the panel's own (SOCIAL_AUTH_PIPELINE in
config/settings.py runs them between social-core's).

An existing account is linked only through an email address GitHub says is verified: an
unverified one is anybody's to type. The GitHub token goes into the GitHubAccount, encrypted;
social-core's own record of the sign-in keeps no token (its load_extra_data step is left out).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from social_core.backends.base import BaseAuth
from social_core.exceptions import AuthPolicyError

from github.models import GitHubAccount
from github.tokens import store_token_answer
from tenants.models import User


class OperatorAccount(AuthPolicyError):
    def __str__(self) -> str:
        return "Operators log in with their email address and password."


class NoVerifiedEmail(AuthPolicyError):
    def __str__(self) -> str:
        return ("Your GitHub account has no verified email address: verify one on GitHub, "
                "then sign in again.")


def verified_emails(response: dict[str, Any]) -> list[str]:
    """The addresses GitHub verified (from /user/emails), the primary one first."""
    emails = [entry for entry in response.get("emails") or []
              if isinstance(entry, dict) and entry.get("verified") is True
              and isinstance(entry.get("email"), str) and "@" in entry["email"]]
    emails.sort(key=lambda entry: not entry.get("primary"))
    return [entry["email"].strip().lower() for entry in emails]


def link_by_verified_email(backend: BaseAuth, response: dict[str, Any],
                           user: User | None = None, *args: object,
                           **kwargs: object) -> dict[str, object] | None:
    """Sign in to the account whose email address GitHub verified for this user; refused
    when GitHub verified none (a new account needs one too), and for an operator's account
    (an operator's sign-in stays the password's)."""
    emails = verified_emails(response)
    if not emails:
        raise NoVerifiedEmail(backend)
    if user is not None:
        return None
    existing = User.objects.filter(email__in=emails, is_active=True).order_by("pk")
    by_email = {account.email.lower(): account for account in existing}
    for email in emails:
        if email in by_email:
            if by_email[email].is_staff:
                raise OperatorAccount(backend)
            return {"user": by_email[email]}
    return None


def create_user(backend: BaseAuth, response: dict[str, Any], user: User | None = None,
                *args: object, **kwargs: object) -> dict[str, object] | None:
    """A new account for a new user: the primary verified address, GitHub's name, no
    password (they sign in with GitHub)."""
    if user is not None:
        return None
    name = response.get("name") or response.get("login") or ""
    new_user = User.objects.create_user(verified_emails(response)[0], password=None,
                                        name=str(name)[:150])
    return {"user": new_user, "is_new": True}


def store_account(backend: BaseAuth, uid: str, response: dict[str, Any],
                  user: User | None = None, *args: object, **kwargs: object) -> None:
    """The user's GitHubAccount: their GitHub id and login, and the token GitHub just gave
    (with its refresh token and expiry times when GitHub issues expiring tokens)."""
    if user is None or not response.get("access_token"):
        return
    with transaction.atomic():
        account = (GitHubAccount.objects.select_for_update().filter(user=user).first()
                   or GitHubAccount(user=user))
        account.github_id = int(uid)
        account.login = str(response.get("login") or "")[:100]
        store_token_answer(account, response)
        account.save()
