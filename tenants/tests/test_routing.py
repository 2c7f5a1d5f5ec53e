"""Subdomain routing: who sees which workspace, and what unknown hosts get."""

import pytest
from django.test import Client

from tenants.models import Workspace

WORKSPACE_PAGES = ["/", "/projects/new/"]


def test_unknown_host_is_404_not_500(db):
    for host in ["evil.example.com", "nope.panel.localhost", "a..panel.localhost", "x" * 300]:
        response = Client(HTTP_HOST=host).get("/")
        assert response.status_code == 404, host


def test_root_domain_sends_anonymous_visitors_to_login(db):
    response = Client(HTTP_HOST="panel.localhost").get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_workspace_subdomain_sends_anonymous_visitors_to_the_root_login(workspace_a):
    response = Client(HTTP_HOST=workspace_a.hostname).get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("http://panel.localhost/login/?next=")


@pytest.mark.parametrize("path", WORKSPACE_PAGES)
def test_outsider_gets_404_on_every_page_of_another_workspace(people, client_for, path):
    client = client_for(people.outsider, people.workspace_a)
    response = client.get(path)
    assert response.status_code == 404
    assert b"Team A" not in response.content


def test_outsider_gets_404_on_project_pages(people, client_for):
    from django_tenants.utils import tenant_context

    from projects.services import create_project

    with tenant_context(people.workspace_a):
        project = create_project("Secret plans")
    client = client_for(people.outsider, people.workspace_a)
    for path in [f"/projects/{project.pk}/", f"/projects/{project.pk}/delete/"]:
        assert client.get(path).status_code in (404, 405)
        assert client.post(path).status_code == 404


def test_member_sees_their_workspace(people, client_for):
    response = client_for(people.member, people.workspace_a).get("/")
    assert response.status_code == 200
    assert b"Team A" in response.content


def test_one_login_reaches_every_workspace_subdomain(people):
    client = Client(HTTP_HOST="panel.localhost")
    response = client.post("/login/", {"username": "owner@a.example",
                                       "password": "correct horse battery staple"})
    assert response.status_code == 302
    cookie = client.cookies["sessionid"]
    assert cookie["domain"] == ".panel.localhost"
    assert client.get("/", HTTP_HOST=people.workspace_a.hostname).status_code == 200


def test_suspended_workspace_shows_a_clear_page(people, client_for):
    Workspace.objects.filter(pk=people.workspace_a.pk).update(suspended=True)
    response = client_for(people.owner, people.workspace_a).get("/")
    assert response.status_code == 403
    assert b"is suspended" in response.content


@pytest.mark.parametrize("where", ["workspace", "root"])
def test_log_out_from_any_page_ends_the_session_and_shows_the_login(people, where):
    """The navbar's "Log out" posts to /logout/ of the page's own host."""
    host = people.workspace_a.hostname if where == "workspace" else "panel.localhost"
    client = Client(HTTP_HOST="panel.localhost")
    client.post("/login/", {"username": "owner@a.example",
                            "password": "correct horse battery staple"})
    page = client.get("/", HTTP_HOST=host)
    assert b'action="/logout/"' in page.content
    response = client.post("/logout/", HTTP_HOST=host)
    assert response.status_code == 302
    assert response["Location"] == "http://panel.localhost/login/"
    assert client.get("/", HTTP_HOST=people.workspace_a.hostname).status_code == 302
    assert client.get(response["Location"]).status_code == 200
