"""A workspace's projects, their environments and services, and service variables."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from tenants.models import DNS_LABEL


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible(self) -> ProjectQuerySet:
        """Projects a page lists: not those being deleted in the background."""
        return self.filter(deleting=False)


class Project(models.Model):
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    deleting = models.BooleanField(default=False)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), name="project_name_ci_unique",
                violation_error_message="A project with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def mark_deleting(self) -> None:
        self.deleting = True
        self.save(update_fields=["deleting"])


class Environment(models.Model):
    PRODUCTION = "production"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=63, validators=[DNS_LABEL])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="environment_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.project} / {self.name}"


class RestartPolicy(models.TextChoices):
    ALWAYS = "always", "Always"
    ON_FAILURE = "on-failure", "On failure"
    NEVER = "never", "Never"


class Service(models.Model):
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="services")
    name = models.CharField(max_length=63, validators=[DNS_LABEL])
    repository_url = models.CharField(max_length=500, blank=True)
    branch = models.CharField(max_length=255, default="main")
    root_directory = models.CharField(max_length=255, blank=True)
    build_command = models.TextField(blank=True, max_length=2000)
    start_command = models.TextField(blank=True, max_length=2000)
    healthcheck_path = models.CharField(max_length=255, blank=True)
    healthcheck_timeout = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )
    instances = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(16)]
    )
    restart_policy = models.CharField(
        max_length=12, choices=RestartPolicy.choices, default=RestartPolicy.ON_FAILURE
    )
    max_restarts = models.PositiveSmallIntegerField(default=10)
    custom_domains = models.JSONField(default=list, blank=True)
    active_deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="service_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Variable(models.Model):
    """A service's variable, or a shared one of an environment; the value is encrypted."""

    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="variables"
    )
    environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.CASCADE,
        related_name="shared_variables",
    )
    key = models.CharField(max_length=255)
    ciphertext = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(service__isnull=False, environment__isnull=True)
                | models.Q(service__isnull=True, environment__isnull=False),
                name="variable_has_one_owner",
            ),
            models.UniqueConstraint(
                fields=["service", "key"], condition=models.Q(service__isnull=False),
                name="service_variable_key_unique",
            ),
            models.UniqueConstraint(
                fields=["environment", "key"], condition=models.Q(environment__isnull=False),
                name="shared_variable_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.key
