"""What each deployment status tells GitHub (github.commit_statuses.report, as the worker's
actor runs it), against the fake GitHub: states, stale messages and refusals."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from deployments.models import Deployment, Status
from github.commit_statuses import report
from github.models import GitHubAccount
from projects.services import create_project, create_service

SHA = "a" * 40


@pytest.fixture
def service(people, workspace_a, fake_github):
    user = fake_github.add_user("olive", 4242)
    fake_github.add_repo("olive/app")
    account = GitHubAccount(user=people.owner, github_id=4242, login="olive")
    account.set_tokens(fake_github.issue_token(user), "")
    account.save()
    with tenant_context(workspace_a):
        project = create_project("Statuses")
        return create_service(project.environments.get(), "web",
                              repository_url="https://github.com/olive/app.git",
                              github_repository="olive/app", github_user_id=4242)


def deployment_in(workspace, service, status, number=1):
    with tenant_context(workspace):
        return Deployment.objects.create(service=service, number=number, status=status,
                                         commit_sha=SHA, error_reason="npm exited: API_KEY=x")


@pytest.mark.parametrize(("status", "state"), [
    (Status.QUEUED, "pending"), (Status.BUILDING, "pending"), (Status.DEPLOYING, "pending"),
    (Status.ACTIVE, "success"), (Status.FAILED, "failure"), (Status.CRASHED, "failure"),
    (Status.CANCELLED, "error"),
])
def test_each_status_reports_its_state(workspace_a, service, fake_github, status, state):
    deployment = deployment_in(workspace_a, service, status)

    report(workspace_a.schema_name, deployment.pk, str(status))

    [posted] = fake_github.statuses
    assert (posted["repository"], posted["sha"], posted["state"]) == ("olive/app", SHA, state)
    assert posted["context"] == "paas/web"
    assert posted["target_url"].endswith(f"/deployments/{deployment.pk}/")
    assert "npm" not in posted["description"] and "API_KEY" not in posted["description"]


@pytest.mark.parametrize("status", [Status.SUPERSEDED, Status.REMOVED])
def test_superseded_and_removed_send_nothing(workspace_a, service, fake_github, status):
    deployment = deployment_in(workspace_a, service, status)

    report(workspace_a.schema_name, deployment.pk, str(status))

    assert fake_github.statuses == []


def test_a_stale_pending_after_the_final_state_is_dropped(workspace_a, service, fake_github):
    deployment = deployment_in(workspace_a, service, Status.ACTIVE)

    report(workspace_a.schema_name, deployment.pk, str(Status.BUILDING))

    assert fake_github.statuses == []


def test_an_expired_account_posts_nothing_and_raises_nothing(workspace_a, service,
                                                             fake_github):
    GitHubAccount.objects.filter(github_id=4242).update(state=GitHubAccount.State.EXPIRED)
    deployment = deployment_in(workspace_a, service, Status.ACTIVE)

    report(workspace_a.schema_name, deployment.pk, str(Status.ACTIVE))

    assert fake_github.statuses == []
    assert not any("/statuses/" in path for _, path in fake_github.requests)


def test_an_unknown_workspace_or_deployment_is_ignored(workspace_a, service, fake_github):
    report("no_such_schema", 1, str(Status.ACTIVE))
    report(workspace_a.schema_name, 999999, str(Status.ACTIVE))

    assert fake_github.statuses == []
