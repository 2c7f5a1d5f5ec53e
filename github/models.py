"""The public schema's GitHub tables: each user's GitHub account and token (encrypted), the
repository webhooks the panel created, and every webhook delivery a workspace received.

Deliveries live here rather than in the workspaces' schemas so that the operators' admin
lists them all; each row names its workspace, and every page filters by it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.crypto import associated_data, keyring
from tenants.models import Workspace

PUBLIC = "public"


class GitHubAccount(models.Model):
    """A user's GitHub identity and OAuth token. The token (and the refresh token of an
    expiring one) is stored encrypted, bound to this row; it never leaves the panel but to
    GitHub's API and to git through GIT_ASKPASS."""

    class State(models.TextChoices):
        OK = "ok", "Connected"
        EXPIRED = "expired", "Expired: sign in with GitHub again"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="github_account")
    github_id = models.BigIntegerField(unique=True)
    login = models.CharField(max_length=100)
    token_ciphertext = models.BinaryField(null=True, blank=True, editable=False)
    refresh_token_ciphertext = models.BinaryField(null=True, blank=True, editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OK)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "GitHub account"

    def __str__(self) -> str:
        return f"{self.login} ({self.user})"

    def _associated_data(self, name: str) -> bytes:
        return associated_data(PUBLIC, "github_account", self.github_id, name)

    def set_tokens(self, token: str, refresh_token: str = "") -> None:
        self.token_ciphertext = keyring().encrypt(token.encode(), self._associated_data("token"))
        self.refresh_token_ciphertext = (
            keyring().encrypt(refresh_token.encode(), self._associated_data("refresh_token"))
            if refresh_token else None)

    def token(self) -> str:
        if not self.token_ciphertext:
            return ""
        return keyring().decrypt(bytes(self.token_ciphertext),
                                 self._associated_data("token")).decode()

    def refresh_token(self) -> str:
        if not self.refresh_token_ciphertext:
            return ""
        return keyring().decrypt(bytes(self.refresh_token_ciphertext),
                                 self._associated_data("refresh_token")).decode()


class RepositoryHook(models.Model):
    """A webhook the panel created on a repository for a workspace (one per pair)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    repository = models.CharField(max_length=200, help_text="owner/name, lower case")
    hook_id = models.BigIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "repository"],
                                               name="one_hook_per_workspace_repository")]

    def __str__(self) -> str:
        return f"{self.repository} → {self.workspace.slug}"


class Outcome(models.TextChoices):
    QUEUED = "queued", "Queued"
    PING = "ping", "Ping"
    DEPLOYED = "deployed", "Deployed"
    SKIPPED = "skipped", "Skipped"
    IGNORED = "ignored", "Ignored"
    PREVIEW = "preview", "Preview updated"
    AWAITING_APPROVAL = "awaiting_approval", "Waiting for approval"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One delivery of a GitHub webhook to a workspace, by its X-GitHub-Delivery id: what it
    was, and what the panel did with it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE,
                                  related_name="webhook_deliveries")
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=50)
    action = models.CharField(max_length=50, blank=True)
    body_sha256 = models.CharField(max_length=64)
    repository = models.CharField(max_length=200, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.QUEUED)
    message = models.TextField(blank=True)
    # What it started: [{"id", "service", "number", "environment"}] (tenant rows, by value).
    deployments = models.JSONField(default=list, blank=True)
    # The parsed body until the worker has handled it; emptied then.
    payload = models.JSONField(null=True, blank=True, editable=False)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["workspace", "delivery_id"],
                                               name="delivery_id_unique_per_workspace")]
        indexes = [models.Index(fields=["workspace", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"
