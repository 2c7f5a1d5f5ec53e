"""Workflows on projects."""

from django.db import transaction

from projects.models import Environment, Project
from projects.tasks import remove_project


@transaction.atomic
def create_project(name: str, description: str = "") -> Project:
    """A project with its first environment, `production`."""
    project = Project.objects.create(name=name, description=description)
    Environment.objects.create(project=project, name=Environment.PRODUCTION)
    return project


def delete_project(project: Project) -> None:
    """Hide the project now and remove it, with everything it runs, in the background."""
    project.mark_deleting()
    transaction.on_commit(lambda: remove_project.send(project.pk))
