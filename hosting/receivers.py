"""What the hosting app does when another app changes its models (connected in apps.py)."""

from __future__ import annotations

from hosting.models import CustomDomain, GeneratedDomain, Route
from tenants.models import Workspace


def free_deleted_workspace(sender: type[Workspace], instance: Workspace,
                           **kwargs: object) -> None:
    """A deleted workspace's schema is dropped with its services, which sends no deletion of
    theirs: their generated and custom domains are freed and their routes dropped here."""
    GeneratedDomain.objects.filter(schema_name=instance.schema_name).delete()
    CustomDomain.objects.filter(schema_name=instance.schema_name).delete()
    Route.objects.filter(schema_name=instance.schema_name).delete()
