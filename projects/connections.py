"""Services connected to a code host's account (GitHub): the seam between the service forms
and the app that talks to the host.

The projects app never imports github. The github app fills these hooks in when Django is
ready (github/apps.py): `repository_check` says whether the signed-in user may connect a
repository (asked again on every save: the form's hidden field is input like any other), and
`service_connected` is sent once a service connected to a repository is saved, so that the
repository's webhook can be created; `repository_webhook` tells the service's settings page
whether the panel created that webhook, or the user is to add it by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.dispatch import Signal

from tenants.models import User, Workspace


@dataclass(frozen=True)
class ConnectedRepository:
    full_name: str  # owner/name, lower case
    clone_url: str
    account_id: int  # the GitHub id of the user whose token reads it (Service.github_user_id)


@dataclass(frozen=True)
class RepositoryWebhook:
    """A connected repository's webhook, as the service's settings page shows it."""

    url: str  # the payload URL the code host posts to
    created_at: datetime | None  # when the panel created it; None: to be added by hand
    secret_page: str  # where the workspace's admins find the webhook's secret
    last_delivery_at: datetime | None = None  # the latest event of the repository received


RepositoryCheck = Callable[[User, str], ConnectedRepository]
WebhookLookup = Callable[[Workspace, str], RepositoryWebhook]
_checks: list[RepositoryCheck] = []
_webhook_lookups: list[WebhookLookup] = []

# Sent (by the service pages) with `service` and `request` once a service connected to a
# repository was saved with a newly picked repository.
service_connected = Signal()


def set_repository_check(check: RepositoryCheck) -> None:
    """`check(user, full_name)`: the repository, if the user's account may read it; else
    ValidationError with a message for the form."""
    _checks[:] = [check]


def check_repository(user: User, full_name: str) -> ConnectedRepository:
    if not _checks:
        raise ValidationError("Connecting GitHub repositories is not available on this panel.")
    return _checks[0](user, full_name)


def set_webhook_lookup(lookup: WebhookLookup) -> None:
    """`lookup(workspace, full_name)`: the webhook of a repository the workspace connects."""
    _webhook_lookups[:] = [lookup]


def repository_webhook(workspace: Workspace, full_name: str) -> RepositoryWebhook | None:
    """What the page says about the repository's webhook; None with no repository."""
    if not full_name or not _webhook_lookups:
        return None
    return _webhook_lookups[0](workspace, full_name)
