"""Background work on projects (Dramatiq actors, run in the enqueuing workspace's schema)."""

import logging

import dramatiq
from django.db import connection, transaction

from core import events
from projects.models import Project

logger = logging.getLogger(__name__)


@dramatiq.actor(queue_name="default", time_limit=10 * 60 * 1000, max_retries=3)
def remove_project(project_id: int) -> None:
    """Delete a project marked for deletion, with its environments, services and history.

    Idempotent: a retry after a partial run, or a second message, finds nothing left to do.
    """
    with transaction.atomic():
        project = Project.objects.select_for_update().filter(pk=project_id, deleting=True).first()
        if project is None:
            return
        name = project.name
        project.delete()  # deployments.receivers removes what its services run
    logger.info("removed project %s from %s", project_id, connection.schema_name)
    events.publish(connection.schema_name, "projects_changed", removed=name)
