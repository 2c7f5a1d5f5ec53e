"""The workspace's GitHub settings (admins and owners): the webhook's address and secret (shown
on request, the reveal recorded in the audit log; rotated on request, and then given to the
webhooks the panel created) and the deliveries the workspace received, newest first."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from github.hooks import Rotated, update_secrets
from github.models import WebhookDelivery
from github.workspaces import rotate_webhook_secret, webhook_secret, webhook_url
from tenants import audit
from tenants.access import requires
from tenants.models import AuditAction
from tenants.roles import Action

PAGE = "github/settings.html"
SECRET = "github/settings.html#secret"
DELIVERIES_PER_PAGE = 50
SECRET_NAME = "GitHub webhook secret"


def _context(request: HttpRequest, secret: str = "") -> dict[str, object]:
    deliveries = WebhookDelivery.objects.filter(workspace=request.workspace).defer("payload")
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    return {"webhook_url": webhook_url(request.workspace), "secret": secret,
            "deliveries": page, "github_url": settings.GITHUB_URL}


@require_GET
@requires(Action.EDIT_WORKSPACE)
def github_settings(request: HttpRequest) -> HttpResponse:
    return render(request, PAGE, _context(request))


@require_POST
@requires(Action.EDIT_WORKSPACE)
@sensitive_variables("secret")
def github_secret_reveal(request: HttpRequest) -> HttpResponse:
    """The secret, shown; who saw it is recorded."""
    secret = webhook_secret(request.workspace)
    audit.record(AuditAction.SECRET_REVEALED, request.workspace, secret=SECRET_NAME)
    return render(request, SECRET if request.htmx else PAGE, _context(request, secret))


@require_POST
@requires(Action.EDIT_WORKSPACE)
@sensitive_variables("secret")
def github_secret_rotate(request: HttpRequest) -> HttpResponse:
    """A new secret: deliveries signed with the old one are refused from now on. The
    webhooks the panel created get it through GitHub's API; the others are named."""
    if request.POST.get("confirm") != "rotate":
        messages.error(request, "Confirm the rotation: GitHub's deliveries fail until the "
                                "new secret is pasted into the webhook's settings.")
        return redirect("github_settings")
    secret = rotate_webhook_secret(request.workspace)
    rotated = update_secrets(request.workspace, secret)
    audit.record(AuditAction.SETTINGS_CHANGED, request.workspace, changed=SECRET_NAME,
                 rotated=True, hooks_updated=rotated.updated, hooks_not_updated=rotated.failed)
    level = messages.WARNING if rotated.failed else messages.SUCCESS
    messages.add_message(request, level, _rotated_message(rotated))
    return redirect("github_settings")


def _rotated_message(rotated: Rotated) -> str:
    text = "The webhook secret is rotated."
    if rotated.updated == 1:
        text += " The webhook the panel created on GitHub has it now."
    elif rotated.updated:
        text += f" The {rotated.updated} webhooks the panel created on GitHub have it now."
    if rotated.failed:
        text += (" GitHub could not be given it for the webhooks of "
                 f"{', '.join(rotated.failed)}: update their secret there by hand.")
    return text + " Paste it into any webhook added by hand on GitHub: reveal it below."
