"""A workspace's projects, their environments and services, and service variables."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models
from django.db.models.functions import Lower

from core.crypto import associated_data, associated_data_prefix, decrypt_named, keyring
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


class EnvironmentQuerySet(models.QuerySet["Environment"]):
    def visible(self) -> EnvironmentQuerySet:
        """Environments a page may show: not those of a project being deleted."""
        return self.filter(project__deleting=False).select_related("project")


class Environment(models.Model):
    PRODUCTION = "production"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=63, validators=[DNS_LABEL])
    created_at = models.DateTimeField(auto_now_add=True)
    # Made as a copy of another environment (its services, settings and variables).
    copied_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    # A pull request's preview: a copy of the services that track its base branch. Numbers
    # are per repository: two repositories of a project may each have a #2.
    pull_request = models.PositiveIntegerField(null=True, blank=True)
    pull_request_repository = models.CharField(max_length=200, blank=True,
                                               help_text="owner/name, lower case")
    pull_request_title = models.CharField(max_length=300, blank=True)
    pull_request_url = models.CharField(max_length=500, blank=True)
    head_branch = models.CharField(max_length=255, blank=True)
    head_sha = models.CharField(max_length=40, blank=True)
    from_fork = models.BooleanField(default=False)
    # A fork's preview deploys a head commit only once an admin approved that commit.
    approved_sha = models.CharField(max_length=40, blank=True)
    approved_by = models.CharField(max_length=254, blank=True)

    objects = EnvironmentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="environment_name_unique"),
            models.UniqueConstraint(fields=["project", "pull_request_repository",
                                            "pull_request"],
                                    condition=models.Q(pull_request__isnull=False),
                                    name="one_preview_per_pull_request"),
        ]

    def __str__(self) -> str:
        return f"{self.project} / {self.name}"

    @property
    def is_preview(self) -> bool:
        return self.pull_request is not None


class RestartPolicy(models.TextChoices):
    ALWAYS = "always", "Always"
    ON_FAILURE = "on-failure", "On failure"
    NEVER = "never", "Never"


class ServiceQuerySet(models.QuerySet["Service"]):
    def visible(self) -> ServiceQuerySet:
        """Services a page may show: not those of a project being deleted."""
        return self.filter(environment__project__deleting=False).select_related(
            "environment__project", "active_deployment")


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
    max_restarts = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(1000)],
        help_text="with “on failure”: restarts before the process is left stopped",
    )
    auto_rollback = models.BooleanField(
        default=True, help_text="roll back to the last healthy release when a deployment crashes"
    )
    build_timeout = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="minutes a build may take before it is stopped",
    )
    # Limits of each process (README, Isolation), capped by the host's PAAS_LIMIT_* settings.
    memory_limit_mb = models.PositiveIntegerField(
        default=512, validators=[MinValueValidator(32), MaxValueValidator(65536)],
        help_text="MB of memory a process may use; past it the process is restarted",
    )
    max_processes = models.PositiveIntegerField(
        default=256, validators=[MinValueValidator(16), MaxValueValidator(4096)],
        help_text="processes and threads the workspace's user may run at once (fork bombs "
                  "stop here)",
    )
    max_open_files = models.PositiveIntegerField(
        default=4096, validators=[MinValueValidator(64), MaxValueValidator(1048576)],
        help_text="files and sockets a process may have open",
    )
    cpu_priority = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(19)],
        help_text="niceness, 0 (normal) to 19 (yields the CPU to everything else)",
    )
    log_retention_days = models.PositiveSmallIntegerField(
        default=7, choices=[(days, f"{days} day{'s' if days > 1 else ''}")
                            for days in (1, 3, 7, 14, 30)],
        help_text="days its log lines are kept (lines already stored keep the period they "
                  "were stored with)",
    )
    # Globs (fnmatch, against paths from the repository's root): a push that changes none of
    # them is recorded as skipped. Empty: every push deploys.
    watch_paths = models.JSONField(default=list, blank=True)
    # Connected from GitHub: the repository (owner/name, lower case) and whose token reads it,
    # creates its webhook and reports commit statuses (a user of the public schema, by id).
    github_repository = models.CharField(max_length=200, blank=True)
    github_user_id = models.BigIntegerField(null=True, blank=True)
    host_name = models.CharField(
        max_length=63, blank=True,
        help_text="the host (hosting.Host) its deployments run on; set at its first deployment",
    )
    active_deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="service_name_unique")
        ]

    def __str__(self) -> str:
        return self.name

    def latest_built(self) -> models.Model | None:
        """The deployment Redeploy builds again: the one running, else the newest with a
        source (a commit, or an upload)."""
        return self.active_deployment or (
            self.deployments.exclude(commit_sha="", source_archive=None).first())

    def redeployable(self) -> bool:
        """Whether Redeploy can build: a commit needs the repository still, an upload (a
        service deployed only with `paas up` has no repository URL) does not."""
        latest = self.latest_built()
        return latest is not None and bool(self.repository_url or latest.source_archive_id)


def owned_constraints(one_owner: str, service_key: str, shared_key: str) -> list:
    """Constraints of a row owned by a service or an environment: exactly one owner, and each
    key once per owner."""
    return [
        models.CheckConstraint(
            condition=models.Q(service__isnull=False, environment__isnull=True)
            | models.Q(service__isnull=True, environment__isnull=False),
            name=one_owner,
        ),
        models.UniqueConstraint(
            fields=["service", "key"], condition=models.Q(service__isnull=False),
            name=service_key,
        ),
        models.UniqueConstraint(
            fields=["environment", "key"], condition=models.Q(environment__isnull=False),
            name=shared_key,
        ),
    ]


def owner_type_of(owner: Service | Environment) -> str:
    return "service" if isinstance(owner, Service) else "environment"


def owner_context(purpose: str, owner_type: str, owner_id: int) -> tuple[str, str, int]:
    """The owner part of a secret's associated data: schema, purpose and owner type, id."""
    return connection.schema_name, f"{purpose}:{owner_type}", owner_id


