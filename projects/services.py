"""Workflows on projects."""

from django.db import transaction
from django.forms import ModelForm

from projects.domains import reserve_domain
from projects.models import Environment, Project, Service
from projects.tasks import remove_project
from tenants import audit
from tenants.models import AuditAction


@transaction.atomic
def create_project(name: str, description: str = "") -> Project:
    """A project with its first environment, `production`."""
    project = Project.objects.create(name=name, description=description)
    Environment.objects.create(project=project, name=Environment.PRODUCTION)
    audit.record(AuditAction.CREATED, project)
    return project


@transaction.atomic
def create_service(environment: Environment, name: str, **fields: object) -> Service:
    """A service of the environment, with its domain reserved in the same transaction."""
    service = Service.objects.create(environment=environment, name=name, **fields)
    reserve_domain(service)
    audit.record(AuditAction.CREATED, service, project=environment.project.name)
    return service


def delete_project(project: Project) -> None:
    """Hide the project now and remove it, with everything it runs, in the background."""
    project.mark_deleting()
    audit.record(AuditAction.DELETED, project)
    transaction.on_commit(lambda: remove_project.send(project.pk))


class LastEnvironment(Exception):
    """A project keeps at least one environment: delete the project instead."""


@transaction.atomic
def delete_service(service: Service) -> None:
    """Delete a service now: what it runs, its routes, ports and releases go when the
    transaction commits (deployments.receivers), its domain is freed."""
    audit.record(AuditAction.DELETED, service, environment=service.environment.name,
                 project=service.environment.project.name)
    service.delete()


@transaction.atomic
def delete_environment(environment: Environment) -> None:
    """Delete an environment with its services (as delete_service does); refused for the
    project's last one."""
    project = Project.objects.select_for_update().get(pk=environment.project_id)
    if not project.environments.exclude(pk=environment.pk).exists():
        raise LastEnvironment(f"{environment.name} is the only environment of {project.name}; "
                              "delete the project instead.")
    audit.record(AuditAction.DELETED, environment, project=project.name)
    environment.delete()


def update_project(form: ModelForm) -> Project:
    """Save a valid edit form of a project; the audit log names what changed."""
    project = form.save()
    if form.changed_data:
        audit.record(AuditAction.SETTINGS_CHANGED, project, fields=sorted(form.changed_data))
    return project


def save_service_settings(form: ModelForm) -> Service:
    """Save the settings form of a service; the audit log names the settings that changed."""
    service = form.save()
    if form.changed_data:
        audit.record(AuditAction.SETTINGS_CHANGED, service, fields=sorted(form.changed_data))
    return service
