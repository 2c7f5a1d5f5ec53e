"""The token a service's repository is cloned with: the deploy engine knows nothing of where
it comes from; an app that does (github, at ready()) registers a provider."""

from __future__ import annotations

from collections.abc import Callable

from projects.models import Service


class CredentialsError(Exception):
    """No usable token for the service's repository; the message is shown on the
    deployment and never contains a secret."""


TokenProvider = Callable[[Service], str]

_provider: TokenProvider | None = None


def set_token_provider(provider: TokenProvider | None) -> None:
    """Register the function that answers the clone token of a service ("" when none)."""
    global _provider
    _provider = provider


def token_for(service: Service) -> str:
    """The token to clone `service`'s repository with, "" when none is needed; raises
    CredentialsError when one is needed and does not work any more."""
    return _provider(service) if _provider is not None else ""
