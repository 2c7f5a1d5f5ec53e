"""Push payloads handled as the worker does (github.pushes), in workspace A's schema."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from conftest import FIXTURES
from deployments.models import Deployment
from github.models import Outcome
from github.pushes import handle_push
from projects.services import create_project, create_service

PUSH = json.loads((FIXTURES / "github" / "push" / "with-new-branch.payload.json").read_text())
TAG_DELETION = json.loads((FIXTURES / "github" / "push" / "payload.json").read_text())


@pytest.fixture
def service(workspace_a):
    with tenant_context(workspace_a):
        project = create_project("Hello")
        yield create_service(project.environments.get(), "web", branch="master",
                             repository_url="https://github.com/Codertocat/Hello-World.git")


def test_a_push_deploys_the_tracking_service_at_the_commit(workspace_a, service):
    with tenant_context(workspace_a):
        handled = handle_push(PUSH)
        assert handled.outcome == Outcome.DEPLOYED
        assert Deployment.objects.get().commit_sha == PUSH["after"]


def test_tags_deletions_and_hostile_names_deploy_nothing(workspace_a, service):
    deleted = {**PUSH, "deleted": True, "after": "0" * 40}
    hostile_ref = {**PUSH, "ref": "refs/heads/--upload-pack=x"}
    hostile_name = {**PUSH, "repository": {**PUSH["repository"], "full_name": "../../etc"}}
    with tenant_context(workspace_a):
        for payload in (TAG_DELETION, deleted, hostile_ref, hostile_name):
            assert handle_push(payload).outcome == Outcome.IGNORED
        assert not Deployment.objects.exists()


def test_watch_paths_skip_a_push_that_touches_none(workspace_a, service):
    with tenant_context(workspace_a):
        service.watch_paths = ["src/**"]
        service.save()
        assert handle_push(PUSH).outcome == Outcome.SKIPPED  # README.md only
        service.watch_paths = ["*.md"]
        service.save()
        assert handle_push(PUSH).outcome == Outcome.DEPLOYED
