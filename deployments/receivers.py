"""What the deployments app does when another app changes its models (connected in apps.py)."""

from __future__ import annotations

from deployments.services import tear_down
from projects.models import Service


def tear_down_deleted_service(sender: type[Service], instance: Service, **kwargs: object) -> None:
    tear_down(instance)
