"""The project page's "Approve and deploy" of a fork's preview (admins and owners)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from github.previews import ApprovalRefused, approve_preview
from projects.models import Environment
from tenants.access import get_for
from tenants.roles import Action


@require_POST
def preview_approve(request: HttpRequest, environment_id: int) -> HttpResponse:
    """Deploy the head commit the admin looked at (`sha`); a newer head is refused."""
    environment = get_for(request, Environment.objects.visible(), Action.EDIT_PROJECT,
                          pk=environment_id, pull_request__isnull=False)
    try:
        deployments = approve_preview(environment, request.POST.get("sha", ""), request.user)
    except ApprovalRefused as error:
        messages.error(request, str(error))
    else:
        count = len(deployments)
        messages.success(request, f"Approved {environment.head_sha[:7]}: deploying {count} "
                                  f"service{'s' if count != 1 else ''}.")
    url = reverse("project_detail", kwargs={"project_id": environment.project_id})
    return redirect(f"{url}?environment={environment.pk}")
