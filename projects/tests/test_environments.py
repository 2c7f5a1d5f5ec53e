"""Environments as copies of others (copy_environment), the project page's environment
switcher and its "New environment" form, as each role sees them."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from deployments.models import Deployment
from hosting.models import GeneratedDomain
from projects.custom_domains import add_domain, domains_of
from projects.domains import public_domain
from projects.environments import copy_environment
from projects.models import Environment, Service, StagedChange, Variable
from projects.services import create_project, create_service
from projects.variables import current_values, stage
from tenants.models import AuditEvent

SECRET = "s3cr3t-production-password"
SETTINGS = {
    "repository_url": "https://github.com/acme/web.git", "branch": "release",
    "root_directory": "app", "build_command": "npm run build", "start_command": "npm start",
    "healthcheck_path": "/health", "healthcheck_timeout": 30, "instances": 3,
    "restart_policy": "always", "max_restarts": 5, "auto_rollback": False, "build_timeout": 12,
    "memory_limit_mb": 1024, "max_processes": 128, "max_open_files": 2048, "cpu_priority": 5,
    "log_retention_days": 14, "watch_paths": ["src/**"], "github_repository": "acme/web",
    "github_user_id": 42,
}


@pytest.fixture
def production(people) -> Environment:
    """Project Shop's production: web (every setting changed, a custom domain, a variable, a
    staged change) and worker, and a shared variable."""
    with tenant_context(people.workspace_a):
        environment = create_project("Shop").environments.get()
        web = create_service(environment, "web", **SETTINGS)
        add_domain(web, "shop.example.com")
        create_service(environment, "worker", repository_url="https://github.com/acme/w.git")
        variable = Variable(service=web, key="DATABASE_PASSWORD")
        variable.set_value(SECRET)
        variable.save()
        shared = Variable(environment=environment, key="REGION")
        shared.set_value("eu-west")
        shared.save()
        stage(web, "STAGED_ONLY", "x", people.owner)
        return environment


def test_a_copy_has_the_services_settings_and_variables_but_is_not_deployed(people,
                                                                          production):
    with tenant_context(people.workspace_a):
        copy = copy_environment(production, "staging")
        web = copy.services.get(name="web")
        original = production.services.get(name="web")

        assert copy.copied_from == production and copy.project == production.project
        assert sorted(copy.services.values_list("name", flat=True)) == ["web", "worker"]
        for field, value in SETTINGS.items():
            assert getattr(web, field) == value, field
        assert web.active_deployment is None and web.pk != original.pk
        assert [d.hostname for d in domains_of(web)] == []  # a domain is one service's
        assert [d.hostname for d in domains_of(original)] == ["shop.example.com"]
        assert public_domain(web) == "web-staging-team-a.apps.localhost"
        assert public_domain(original) == "web-team-a.apps.localhost"
        # Re-encrypted for the new owner: the same values, other ciphertexts.
        assert current_values(web) == {"DATABASE_PASSWORD": SECRET}
        assert current_values(copy) == {"REGION": "eu-west"}
        assert bytes(Variable.objects.get(service=web).ciphertext) != bytes(
            Variable.objects.get(service=original).ciphertext)
        assert not StagedChange.objects.filter(service=web).exists()
        assert not Deployment.objects.filter(service__environment=copy).exists()
        event = AuditEvent.objects.filter(target_type="environment").latest("pk")
    assert event.details["copied_from"] == "production"
    assert SECRET not in str(event.details)


def test_a_copy_of_some_services_and_without_variables(people, production):
    with tenant_context(people.workspace_a):
        web = production.services.get(name="web")
        copy = copy_environment(production, "bare", services=[web], with_variables=False)
        assert list(copy.services.values_list("name", flat=True)) == ["web"]
        assert not Variable.objects.filter(service__environment=copy).exists()
        assert not Variable.objects.filter(environment=copy).exists()


@pytest.mark.parametrize("name, message", [
    ("production", "already has an environment named"),
    ("Staging", "lowercase"),
    ("-x", "lowercase"),
    ("a" * 64, "at most 63"),
    ("", "blank"),
])
def test_a_bad_or_taken_name_is_refused_and_nothing_is_created(people, production, name,
                                                               message):
    with tenant_context(people.workspace_a):
        before = (Environment.objects.count(), Service.objects.count(), Variable.objects.count())
        with pytest.raises(ValidationError) as error:
            copy_environment(production, name)
        assert message in " ".join(error.value.message_dict["name"])
        assert (Environment.objects.count(), Service.objects.count(),
                Variable.objects.count()) == before


def test_only_the_sources_services_are_copied_with_it(people, production):
    with tenant_context(people.workspace_a):
        other = create_project("Other").environments.get()
        stranger = create_service(other, "stranger")
        with pytest.raises(ValueError):
            copy_environment(production, "staging", services=[stranger])
        assert not Environment.objects.filter(name="staging").exists()


def test_a_preview_environments_domain_starts_with_its_pull_request(people, production):
    with tenant_context(people.workspace_a):
        preview = copy_environment(production, "pr-7", pull_request=7)
        web = preview.services.get(name="web")
        assert public_domain(web) == "pr-7-web-team-a.apps.localhost"
        preview.delete()
        assert not GeneratedDomain.objects.filter(label="pr-7-web-team-a").exists()


# The project page --------------------------------------------------------------------------


def project_url(environment: Environment) -> str:
    return f"/projects/{environment.project_id}/"


def service_names_on(page: str) -> list[str]:
    return re.findall(r'group-hover:text-cyan-300">([^<]+)</p>', page)


def test_the_switcher_shows_the_chosen_environments_services(people, client_for, production):
    with tenant_context(people.workspace_a):
        staging = copy_environment(production, "staging",
                                   services=[production.services.get(name="worker")])
        preview = copy_environment(production, "pr-12", pull_request=12, head_branch="feature",
                                   head_sha="a" * 40, pull_request_title="Faster <checkout>",
                                   pull_request_url="https://github.com/acme/web/pull/12")
    member = client_for(people.member, people.workspace_a)
    page = member.get(project_url(production)).content.decode()
    assert service_names_on(page) == ["web", "worker"]  # production first
    assert re.findall(r'data-testid="environment-tab" data-environment="([^"]+)"', page) == [
        "production", "staging", "pr-12"]
    assert "PR #12" in page and "New environment" not in page

    page = member.get(project_url(production), {"environment": staging.pk}).content.decode()
    assert service_names_on(page) == ["worker"]
    assert 'aria-current="page">staging' in page

    page = member.get(project_url(production), {"environment": preview.pk}).content.decode()
    assert 'data-testid="preview"' in page
    assert 'href="https://github.com/acme/web/pull/12"' in page
    assert "Faster &lt;checkout&gt;" in page and "feature @ aaaaaaa" in page


def test_the_switcher_refuses_what_is_no_environment_of_the_project(people, client_for,
                                                                    production):
    with tenant_context(people.workspace_a):
        other = create_project("Other").environments.get()
    owner = client_for(people.owner, people.workspace_a)
    assert owner.get(project_url(production), {"environment": "1 OR 1=1"}).status_code == 400
    assert owner.get(project_url(production), {"environment": "١"}).status_code == 400
    assert owner.get(project_url(production), {"environment": other.pk}).status_code == 404


def new_environment_url(environment: Environment) -> str:
    return f"/projects/{environment.project_id}/environments/new/"


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owner_and_admin_create_a_copy_which_the_page_then_shows(people, client_for,
                                                                  production, role):
    client = client_for(getattr(people, role), people.workspace_a)
    page = client.get(project_url(production)).content.decode()
    assert f'href="{new_environment_url(production)}?copy_of={production.pk}"' in page
    form = client.get(new_environment_url(production), {"copy_of": production.pk})
    assert form.status_code == 200
    assert f'<option value="{production.pk}" selected>production</option>' in \
        form.content.decode()

    response = client.post(new_environment_url(production),
                           {"name": "staging", "copy_of": production.pk})
    assert response.status_code == 302
    with tenant_context(people.workspace_a):
        staging = Environment.objects.get(project=production.project, name="staging")
        assert staging.services.count() == 2
        assert not Deployment.objects.filter(service__environment=staging).exists()
    assert response["Location"] == f"{project_url(production)}?environment={staging.pk}"
    page = client.get(response["Location"]).content.decode()
    assert "Environment staging created as a copy of production" in page
    assert service_names_on(page) == ["web", "worker"]


@pytest.mark.parametrize("name, message", [
    ("production", "already has an environment named"),
    ("Bad_Name", "lowercase"),
    ("pr-3", "kept for the previews"),
])
def test_the_form_names_whats_wrong_with_the_name(people, client_for, production, name,
                                                  message):
    owner = client_for(people.owner, people.workspace_a)
    response = owner.post(new_environment_url(production), {"name": name,
                                                            "copy_of": production.pk})
    assert response.status_code == 200
    errors = re.findall(r'data-field-error="name">([^<]*)<', response.content.decode())
    assert errors and message in errors[0]
    with tenant_context(people.workspace_a):
        assert production.project.environments.count() == 1


def test_the_source_must_be_an_environment_of_the_project(people, client_for, production):
    with tenant_context(people.workspace_a):
        other = create_project("Other").environments.get()
    owner = client_for(people.owner, people.workspace_a)
    response = owner.post(new_environment_url(production), {"name": "x", "copy_of": other.pk})
    assert re.findall(r'data-field-error="copy_of">', response.content.decode())
    with tenant_context(people.workspace_a):
        assert not Environment.objects.filter(name="x").exists()


def test_members_may_not_create_environments_outsiders_see_nothing(people, client_for,
                                                                     production):
    data = {"name": "staging", "copy_of": production.pk}
    member = client_for(people.member, people.workspace_a)
    assert member.get(new_environment_url(production)).status_code == 403
    assert member.post(new_environment_url(production), data).status_code == 403
    outsider = client_for(people.outsider, people.workspace_a)
    assert outsider.post(new_environment_url(production), data).status_code == 404
    with tenant_context(people.workspace_a):
        assert not Environment.objects.filter(name="staging").exists()
