"""What the deployments app does when another app changes its models (connected in apps.py)."""

from __future__ import annotations

from deployments.models import Deployment, SourceArchive
from deployments.services import tear_down
from projects.models import Service


def tear_down_deleted_service(sender: type[Service], instance: Service, **kwargs: object) -> None:
    tear_down(instance)


def remove_unused_archive(sender: type[Deployment], instance: Deployment,
                          **kwargs: object) -> None:
    """An uploaded source tree goes once the last deployment built from it (or rolled back
    to it) is deleted."""
    if instance.source_archive_id:
        SourceArchive.objects.filter(pk=instance.source_archive_id,
                                     deployments__isnull=True).delete()
