"""The generated domain of a service, `<label>.PAAS_APPS_DOMAIN` (DESIGN.md §3).

The label is reserved in the public schema (hosting.models.GeneratedDomain) when the service
is created, in the same transaction (the tenant connection reaches the public tables through
its search_path), and is freed when the service is deleted, with its project or alone (its
custom domains too). A service stopped, failed or renamed keeps it. It reads
`<service>[-<environment>]-<workspace>` (`pr-<number>-<service>-<workspace>` in a pull
request's preview) when that was free, else it carries a random suffix
(hosting.domain_labels).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction

from hosting.domain_labels import preview_label, readable_label
from hosting.models import CustomDomain, GeneratedDomain
from projects.models import Environment, Service
from tenants.models import Workspace

LABEL_ATTRIBUTE = "_generated_label"  # the label, once read, on the Service instance


def workspace_slug() -> str:
    """The slug of the workspace whose schema the connection uses."""
    slug = getattr(connection.tenant, "slug", None)
    if slug is None:
        slug = (Workspace.objects.filter(schema_name=connection.schema_name)
                .values_list("slug", flat=True).first() or connection.schema_name)
    return slug


def readable_label_of(service: Service) -> str:
    if service.environment.is_preview:
        return preview_label(service.environment.pull_request, service.name, workspace_slug())
    environment = service.environment.name
    return readable_label(service.name, None if environment == Environment.PRODUCTION
                          else environment, workspace_slug())


def reserve_domain(service: Service) -> str:
    """Reserve the service's label (idempotent: a label it holds is kept) and return it.

    The service row is locked first, so that a deletion running meanwhile either waits for
    this reservation (and frees it) or has already removed the row (Service.DoesNotExist)."""
    with transaction.atomic():
        if not Service.objects.select_for_update(no_key=True).filter(pk=service.pk).exists():
            raise Service.DoesNotExist(f"service {service.pk} no longer exists")
        label = GeneratedDomain.objects.reserve(
            connection.schema_name, service.pk, readable_label_of(service))
    setattr(service, LABEL_ATTRIBUTE, label)
    return label


def generated_label(service: Service) -> str:
    """The service's reserved label; one is reserved now if it has none (a service made by
    an older code path)."""
    label = getattr(service, LABEL_ATTRIBUTE, None)
    if label is None:
        label = (GeneratedDomain.objects.label_for(connection.schema_name, service.pk)
                 or reserve_domain(service))
        setattr(service, LABEL_ATTRIBUTE, label)
    return label


def public_domain(service: Service) -> str:
    """Where the service is served: its generated domain."""
    return f"{generated_label(service)}.{settings.PAAS_APPS_DOMAIN}"


def remember_domains(services: Iterable[Service]) -> None:
    """Read the labels of several services with one query (public_domain then asks none)."""
    unknown = {service.pk: service for service in services
               if getattr(service, LABEL_ATTRIBUTE, None) is None}
    if unknown:
        labels = GeneratedDomain.objects.labels_for(connection.schema_name, list(unknown))
        for pk, label in labels.items():
            setattr(unknown[pk], LABEL_ATTRIBUTE, label)


def free_deleted_service(sender: type[Service], instance: Service, **kwargs: object) -> None:
    """post_delete of a Service (connected in apps.py): its domain, and its custom domains
    (projects.custom_domains) with their routes, are free again once the deletion commits."""
    GeneratedDomain.objects.release(connection.schema_name, instance.pk)
    CustomDomain.objects.release(connection.schema_name, instance.pk)
