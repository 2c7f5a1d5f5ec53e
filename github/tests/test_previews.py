"""Pull requests' previews (github.previews) from GitHub's real payloads: opened, synchronize,
closed; forks waiting for an admin's approval; hostile payload fields refused."""

from __future__ import annotations

import copy
import json

import pytest
from django_tenants.utils import tenant_context

from conftest import FIXTURES
from deployments.models import Deployment, Trigger
from github.models import Outcome
from github.previews import handle_pull_request
from hosting.models import GeneratedDomain
from projects.domains import public_domain
from projects.models import Environment, Service, Variable
from projects.services import create_project, create_service
from projects.variables import current_values

SECRET = "s3cr3t-only-for-production"
OTHER_SHA = "b" * 40


def payload(action: str) -> dict:
    return json.loads((FIXTURES / "github" / "pull_request" / f"{action}.payload.json")
                      .read_text())


def forked(body: dict) -> dict:
    body = copy.deepcopy(body)
    head = body["pull_request"]["head"]["repo"]
    head.update(full_name="mallory/Hello-World", fork=True,
                clone_url="https://github.com/mallory/Hello-World.git")
    return body


def with_head(body: dict, sha: str) -> dict:
    body = copy.deepcopy(body)
    body["pull_request"]["head"]["sha"] = sha
    return body


@pytest.fixture
def production(people) -> Environment:
    """Project Site: web and api track Codertocat/Hello-World master, docs another branch."""
    with tenant_context(people.workspace_a):
        environment = create_project("Site").environments.get()
        url = "https://github.com/Codertocat/Hello-World.git"
        web = create_service(environment, "web", repository_url=url, branch="master")
        create_service(environment, "api", repository_url=url, branch="master",
                       github_repository="codertocat/hello-world")
        create_service(environment, "docs", repository_url=url, branch="gh-pages")
        variable = Variable(service=web, key="DATABASE_PASSWORD")
        variable.set_value(SECRET)
        variable.save()
        shared = Variable(environment=environment, key="SHARED_TOKEN")
        shared.set_value(SECRET)
        shared.save()
        return environment


def preview_of(environment: Environment) -> Environment | None:
    return Environment.objects.filter(project=environment.project, pull_request=2).first()


def test_opened_creates_a_deployed_preview_of_the_tracking_services(people, production):
    with tenant_context(people.workspace_a):
        handled = handle_pull_request(payload("opened"))
        preview = preview_of(production)
        assert handled.outcome == Outcome.PREVIEW
        assert preview.name == "pr-2" and preview.copied_from == production
        assert (preview.head_branch, preview.head_sha, preview.from_fork) == (
            "changes", "ec26c3e57ca3a959ca5aad62de7213c562f8c821", False)
        assert preview.pull_request_title == "Update the README with new information."
        assert preview.pull_request_url == "https://github.com/Codertocat/Hello-World/pull/2"
        services = {service.name: service for service in preview.services.all()}
        assert sorted(services) == ["api", "web"]
        assert {service.branch for service in services.values()} == {"changes"}
        assert public_domain(services["web"]) == "pr-2-web-team-a.apps.localhost"
        assert current_values(services["web"]) == {"DATABASE_PASSWORD": SECRET}
        assert current_values(preview) == {"SHARED_TOKEN": SECRET}
        deployments = Deployment.objects.filter(service__environment=preview)
        assert sorted(d.pk for d in handled.deployments) == sorted(d.pk for d in deployments)
        assert {(d.trigger, d.commit_sha) for d in deployments} == {
            (Trigger.PULL_REQUEST, preview.head_sha)}
        assert SECRET not in handled.message


def test_synchronize_deploys_the_new_head_in_the_same_preview(people, production):
    with tenant_context(people.workspace_a):
        handle_pull_request(payload("opened"))
        handled = handle_pull_request(with_head(payload("synchronize"), OTHER_SHA))
        assert handled.outcome == Outcome.PREVIEW and len(handled.deployments) == 2
        assert Environment.objects.filter(pull_request=2).count() == 1
        assert preview_of(production).head_sha == OTHER_SHA
        assert {d.commit_sha for d in handled.deployments} == {OTHER_SHA}


def test_synchronize_adds_the_services_that_began_to_track_the_base_branch(people,
                                                                          production):
    with tenant_context(people.workspace_a):
        handle_pull_request(payload("opened"))
        worker = create_service(production, "worker", branch="master",
                                repository_url="https://github.com/Codertocat/Hello-World.git")
        variable = Variable(service=worker, key="QUEUE_PASSWORD")
        variable.set_value(SECRET)
        variable.save()
        handled = handle_pull_request(with_head(payload("synchronize"), OTHER_SHA))
        preview = preview_of(production)
        assert sorted(s.name for s in preview.services.all()) == ["api", "web", "worker"]
        added = preview.services.get(name="worker")
        assert added.branch == "changes"
        assert current_values(added) == {"QUEUE_PASSWORD": SECRET}
        assert sorted(d.service.name for d in handled.deployments) == ["api", "web", "worker"]


def test_closed_removes_the_preview_and_frees_its_domains(people, production):
    with tenant_context(people.workspace_a):
        handle_pull_request(payload("opened"))
        preview = preview_of(production)
        service_ids = list(preview.services.values_list("pk", flat=True))
        handled = handle_pull_request(payload("closed"))
        assert handled.outcome == Outcome.PREVIEW and "removed" in handled.message
        assert preview_of(production) is None
        assert not Service.objects.filter(pk__in=service_ids).exists()
        assert not GeneratedDomain.objects.filter(label__startswith="pr-2-").exists()
        assert production.services.count() == 3
        assert handle_pull_request(payload("closed")).outcome == Outcome.IGNORED