def owner_filter(owner: Service | Environment) -> dict[str, object]:
    """Lookup for the rows of `owner`: `Variable.objects.filter(**owner_filter(service))`."""
    return {"service": owner} if isinstance(owner, Service) else {"environment": owner}


class OwnedSecret(models.Model):
    """A secret value that belongs to a service, or (shared) to an environment, under a key.

    The ciphertext is bound to the schema, the PURPOSE, the owner and the key (DESIGN.md §7):
    moved to another row it does not decrypt."""

    PURPOSE = ""

    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="%(class)ss")
    environment = models.ForeignKey(Environment, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="shared_%(class)ss")
    key = models.CharField(max_length=255)
    ciphertext: bytes | None  # each subclass declares the field

    class Meta:
        abstract = True

    @property
    def owner(self) -> Service | Environment:
        return self.service if self.service_id else self.environment

    @property
    def owner_type(self) -> str:
        return "service" if self.service_id else "environment"

    @property
    def owner_id(self) -> int:
        return self.service_id or self.environment_id

    def associated_data(self) -> bytes:
        context = owner_context(self.PURPOSE, self.owner_type, self.owner_id)
        return associated_data(*context, self.key)

    def set_value(self, value: str) -> None:
        self.ciphertext = keyring().encrypt(value.encode(), self.associated_data())

    def decrypt(self) -> str:
        """The plaintext. Callers check the role first (tenants.roles: READ_SECRETS or deploy)."""
        return keyring().decrypt(self.ciphertext, self.associated_data()).decode()

    @classmethod
    def associated_data_prefix(cls, owner: Service | Environment) -> bytes:
        """The part of the associated data all of `owner`'s values share."""
        return associated_data_prefix(*owner_context(cls.PURPOSE, owner_type_of(owner), owner.pk))


class Variable(OwnedSecret):
    """A service's variable, or a shared one of an environment; the value is encrypted."""

    PURPOSE = "variable"

    ciphertext = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = owned_constraints(
            "variable_has_one_owner", "service_variable_key_unique", "shared_variable_key_unique"
        )

    def __str__(self) -> str:
        return self.key

    @classmethod
    def decrypt_all(cls, owner: Service | Environment,
                    rows: list[tuple[str, bytes]] | None = None) -> dict[str, str]:
        """{key: value} of every variable of `owner` (or of the given (key, ciphertext) rows
        of that owner), decrypted in one pass."""
        if rows is None:
            rows = list(cls.objects.filter(**owner_filter(owner)).values_list("key", "ciphertext"))
        return decrypt_named(cls.associated_data_prefix(owner), rows)


class StagedChange(OwnedSecret):
    """A variable change waiting for "Apply": set (with the new value, encrypted) or delete."""

    PURPOSE = "staged"
    SET = "set"
    DELETE = "delete"

    action = models.CharField(max_length=6, choices=[(SET, "Set"), (DELETE, "Delete")])
    ciphertext = models.BinaryField(null=True, blank=True)
    staged_by = models.CharField(max_length=254, blank=True)
    staged_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = owned_constraints(
            "staged_change_has_one_owner", "staged_service_key_unique", "staged_shared_key_unique"
        )

    def __str__(self) -> str:
        return f"{self.action} {self.key}"


class VariableReveal(models.Model):
    """An owner or admin looked at a secret value: who, when, which key."""

    owner_type = models.CharField(max_length=12)
    owner_id = models.BigIntegerField()
    key = models.CharField(max_length=255)
    user_id = models.BigIntegerField()
    user_email = models.CharField(max_length=254)
    revealed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-revealed_at"]
        indexes = [models.Index(fields=["owner_type", "owner_id"])]

    def __str__(self) -> str:
        return f"{self.user_email} revealed {self.key}"
