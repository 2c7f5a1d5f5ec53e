"""Deleting a service (its settings page, DELETE /api/v1/services/{id}/) and an environment
(the project page, DELETE /api/v1/environments/{id}/): admins and owners only; a project's last
environment stays. What the deleted services ran is removed by the engine
(deployments/tests/test_engine.py)."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from api.tests.conftest import error_of, token_client
from api.tokens import create_token
from hosting.models import GeneratedDomain
from projects.environments import copy_environment
from projects.models import Environment, Service
from projects.services import create_project, create_service
from tenants.models import AuditAction, AuditEvent


@pytest.fixture
def shop(people):
    """A project with production (a service `web`) and a copy of it, staging."""
    with tenant_context(people.workspace_a):
        production = create_project("Shop").environments.get()
        web = create_service(production, "web", repository_url="https://example.com/shop.git")
        staging = copy_environment(production, "staging")
    return production, web, staging


def exists(people, model, pk: int) -> bool:
    with tenant_context(people.workspace_a):
        return model.objects.filter(pk=pk).exists()


def domains_of(people, service: Service) -> list[str]:
    return list(GeneratedDomain.objects.filter(schema_name=people.workspace_a.schema_name,
                                               service_id=service.pk)
                .values_list("label", flat=True))


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_deleting_a_service_from_its_settings_page(people, client_for, shop, role):
    production, web, _ = shop
    client = client_for(getattr(people, role), people.workspace_a)
    settings_page = client.get(f"/services/{web.pk}/settings/").content.decode()
    assert 'data-action="delete-service"' in settings_page
    assert "web-team-a.apps.localhost" in settings_page  # the domain it frees
    assert domains_of(people, web)

    response = client.post(f"/services/{web.pk}/delete/", follow=True)

    assert response.redirect_chain[-1][0] == \
        f"/projects/{production.project_id}/?environment={production.pk}"
    assert "Service web deleted; it no longer runs." in response.content.decode()
    assert not exists(people, Service, web.pk)
    assert not domains_of(people, web)
    with tenant_context(people.workspace_a):
        event = AuditEvent.objects.filter(action=AuditAction.DELETED).latest("id")
    assert (event.target_type, event.target, event.actor) == ("service", "web",
                                                              getattr(people, role))


def test_members_and_outsiders_cannot_delete_a_service(people, client_for, shop):
    _, web, _ = shop
    member = client_for(people.member, people.workspace_a)
    assert member.post(f"/services/{web.pk}/delete/").status_code == 403
    assert 'data-action="delete-service"' not in member.get(f"/services/{web.pk}/").content \
        .decode()
    outsider = client_for(people.outsider, people.workspace_a)
    assert outsider.post(f"/services/{web.pk}/delete/").status_code == 404
    assert client_for(people.member, people.workspace_a).get(
        f"/services/{web.pk}/delete/").status_code == 405
    assert exists(people, Service, web.pk)


def test_deleting_an_environment_from_the_project_page(people, client_for, shop):
    production, _, staging = shop
    with tenant_context(people.workspace_a):
        copied = Service.objects.get(environment=staging, name="web")
    client = client_for(people.admin, people.workspace_a)
    page = client.get(f"/projects/{production.project_id}/?environment={staging.pk}")
    assert 'data-action="delete-environment"' in page.content.decode()

    response = client.post(f"/environments/{staging.pk}/delete/", follow=True)

    assert response.redirect_chain[-1][0] == f"/projects/{production.project_id}/"
    assert "Environment staging deleted with its services." in response.content.decode()
    assert not exists(people, Environment, staging.pk)
    assert not exists(people, Service, copied.pk) and not domains_of(people, copied)
    assert exists(people, Environment, production.pk)


def test_a_projects_last_environment_is_not_deleted(people, client_for, shop):
    production, web, staging = shop
    client = client_for(people.owner, people.workspace_a)
    client.post(f"/environments/{staging.pk}/delete/")
    page = client.get(f"/projects/{production.project_id}/").content.decode()
    assert 'data-action="delete-environment"' not in page  # the only one: no button

    response = client.post(f"/environments/{production.pk}/delete/", follow=True)

    assert "production is the only environment of Shop; delete the project instead." in \
        response.content.decode()
    assert exists(people, Environment, production.pk) and exists(people, Service, web.pk)


def test_members_cannot_delete_an_environment(people, client_for, shop):
    production, _, staging = shop
    member = client_for(people.member, people.workspace_a)
    page = member.get(f"/projects/{production.project_id}/?environment={staging.pk}")
    assert 'data-action="delete-environment"' not in page.content.decode()
    assert member.post(f"/environments/{staging.pk}/delete/").status_code == 403
    other = client_for(people.outsider, people.workspace_a)
    assert other.post(f"/environments/{staging.pk}/delete/").status_code == 404
    assert exists(people, Environment, staging.pk)


def test_the_api_deletes_services_and_environments_but_not_the_last_one(people, shop):
    production, web, staging = shop
    api = token_client(people.workspace_a,
                       create_token(people.workspace_a, people.admin, "ci", 30)[1])

    assert api.call("DELETE", f"/api/v1/services/{web.pk}/").status_code == 204
    assert api.call("GET", f"/api/v1/services/{web.pk}/").status_code == 404
    assert api.call("DELETE", f"/api/v1/environments/{staging.pk}/").status_code == 204
    assert api.call("GET", f"/api/v1/environments/{staging.pk}/").status_code == 404

    last = api.call("DELETE", f"/api/v1/environments/{production.pk}/")
    assert last.status_code == 409
    error = error_of(last)
    assert error["code"] == "conflict" and "only environment of Shop" in error["message"]
    assert exists(people, Environment, production.pk)

    member = token_client(people.workspace_a,
                          create_token(people.workspace_a, people.member, "m", 30)[1])
    with tenant_context(people.workspace_a):
        again = create_service(production, "api")
    refused = member.call("DELETE", f"/api/v1/services/{again.pk}/")
    assert refused.status_code == 403 and error_of(refused)["code"] == "permission_denied"
    assert exists(people, Service, again.pk)