def of_another_repository(body: dict) -> dict:
    """The same event, about pull request #2 of octo/Storefront."""
    body = copy.deepcopy(body)
    for repository in (body["repository"], body["pull_request"]["base"]["repo"],
                       body["pull_request"]["head"]["repo"]):
        repository.update(full_name="octo/Storefront", name="Storefront",
                          clone_url="https://github.com/octo/Storefront.git",
                          html_url="https://github.com/octo/Storefront")
    body["pull_request"]["base"]["ref"] = "main"
    return body


def test_two_repositories_of_a_project_each_get_a_preview_of_their_pr_2(people, production):
    with tenant_context(people.workspace_a):
        create_service(production, "shop", branch="main",
                       repository_url="https://github.com/octo/Storefront.git")
        assert handle_pull_request(payload("opened")).outcome == Outcome.PREVIEW
        other = handle_pull_request(of_another_repository(payload("opened")))
        assert other.outcome == Outcome.PREVIEW and len(other.deployments) == 1
        previews = {environment.name: environment for environment in
                    Environment.objects.filter(project=production.project, pull_request=2)}
        assert sorted(previews) == ["pr-2", "pr-2-storefront"]
        assert [s.name for s in previews["pr-2-storefront"].services.all()] == ["shop"]
        assert sorted(s.name for s in previews["pr-2"].services.all()) == ["api", "web"]
        assert previews["pr-2-storefront"].pull_request_repository == "octo/storefront"

        # A new head of one deploys that one; closing one leaves the other.
        synced = handle_pull_request(with_head(of_another_repository(payload("synchronize")),
                                               OTHER_SHA))
        assert [d.service.name for d in synced.deployments] == ["shop"]
        assert handle_pull_request(payload("closed")).outcome == Outcome.PREVIEW
        left = Environment.objects.filter(project=production.project, pull_request=2)
        assert [environment.name for environment in left] == ["pr-2-storefront"]


def test_a_base_branch_nobody_tracks_is_ignored(people, production):
    body = payload("opened")
    body["pull_request"]["base"]["ref"] = "develop"
    with tenant_context(people.workspace_a):
        assert handle_pull_request(body).outcome == Outcome.IGNORED
        assert preview_of(production) is None


def test_a_forks_preview_has_no_variables_and_waits_for_approval(people, client_for,
                                                                  production):
    with tenant_context(people.workspace_a):
        handled = handle_pull_request(forked(payload("opened")))
        preview = preview_of(production)
        assert handled.outcome == Outcome.AWAITING_APPROVAL and handled.deployments == []
        assert preview.from_fork and preview.services.count() == 2
        assert not Variable.objects.filter(service__environment=preview).exists()
        assert not Variable.objects.filter(environment=preview).exists()
        assert not Deployment.objects.filter(service__environment=preview).exists()
        # The fork's own URL is never used: the base repository serves the head commit.
        assert set(preview.services.values_list("repository_url", flat=True)) == {
            "https://github.com/Codertocat/Hello-World.git"}
    page_url = f"/projects/{production.project_id}/?environment={preview.pk}"
    approve_url = f"/environments/{preview.pk}/approve/"

    member = client_for(people.member, people.workspace_a)
    assert "Approve and deploy" not in member.get(page_url).content.decode()
    assert member.post(approve_url, {"sha": preview.head_sha}).status_code == 403
    outsider = client_for(people.outsider, people.workspace_a)
    assert outsider.post(approve_url, {"sha": preview.head_sha}).status_code == 404

    admin = client_for(people.admin, people.workspace_a)
    assert "Approve and deploy ec26c3e" in admin.get(page_url).content.decode()
    assert admin.post(approve_url, {"sha": OTHER_SHA}).status_code == 302  # not the head
    with tenant_context(people.workspace_a):
        assert not Deployment.objects.filter(service__environment=preview).exists()
    admin.post(approve_url, {"sha": preview.head_sha})
    with tenant_context(people.workspace_a):
        preview.refresh_from_db()
        assert (preview.approved_sha, preview.approved_by) == (preview.head_sha,
                                                               people.admin.email)
        assert {d.commit_sha for d in Deployment.objects.filter(
            service__environment=preview)} == {preview.head_sha}

        # A new head needs an approval of its own.
        handled = handle_pull_request(with_head(forked(payload("synchronize")), OTHER_SHA))
        assert handled.outcome == Outcome.AWAITING_APPROVAL and handled.deployments == []
        assert Deployment.objects.filter(service__environment=preview).count() == 2
    assert "Approve and deploy bbbbbbb" in admin.get(page_url).content.decode()
    admin.post(approve_url, {"sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821"})  # stale
    with tenant_context(people.workspace_a):
        assert Deployment.objects.filter(service__environment=preview).count() == 2


@pytest.mark.parametrize("path, value", [
    (("pull_request", "head", "ref"), "--upload-pack=x"),
    (("pull_request", "base", "ref"), "master;rm -rf /"),
    (("repository", "full_name"), "../x"),
    (("pull_request", "head", "sha"), "not-a-sha-" + "0" * 30),
    (("pull_request", "html_url"), "javascript:alert(1)"),
    (("number",), -2),
    (("number",), "2"),
    (("action",), ["opened"]),
])
def test_hostile_fields_are_refused_and_change_nothing(people, production, path, value):
    body = payload("opened")
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with tenant_context(people.workspace_a):
        before = (Environment.objects.count(), Service.objects.count(),
                  Deployment.objects.count())
        handled = handle_pull_request(body)
        assert handled.outcome == Outcome.FAILED and path[-1] in handled.message
        assert (Environment.objects.count(), Service.objects.count(),
                Deployment.objects.count()) == before
