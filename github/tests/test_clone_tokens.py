"""Private repositories are cloned with the token of the GitHub account that connected them,
through a real worker: the token reaches git (GIT_ASKPASS) and no log line; an account whose
authorization expired fails the deployment with a reason that says what to do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import tenant_context

from deployments.engine.credentials import token_for
from deployments.models import Status
from deployments.tests import sample_apps
from deployments.tests.engine import (
    deploy,
    log_of,
    make_service,
    remove_everything,
    running_worker,
    settle,
)
from github.models import GitHubAccount
from projects.services import create_project, create_service

TOKEN = "gho_cloneTokenThatMustNotLeak42"  # noqa: S105


@pytest.fixture(scope="module")
def worker(django_db_setup: object) -> Iterator[object]:
    with running_worker() as process:
        yield process


@pytest.fixture
def account(committed_db, worker):
    account = GitHubAccount(user=committed_db.owner, github_id=5151, login="priya")
    account.set_tokens(TOKEN, "")
    account.save()
    yield account
    remove_everything(committed_db.workspace_a)
    GitHubAccount.objects.filter(pk=account.pk).delete()


def test_the_accounts_token_is_given_to_git_and_kept_out_of_the_log(committed_db, account,
                                                                     tmp_path):
    """The repository's path holds the token, so git prints it: every line the deployment
    logged has it masked, which it is only when the token was handed to the fetch."""
    ws = committed_db.workspace_a
    repo = sample_apps.make_repo(tmp_path, f"private-{TOKEN}", sample_apps.STATIC_SITE)
    service = make_service(ws, repo, github_repository="priya/private", github_user_id=5151)

    deployment = settle(ws, deploy(ws, service))

    assert deployment.status == Status.ACTIVE, deployment.error_reason
    lines = [text for _, text in log_of(ws, deployment)]
    assert any("private-" in text for text in lines)
    assert not any(TOKEN in text for text in lines)


def test_without_an_account_the_clone_has_no_token(committed_db, account, tmp_path):
    ws = committed_db.workspace_a
    repo = sample_apps.make_repo(tmp_path, "public", sample_apps.STATIC_SITE)
    service = make_service(ws, repo)

    deployment = settle(ws, deploy(ws, service))

    assert deployment.status == Status.ACTIVE, deployment.error_reason


def test_an_expired_authorization_fails_the_deployment_with_what_to_do(committed_db, account,
                                                                        tmp_path):
    GitHubAccount.objects.filter(pk=account.pk).update(state=GitHubAccount.State.EXPIRED)
    ws = committed_db.workspace_a
    repo = sample_apps.make_repo(tmp_path, "private", sample_apps.STATIC_SITE)
    service = make_service(ws, repo, github_repository="priya/private", github_user_id=5151)

    deployment = settle(ws, deploy(ws, service))

    assert deployment.status == Status.FAILED
    assert deployment.error_reason == ("The GitHub authorization of priya has expired: "
                                       "sign in with GitHub again.")
    assert not any(TOKEN in text for _, text in log_of(ws, deployment))


def test_the_engine_asks_github_for_the_token_of_the_connecting_account(committed_db,
                                                                         account):
    ws = committed_db.workspace_a
    with tenant_context(ws):
        project = create_project("Clone token")
        connected = create_service(project.environments.get(), "web",
                                   repository_url="https://github.com/priya/private.git",
                                   github_repository="priya/private", github_user_id=5151)
        plain = create_service(project.environments.get(), "plain",
                               repository_url="https://github.com/priya/public.git")
        assert token_for(connected) == TOKEN
        assert token_for(plain) == ""
