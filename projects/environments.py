"""Environments made as copies of others: a staging next to production, or a pull request's
preview (github.previews).

A copy has the source's services (all, or the ones asked for) with their settings, each with a
generated domain of its own, and, unless left out, their variables and the shared ones. Custom
domains stay with the original, staged changes are not copied, and nothing is deployed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from projects.models import Environment, Service, Variable, owner_filter
from projects.services import create_service
from tenants import audit
from tenants.models import AuditAction

# Not copied: the row's identity, where it runs and what it runs, and what belongs to the
# original only (custom domains are rows of their own, hosting.CustomDomain, never copied).
NOT_COPIED = frozenset({"id", "environment", "name", "active_deployment",
                        "host_name", "created_at"})
# Names a pull request's preview takes (github.previews); users pick others.
PREVIEW_NAME = re.compile(r"pr-[0-9]+")


def preview_name(number: int) -> str:
    return f"pr-{number}"


def validate_environment_name(project_id: int, name: str) -> None:
    """ValidationError({"name": …}) unless `name` may name a new environment of the project:
    a DNS label, not taken there."""
    Environment(project_id=project_id, name=name).clean_fields(exclude={"project"})
    if Environment.objects.filter(project_id=project_id, name=name).exists():
        raise ValidationError(
            {"name": f"The project already has an environment named “{name}”."})


def copied_settings(service: Service) -> dict[str, object]:
    """The settings of `service` a copy of it gets."""
    return {field.attname: getattr(service, field.attname)
            for field in Service._meta.concrete_fields if field.name not in NOT_COPIED}


@sensitive_variables()
def copy_variables(source: Service | Environment, target: Service | Environment) -> int:
    """Give `target` the variables of `source`, encrypted again for their new owner (the
    associated data binds each ciphertext to its owner); returns how many."""
    copies = []
    for key, value in Variable.decrypt_all(source).items():
        copy = Variable(**owner_filter(target), key=key)
        copy.set_value(value)
        copies.append(copy)
    Variable.objects.bulk_create(copies)
    return len(copies)


def copy_services(services: Iterable[Service], environment: Environment, *,
                  with_variables: bool = True, **fields: object) -> list[Service]:
    """Copies of `services` (settings, and variables unless told not to) in `environment`,
    with `fields` set on each; the copies."""
    copies = []
    for original in sorted(services, key=lambda service: service.name):
        copy = create_service(environment, original.name,
                              **{**copied_settings(original), **fields})
        if with_variables:
            copy_variables(original, copy)
        copies.append(copy)
    return copies


@transaction.atomic
def copy_environment(source: Environment, name: str, *, services: Iterable[Service] | None = None,
                     with_variables: bool = True, **fields: object) -> Environment:
    """A new environment `name` of the source's project, a copy of `source` (of only the given
    `services` of it, if given), with `fields` set on it (a preview's pull request fields).

    ValidationError({"name": …}) for a name that is no DNS label or is taken; ValueError for
    a service of another environment. Nothing is deployed."""
    validate_environment_name(source.project_id, name)
    chosen = list(source.services.all() if services is None else services)
    if any(service.environment_id != source.pk for service in chosen):
        raise ValueError(f"Only services of {source} can be copied with it.")
    environment = Environment.objects.create(project_id=source.project_id, name=name,
                                             copied_from=source, **fields)
    copy_services(chosen, environment, with_variables=with_variables)
    if with_variables:
        copy_variables(source, environment)
    audit.record(AuditAction.CREATED, environment, copied_from=source.name,
                 services=sorted(service.name for service in chosen),
                 variables=with_variables)
    return environment
