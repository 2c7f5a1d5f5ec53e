"""Commit statuses: every deployment of a GitHub commit tells GitHub how it is going, with a
link to its page. The description is generic on purpose: a public repository shows its
statuses to anyone, so no error reason (which may quote the app's output) goes there."""

from __future__ import annotations

import logging

from django.conf import settings
from django.urls import reverse
from django_tenants.utils import tenant_context

from deployments.models import Deployment, Status
from github import client
from github.tokens import account_for_user_id, with_token
from github.workspaces import workspace_url
from tenants.models import Workspace

logger = logging.getLogger(__name__)

# The state GitHub is told for each status of a deployment; absent: nothing is sent
# (superseded and removed deployments were reported when they went live).
STATES: dict[str, str] = {
    Status.QUEUED: "pending", Status.BUILDING: "pending", Status.DEPLOYING: "pending",
    Status.ACTIVE: "success", Status.FAILED: "failure", Status.CRASHED: "failure",
    Status.CANCELLED: "error",
}
DESCRIPTIONS: dict[str, str] = {
    Status.QUEUED: "Deployment queued", Status.BUILDING: "Building",
    Status.DEPLOYING: "Deploying", Status.ACTIVE: "Deployed",
    Status.FAILED: "Deployment failed", Status.CRASHED: "The deployment crashed",
    Status.CANCELLED: "Deployment cancelled",
}


def reportable(deployment: Deployment) -> bool:
    """Whether the deployment is of a GitHub commit, in a state GitHub is told about."""
    service = deployment.service
    return bool(service.github_repository and service.github_user_id is not None
                and deployment.commit_sha and str(deployment.status) in STATES)


def context_of(deployment: Deployment) -> str:
    """`paas/<service>`, and `/<environment>` outside production."""
    service = deployment.service
    environment = service.environment.name
    return f"paas/{service.name}" + ("" if environment == "production" else f"/{environment}")


def target_url(workspace: Workspace, deployment: Deployment) -> str:
    """The deployment's page, on the workspace's subdomain."""
    path = reverse("deployment_detail", urlconf=settings.ROOT_URLCONF,
                   kwargs={"deployment_id": deployment.pk})
    return workspace_url(workspace, path)


def report(schema_name: str, deployment_id: int, status: str) -> None:
    """Tell GitHub the state of the deployment, if it is still `status` (or one GitHub is
    told the same): a stale pending arriving after the final state is dropped. Failures of
    GitHub are logged, without the token, and never touch the deployment."""
    workspace = Workspace.objects.filter(schema_name=schema_name).first()
    if workspace is None:
        return
    with tenant_context(workspace):
        deployment = (Deployment.objects.select_related("service__environment")
                      .filter(pk=deployment_id).first())
        if deployment is None or not reportable(deployment):
            return
        current = str(deployment.status)
        if STATES[current] != STATES.get(status):
            return  # a later message reports the current state
        service = deployment.service
        account = account_for_user_id(service.github_user_id)
        if account is None:
            return
        full_name, sha = service.github_repository, deployment.commit_sha
        fields = {"state": STATES[current], "target_url": target_url(workspace, deployment),
                  "description": DESCRIPTIONS[current], "context": context_of(deployment)}
        try:
            with_token(account, lambda token: client.create_status(token, full_name, sha,
                                                                   **fields))
        except client.GitHubError as error:  # TokenExpired included
            logger.warning("commit status %s of %s on %s not reported: %s", fields["state"],
                           deployment_id, full_name, error)
