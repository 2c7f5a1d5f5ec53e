"""The public schema: users, workspaces, their domains and memberships."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import connection, models
from django.db.models.functions import Lower
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.utils import get_creation_fakes_migrations, schema_exists

from tenants import cloning
from tenants.roles import Role

DNS_LABEL = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "Use lowercase letters, digits and hyphens; start and end with a letter or digit.",
)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, email: str) -> User:
        """Log-in looks the address up in any case: it is stored lowercased."""
        return self.get(email__iexact=(email or "").strip())

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. The email address is the login."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Operators: may use the admin and enter any workspace."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email.split("@")[0]


class Workspace(TenantMixin):
    """A team: its own PostgreSQL schema, reached at <slug>.PAAS_DOMAIN."""

    slug = models.CharField(max_length=40, unique=True, validators=[DNS_LABEL])
    name = models.CharField(max_length=100)
    suspended = models.BooleanField(
        default=False, help_text="A suspended workspace shows a notice and runs nothing."
    )
    allow_wildcard_domains = models.BooleanField(
        default=False, help_text="Its services may add wildcard custom domains "
        "(*.example.com). Let's Encrypt issues wildcard certificates only through a DNS "
        "challenge, which the panel's Traefik does not do: give Traefik one for them.")
    created_at = models.DateTimeField(auto_now_add=True)
    # The secret GitHub signs this workspace's webhook deliveries with, encrypted (github/).
    github_webhook_secret = models.BinaryField(null=True, blank=True, editable=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="workspaces"
    )

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def create_schema(self, check_if_exists: bool = False, sync_schema: bool = True,
                      verbosity: int = 1) -> bool:
        """The workspace's schema, cloned from the template (see tenants.cloning).

        Without a template schema (`manage.py migrate_template` not run yet) django-tenants
        creates it by running every migration, which is slower but equivalent.
        """
        template = settings.TENANT_BASE_SCHEMA
        if not (sync_schema and get_creation_fakes_migrations() and schema_exists(template)):
            return super().create_schema(check_if_exists, sync_schema, verbosity)
        if check_if_exists and schema_exists(self.schema_name):
            return False
        cloning.clone_template(template, self.schema_name)
        connection.set_schema_to_public()
        return True

    @staticmethod
    def schema_name_for(slug: str) -> str:
        return "ws_" + slug.replace("-", "_")

    @property
    def hostname(self) -> str:
        return f"{self.slug}.{settings.PAAS_DOMAIN}"

    def suspend(self) -> None:
        self.suspended = True
        self.save(update_fields=["suspended"])

    def resume(self) -> None:
        self.suspended = False
        self.save(update_fields=["suspended"])


class Domain(DomainMixin):
    """A hostname that routes to a workspace (its <slug>.PAAS_DOMAIN)."""


class MembershipQuerySet(models.QuerySet["Membership"]):
    def for_user(self, user: User) -> MembershipQuerySet:
        return self.filter(user=user, user__is_active=True)


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="one_membership_per_user"),
            models.UniqueConstraint(
                fields=["workspace"], condition=models.Q(role="owner"),
                name="one_owner_per_workspace",
                violation_error_message="A workspace has one owner; transfer ownership instead.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.workspace}"


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> InvitationQuerySet:
        return self.filter(accepted_at=None, revoked_at=None, expires_at__gt=timezone.now())


class Invitation(models.Model):
    """An invitation to join a workspace with a role, by email. The link carries a token of
    which only the SHA-256 is stored; it is single use, revocable and expires."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace.slug} as {self.role}"


class AuditAction(models.TextChoices):
    INVITED = "member.invited", "Invited"
    INVITATION_RESENT = "member.invitation_resent", "Resent an invitation"
    INVITATION_REVOKED = "member.invitation_revoked", "Revoked an invitation"
    JOINED = "member.joined", "Joined"
    ROLE_CHANGED = "member.role_changed", "Changed a role"
    REMOVED = "member.removed", "Removed a member"
    LEFT = "member.left", "Left"
    OWNERSHIP_TRANSFERRED = "member.ownership_transferred", "Handed the workspace over"
    SECRET_REVEALED = "variable.revealed", "Revealed a secret"
    VARIABLES_CHANGED = "variable.changed", "Changed variables"
    DEPLOYED = "deployment.deployed", "Deployed"
    REDEPLOYED = "deployment.redeployed", "Redeployed"
    ROLLED_BACK = "deployment.rolled_back", "Rolled back"
    CANCELLED = "deployment.cancelled", "Cancelled a deployment"
    RESTARTED = "service.restarted", "Restarted"
    STOPPED = "service.stopped", "Stopped"
    SETTINGS_CHANGED = "service.settings_changed", "Changed settings"
    DOMAIN_ADDED = "service.domain_added", "Added a domain"
    DOMAIN_REMOVED = "service.domain_removed", "Removed a domain"
    CREATED = "object.created", "Created"
    DELETED = "object.deleted", "Deleted"


class AuditEvent(models.Model):
    """Who did what, when, from where, on which object, in a workspace. Read-only once
    written; never holds a secret value (variables are named by key only)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True)  # kept if the account goes
    address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=40, blank=True)
    target = models.CharField(max_length=300, blank=True)  # what it was called then
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["workspace", "-created_at"])]

    def __str__(self) -> str:
        who = self.actor_email or "the panel"
        return f"{who} {self.get_action_display().lower()} {self.target}"
