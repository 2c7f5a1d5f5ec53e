"""Private repositories are cloned with the token of the GitHub account that connected them
(deployments.engine.credentials asks; registered in github/apps.py)."""

from __future__ import annotations

from deployments.engine.credentials import CredentialsError
from github.tokens import TokenExpired, account_for_user_id, usable_token
from projects.models import Service


def clone_token(service: Service) -> str:
    """The token of the account that connected the service's repository, "" when none."""
    account = account_for_user_id(service.github_user_id)
    if account is None:
        return ""
    try:
        return usable_token(account)
    except TokenExpired:
        raise CredentialsError(f"The GitHub authorization of {account.login} has expired: "
                               "sign in with GitHub again.") from None
