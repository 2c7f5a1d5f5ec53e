"""Services connected to a code host's account (GitHub): the seam between the service forms
and the app that talks to the host.

The projects app never imports github. The github app fills these hooks in when Django is
ready (github/apps.py): `repository_check` says whether the signed-in user may connect a
repository (asked again on every save: the form's hidden field is input like any other), and
`service_connected` is sent once a service connected to a repository is saved, so that the
repository's webhook can be created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.dispatch import Signal

from tenants.models import User


@dataclass(frozen=True)
class ConnectedRepository:
    full_name: str  # owner/name, lower case
    clone_url: str
    account_id: int  # the GitHub id of the user whose token reads it (Service.github_user_id)


RepositoryCheck = Callable[[User, str], ConnectedRepository]
_checks: list[RepositoryCheck] = []

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
