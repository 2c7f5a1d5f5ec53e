"""Workflows on projects."""

from django.db import transaction

from projects.domains import reserve_domain
from projects.models import Environment, Project, Service
from projects.tasks import remove_project


@transaction.atomic
def create_project(name: str, description: str = "") -> Project:
    """A project with its first environment, `production`."""
    project = Project.objects.create(name=name, description=description)
    Environment.objects.create(project=project, name=Environment.PRODUCTION)
    return project


@transaction.atomic
def create_service(environment: Environment, name: str, **fields: object) -> Service:
    """A service of the environment, with its domain reserved in the same transaction."""
    service = Service.objects.create(environment=environment, name=name, **fields)
    reserve_domain(service)
    return service


def delete_project(project: Project) -> None:
    """Hide the project now and remove it, with everything it runs, in the background."""
    project.mark_deleting()
    transaction.on_commit(lambda: remove_project.send(project.pk))
