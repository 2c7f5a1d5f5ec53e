"""A workspace's side of GitHub: the secret its webhook deliveries are signed with (encrypted
in the workspace's public row, made on first use, rotated by its admins) and the panel's
addresses GitHub is given (the webhook, and the links of commit statuses)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from core.crypto import associated_data, keyring
from tenants.models import Workspace

WEBHOOK_PATH = "/webhooks/github/"


def _secret_associated_data(workspace: Workspace) -> bytes:
    return associated_data("public", "workspace", workspace.pk, "github_webhook_secret")


def webhook_secret(workspace: Workspace) -> str:
    """The workspace's webhook secret; one is made (and saved) if it has none yet."""
    if not workspace.github_webhook_secret:
        return rotate_webhook_secret(workspace)
    return keyring().decrypt(bytes(workspace.github_webhook_secret),
                             _secret_associated_data(workspace)).decode()


def rotate_webhook_secret(workspace: Workspace) -> str:
    """A new secret for the workspace (deliveries signed with the old one are refused from
    now on); the new one, which its admins paste into GitHub's hook settings."""
    secret = secrets.token_urlsafe(32)
    workspace.github_webhook_secret = keyring().encrypt(secret.encode(),
                                                        _secret_associated_data(workspace))
    Workspace.objects.filter(pk=workspace.pk).update(
        github_webhook_secret=workspace.github_webhook_secret)
    return secret


def workspace_url(workspace: Workspace, path: str = "/") -> str:
    """An absolute URL on the workspace's subdomain, from PAAS_PANEL_URL."""
    parts = urlsplit(settings.PAAS_PANEL_URL)
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{workspace.slug}.{parts.hostname}{port}", path, "", ""))


def webhook_url(workspace: Workspace) -> str:
    return workspace_url(workspace, WEBHOOK_PATH)
