"""The webhook of a connected repository: created through GitHub's API when a service connects
to it and the connecting user administers it, else described for the user to add by hand;
its secret kept in step when the workspace's secret is rotated.

One webhook per workspace and repository (RepositoryHook), however many services deploy from
it. GitHub's failures never undo a save or a rotation (the service is saved and the secret
rotated already): the user is told what to do on GitHub instead. The secret itself never goes
into a message or a log: only the workspace's admins read it, on Settings → GitHub.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from github import client
from github.models import GitHubAccount, RepositoryHook, WebhookDelivery
from github.picker import MAX_PAGES, account_of, readable_repository
from github.tokens import with_token
from github.workspaces import webhook_secret, webhook_url
from projects.connections import RepositoryWebhook
from projects.models import Service
from tenants import audit
from tenants.models import AuditAction, User, Workspace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Told:
    """What the user is told: a django.contrib.messages level and its text."""

    level: int
    text: str


def on_service_connected(sender: object, service: Service, request: HttpRequest,
                         **kwargs: object) -> None:
    """Receiver of projects.connections.service_connected: the repository's webhook, unless
    the workspace has one already, and a message saying what became of it. Never raises:
    the service is saved, and an error page would say it was not."""
    workspace, full_name = request.workspace, service.github_repository
    if not full_name or RepositoryHook.objects.filter(workspace=workspace,
                                                      repository=full_name).exists():
        return
    try:
        told = connect_repository(workspace, full_name, request.user)
    except Exception:
        logger.exception("the webhook of %s for %s was not created", full_name, workspace.slug)
        told = by_hand(workspace, full_name, "Something went wrong on the panel's side.")
    messages.add_message(request, told.level, told.text)


def connect_repository(workspace: Workspace, full_name: str, user: User) -> Told:
    """Create the repository's webhook with `user`'s GitHub token if GitHub says the user
    administers it, and record it; else instructions to add it by hand."""
    account = account_of(user)
    if account is None:
        return by_hand(workspace, full_name, "You have not signed in with GitHub.")
    try:
        if not readable_repository(account, full_name).admin:
            return by_hand(workspace, full_name,
                           "Your GitHub account is not an admin of the repository.")
        hook_id = _create(account, workspace, full_name)
    except client.HookExists:
        return _adopt(account, workspace, full_name, user)
    except client.GitHubError as error:  # TokenExpired included
        return by_hand(workspace, full_name, str(error))
    _record(workspace, full_name, hook_id, user)
    return Told(messages.SUCCESS, f"Webhook created on GitHub: pushes and pull requests of "
                                  f"{full_name} now reach the panel.")


def by_hand(workspace: Workspace, full_name: str, reason: str) -> Told:
    """Why the panel created no webhook, and what to enter on GitHub instead. The secret is
    named by where it is, never quoted: members may not read it."""
    return Told(messages.WARNING, (
        f"The panel did not create the webhook of {full_name}. {reason} Add it on GitHub by "
        f"hand (the repository's Settings → Webhooks → Add webhook): payload URL "
        f"{webhook_url(workspace)}, content type application/json, events push and "
        f"pull_request, and the workspace's webhook secret, which its admins find on "
        f"Settings → GitHub ({reverse('github_settings')})."))


@sensitive_variables("secret")
def _create(account: GitHubAccount, workspace: Workspace, full_name: str) -> int:
    url, secret = webhook_url(workspace), webhook_secret(workspace)
    return with_token(account, lambda token: client.create_hook(token, full_name, url, secret))


@sensitive_variables("secret")
def _adopt(account: GitHubAccount, workspace: Workspace, full_name: str, user: User) -> Told:
    """GitHub has a webhook to this workspace on the repository already (added by hand, or
    by the panel before it forgot): it gets the workspace's secret and is recorded, so that
    rotations reach it too."""
    url, secret = webhook_url(workspace), webhook_secret(workspace)
    try:
        hook_id = _find_hook(account, full_name, url)
        if hook_id is not None:
            with_token(account, lambda token: client.update_hook(token, full_name, hook_id,
                                                                 url, secret))
    except client.GitHubError:
        hook_id = None
    if hook_id is None:
        return Told(messages.INFO, (
            f"{full_name} has a webhook to this workspace on GitHub already. Check that its "
            f"secret is the workspace's, which its admins find on Settings → GitHub "
            f"({reverse('github_settings')})."))
    _record(workspace, full_name, hook_id, user)
    return Told(messages.SUCCESS, f"{full_name} had a webhook to this workspace on GitHub "
                                  "already: it now has the workspace's secret.")


def _find_hook(account: GitHubAccount, full_name: str, url: str) -> int | None:
    """The id of the repository's webhook posting to `url`, in its first MAX_PAGES pages."""
    page: int | None = 1
    for _ in range(MAX_PAGES):
        result = with_token(account, lambda token, at=page: client.list_hooks(token, full_name,
                                                                              at))
        found = next((hook.id for hook in result.items if hook.url == url), None)
        if found is not None or result.next_page is None:
            return found
        page = result.next_page
    return None


def _record(workspace: Workspace, full_name: str, hook_id: int, user: User) -> None:
    hook, created = RepositoryHook.objects.get_or_create(
        workspace=workspace, repository=full_name,
        defaults={"hook_id": hook_id, "created_by": user})
    if created:
        audit.record(AuditAction.CREATED, hook, workspace=workspace, user=user,
                     repository=full_name, hook_id=hook_id)


# The settings page and rotations ----------------------------------------------------------


def webhook_of(workspace: Workspace, full_name: str) -> RepositoryWebhook:
    """Filled in as projects.connections' webhook lookup: the service settings page's
    "Webhook: created on GitHub" or "add one by hand"."""
    hook = RepositoryHook.objects.filter(workspace=workspace, repository=full_name).first()
    last = (WebhookDelivery.objects.filter(workspace=workspace, repository=full_name)
            .order_by("-received_at").values_list("received_at", flat=True).first())
    return RepositoryWebhook(url=webhook_url(workspace),
                             created_at=hook.created_at if hook else None,
                             secret_page=reverse("github_settings"), last_delivery_at=last)


@dataclass(frozen=True)
class Rotated:
    updated: int  # webhooks that have the new secret
    failed: list[str]  # repositories whose webhook keeps the old one: to update by hand


@sensitive_variables("secret")
def update_secrets(workspace: Workspace, secret: str) -> Rotated:
    """Give every webhook the panel created for the workspace its new secret, each with the
    token of the user who created it. Those that cannot be updated (the user gone or signed
    out of GitHub, no longer an admin, the webhook deleted, GitHub unreachable) are named."""
    url = webhook_url(workspace)
    updated, failed = 0, []
    hooks = (RepositoryHook.objects.filter(workspace=workspace).select_related("created_by")
             .order_by("repository"))
    for hook in hooks:
        account = account_of(hook.created_by) if hook.created_by else None
        try:
            if account is None:
                raise client.GitHubError("nobody's GitHub account to update it with")
            with_token(account, lambda token, h=hook: client.update_hook(
                token, h.repository, h.hook_id, url, secret))
        except client.GitHubError as error:
            logger.warning("the webhook of %s for %s keeps the old secret: %s",
                           hook.repository, workspace.slug, error)
            failed.append(hook.repository)
        else:
            updated += 1
    return Rotated(updated, failed)
