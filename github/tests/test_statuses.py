"""Commit statuses, end to end: a deployment of a GitHub commit through a real worker tells
the (fake) GitHub pending, then how it ended, with a link to its page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from deployments.models import Status, Trigger
from deployments.services import trigger_deployment
from deployments.tests import sample_apps
from deployments.tests.engine import (
    make_service,
    remove_everything,
    running_worker,
    settle,
    wait_for,
)
from github.models import GitHubAccount
from github.tests.conftest import github_env
from github.tests.fake_github import FakeGitHub
from github.workspaces import workspace_url
from projects.models import Environment


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    fake = FakeGitHub().start()
    fake.add_user("olive", 4242)
    fake.add_repo("olive/app")
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def worker(django_db_setup: object, fake: FakeGitHub) -> Iterator[object]:
    with running_worker(**github_env(fake)) as process:
        yield process


@pytest.fixture
def ws(committed_db, worker, fake):
    token = fake.issue_token(fake.users["olive"])
    account = GitHubAccount(user=committed_db.owner, github_id=4242, login="olive")
    account.set_tokens(token, "")
    account.save()
    fake.statuses.clear()
    yield committed_db.workspace_a
    remove_everything(committed_db.workspace_a)
    GitHubAccount.objects.filter(pk=account.pk).delete()


def connected(ws, repo, **settings):
    service = make_service(ws, repo, github_repository="olive/app", github_user_id=4242,
                           **settings)
    return service


def push(ws, service, repo):
    with tenant_context(ws):
        return trigger_deployment(service, Trigger.PUSH, triggered_by="olive",
                                  commit_sha=sample_apps.head(repo))


def test_a_push_deploy_reports_pending_then_success_with_its_page(ws, fake, tmp_path):
    repo = sample_apps.make_repo(tmp_path, "site", sample_apps.STATIC_SITE)
    service = connected(ws, repo)

    deployment = settle(ws, push(ws, service, repo))

    assert deployment.status == Status.ACTIVE, deployment.error_reason
    wait_for(lambda: fake.statuses and fake.statuses[-1]["state"] == "success", 30)
    reported = [s for s in fake.statuses if s["sha"] == deployment.commit_sha]
    assert reported[0]["state"] == "pending" and reported[-1]["state"] == "success"
    assert {s["state"] for s in reported} == {"pending", "success"}
    assert all(s["repository"] == "olive/app" and s["context"] == "paas/web" for s in reported)
    page = workspace_url(ws, f"/deployments/{deployment.pk}/")
    assert reported[-1]["target_url"] == page
    assert page.startswith(settings.PAAS_PANEL_URL.split("://")[0] + f"://{ws.slug}.")


def test_a_failing_build_reports_failure_without_its_reason(ws, fake, tmp_path):
    repo = sample_apps.make_repo(tmp_path, "broken", sample_apps.FAILING_BUILD)
    service = connected(ws, repo)

    deployment = settle(ws, push(ws, service, repo))

    assert deployment.status == Status.FAILED
    wait_for(lambda: fake.statuses and fake.statuses[-1]["state"] == "failure", 30)
    reported = [s for s in fake.statuses if s["sha"] == deployment.commit_sha]
    assert reported[0]["state"] == "pending" and reported[-1]["state"] == "failure"
    assert all("exited" not in s["description"] and "npm" not in s["description"]
               for s in reported)


def test_an_environment_other_than_production_is_in_the_context(ws, fake, tmp_path):
    repo = sample_apps.make_repo(tmp_path, "staged", sample_apps.STATIC_SITE)
    service = connected(ws, repo)
    with tenant_context(ws):
        Environment.objects.filter(pk=service.environment_id).update(name="staging")

    deployment = settle(ws, push(ws, service, repo))

    assert deployment.status == Status.ACTIVE, deployment.error_reason
    wait_for(lambda: fake.statuses and fake.statuses[-1]["state"] == "success", 30)
    assert {s["context"] for s in fake.statuses} == {"paas/web/staging"}


def test_a_service_without_a_github_repository_reports_nothing(ws, fake, tmp_path):
    repo = sample_apps.make_repo(tmp_path, "plain", sample_apps.STATIC_SITE)
    service = make_service(ws, repo)
    other_repo = sample_apps.make_repo(tmp_path, "other", sample_apps.STATIC_SITE)
    reporting = connected(ws, other_repo, name="other")

    plain = settle(ws, push(ws, service, repo))
    # A later deployment that does report: once its success arrives, the first one's
    # statuses would have arrived too.
    other = settle(ws, push(ws, reporting, other_repo))

    assert plain.status == Status.ACTIVE and other.status == Status.ACTIVE
    wait_for(lambda: fake.statuses and fake.statuses[-1]["state"] == "success", 30)
    assert {s["context"] for s in fake.statuses} == {"paas/other"}


def test_github_refusing_the_status_does_not_affect_the_deployment(ws, fake, tmp_path):
    repo = sample_apps.make_repo(tmp_path, "site", sample_apps.STATIC_SITE)
    service = make_service(ws, repo, github_repository="olive/gone", github_user_id=4242)

    deployment = settle(ws, push(ws, service, repo))

    assert deployment.status == Status.ACTIVE, deployment.error_reason
    assert wait_for(lambda: sum(path.endswith("/statuses/" + deployment.commit_sha)
                                for _, path in fake.requests) >= 2, 30)
    assert fake.statuses == []
