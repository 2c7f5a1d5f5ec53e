"""Adding a service to an environment, and the service page, as each role sees them."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from projects.models import Environment, Service
from projects.services import create_project


@pytest.fixture
def environment(people) -> Environment:
    with tenant_context(people.workspace_a):
        return create_project("Shop").environments.get()


def new_service_url(environment: Environment) -> str:
    return f"/environments/{environment.pk}/services/new/"


def service_names(people, environment: Environment) -> list[str]:
    with tenant_context(people.workspace_a):
        names = Service.objects.filter(environment=environment).values_list("name", flat=True)
        return sorted(names)


def field_errors(response, field: str) -> list[str]:
    html = response.content.decode()
    return re.findall(rf'data-field-error="{field}">([^<]*)<', html)


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owner_and_admin_add_a_service_which_the_project_page_lists(people, client_for,
                                                                     environment, role):
    client = client_for(getattr(people, role), people.workspace_a)
    form = client.get(new_service_url(environment))
    assert form.status_code == 200
    assert b'name="repository_url"' in form.content and b'value="main"' in form.content

    response = client.post(new_service_url(environment), {
        "name": "web", "repository_url": "https://github.com/acme/web.git", "branch": "",
    })
    assert response.status_code == 302
    with tenant_context(people.workspace_a):
        service = Service.objects.get(environment=environment)
    assert (service.name, service.branch) == ("web", "main")
    assert response["Location"] == f"/services/{service.pk}/"

    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="service-name">web<' in page
    assert "https://github.com/acme/web.git" in page
    assert "web-team-a.apps.localhost" in page  # the public domain
    assert "Service web created." in page

    project_page = client.get(f"/projects/{environment.project_id}/").content.decode()
    assert f'href="/services/{service.pk}/"' in project_page
    assert "https://github.com/acme/web.git" in project_page


def test_the_project_page_offers_the_form_inline_with_htmx(people, client_for, environment):
    owner = client_for(people.owner, people.workspace_a)
    page = owner.get(f"/projects/{environment.project_id}/").content.decode()
    assert f'hx-get="{new_service_url(environment)}"' in page
    assert f'href="/environments/{environment.pk}/variables/"' in page

    fragment = owner.get(new_service_url(environment), HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content and b'data-testid="service-form"' in fragment.content

    invalid = owner.post(new_service_url(environment), {"name": "Web"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in invalid.content
    assert field_errors(invalid, "name")

    created = owner.post(new_service_url(environment), {"name": "api", "branch": "develop"},
                         HTTP_HX_REQUEST="true")
    with tenant_context(people.workspace_a):
        service = Service.objects.get(environment=environment, name="api")
    assert created["HX-Redirect"] == f"/services/{service.pk}/"
    assert service.repository_url == "" and service.branch == "develop"


def test_a_member_may_not_add_a_service(people, client_for, environment):
    member = client_for(people.member, people.workspace_a)
    assert member.get(new_service_url(environment)).status_code == 403
    response = member.post(new_service_url(environment), {"name": "sneaky"})
    assert response.status_code == 403
    assert service_names(people, environment) == []
    assert "New service" not in member.get(f"/projects/{environment.project_id}/").content.decode()


def test_an_outsider_gets_404(people, client_for, environment):
    outsider = client_for(people.outsider, people.workspace_a)
    assert outsider.get(new_service_url(environment)).status_code == 404
    assert outsider.post(new_service_url(environment), {"name": "x"}).status_code == 404
    # Through their own workspace, an id of workspace A's means nothing.
    with tenant_context(people.workspace_b):
        assert not Environment.objects.filter(pk=environment.pk).exists()
    own = client_for(people.outsider, people.workspace_b)
    assert own.post(new_service_url(environment), {"name": "x"}).status_code == 404
    assert service_names(people, environment) == []


def test_members_see_the_service_page_outsiders_do_not(people, client_for, environment):
    with tenant_context(people.workspace_a):
        service = Service.objects.create(environment=environment, name="web")
    page = client_for(people.member, people.workspace_a).get(f"/services/{service.pk}/")
    assert page.status_code == 200
    assert b"No repository connected yet." in page.content
    assert client_for(people.outsider, people.workspace_a).get(
        f"/services/{service.pk}/").status_code == 404
    assert client_for(people.owner, people.workspace_a).get("/services/999999/").status_code == 404


def test_the_service_page_of_a_project_being_deleted_is_gone(people, client_for, environment):
    with tenant_context(people.workspace_a):
        service = Service.objects.create(environment=environment, name="web")
        environment.project.mark_deleting()
    owner = client_for(people.owner, people.workspace_a)
    assert owner.get(f"/services/{service.pk}/").status_code == 404
    assert owner.post(new_service_url(environment), {"name": "api"}).status_code == 404


@pytest.mark.parametrize("field, value", [
    ("name", "Web"),
    ("name", "-x"),
    ("name", "x-"),
    ("name", "shared"),
    ("name", "a_b"),
    ("name", "a.b"),
    ("name", "x" * 64),
    ("name", ""),
    ("repository_url", "ext::sh -c touch% /tmp/pwned"),
    ("repository_url", "ssh://internal/x"),
    ("repository_url", "git@github.com:acme/web.git"),
    ("repository_url", "-uhttps://x"),
    ("repository_url", "--upload-pack=touch /tmp/pwned"),
    ("repository_url", "file:///tmp/x"),
    ("repository_url", "/srv/repositories/web"),
    ("repository_url", "http://github.com/acme/web"),
    ("repository_url", "https://user:token@github.com/acme/web"),
    ("repository_url", "https://github.com/acme/web\nx"),
    ("repository_url", "https://github.com/acme/\x01web"),
    ("repository_url", "https:///nohost"),
    ("branch", "-f"),
    ("branch", "a..b"),
    ("branch", "a b"),
    ("branch", "x.lock"),
    ("branch", "feature/"),
    ("branch", "feature//x"),
    ("branch", ".hidden"),
    ("branch", "a~1"),
    ("branch", "a^"),
    ("branch", "a:b"),
    ("branch", "what?"),
    ("branch", "a*"),
    ("branch", "a[b"),
    ("branch", "a\\b"),
    ("branch", "x@{-1}"),
    ("branch", "@"),
    ("branch", "HEAD"),
    ("branch", "a\x7fb"),
    ("branch", "ends."),
])
@override_settings(PAAS_ALLOW_LOCAL_REPOS=False)
def test_bad_input_is_refused_next_to_its_field(people, client_for, environment, field, value):
    data = {"name": "web", "repository_url": "https://github.com/acme/web", "branch": "main"}
    data[field] = value
    response = client_for(people.owner, people.workspace_a).post(new_service_url(environment),
                                                                 data)
    assert response.status_code == 200
    errors = field_errors(response, field)
    assert errors, response.content.decode()
    others = {"name", "repository_url", "branch"} - {field}
    assert not any(field_errors(response, other) for other in others)
    assert service_names(people, environment) == []


def test_a_name_is_unique_in_its_environment(people, client_for, environment):
    with tenant_context(people.workspace_a):
        Service.objects.create(environment=environment, name="web")
    response = client_for(people.admin, people.workspace_a).post(
        new_service_url(environment), {"name": "web"})
    assert field_errors(response, "name") == ["This environment already has a service named web."]
    assert service_names(people, environment) == ["web"]


def test_the_reserved_name_says_why(people, client_for, environment):
    response = client_for(people.owner, people.workspace_a).post(
        new_service_url(environment), {"name": "shared"})
    assert "reserved" in field_errors(response, "name")[0]


@override_settings(PAAS_ALLOW_LOCAL_REPOS=True)
@pytest.mark.parametrize("url", ["file:///srv/repositories/web", "/srv/repositories/web"])
def test_local_repositories_only_where_the_host_allows_them(people, client_for, environment,
                                                            url):
    response = client_for(people.owner, people.workspace_a).post(
        new_service_url(environment), {"name": "web", "repository_url": url,
                                       "branch": "feature/login"})
    assert response.status_code == 302
    with tenant_context(people.workspace_a):
        service = Service.objects.get(environment=environment)
    assert (service.repository_url, service.branch) == (url, "feature/login")


@override_settings(PAAS_ALLOW_LOCAL_REPOS=True)
def test_even_with_local_repositories_no_other_transport(people, client_for, environment):
    for url in ("ext::sh -c touch% /tmp/pwned", "ssh://internal/x", "file://host/x", "-u/x"):
        response = client_for(people.owner, people.workspace_a).post(
            new_service_url(environment), {"name": "web", "repository_url": url})
        assert field_errors(response, "repository_url"), url
    assert service_names(people, environment) == []
