"""Bad input to the forms and commands that create things: refused, explained, nothing made."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from projects.models import Environment, Project
from projects.services import create_project
from tenants.models import Domain, Membership, User, Workspace
from tenants.roles import Role

PASSWORD = "correct horse battery staple"


def schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def field_errors(response, field: str) -> list[str]:
    """The error messages the page shows next to `field`."""
    pattern = rf'data-field-error="{re.escape(field)}"[^>]*>(.*?)</'
    return re.findall(pattern, response.content.decode(), flags=re.S)


def assert_refused(response, field: str) -> None:
    assert response.status_code == 200, response.status_code
    assert field_errors(response, field), (
        f"no error next to {field!r}: {response.content.decode()[:3000]}"
    )


# ---------------------------------------------------------------- workspaces

BAD_SLUGS = [
    "Bad_Slug", "-lead", "trail-", "a b", "ünï", "UPPER", "dot.ted", "under_score",
    "www", "api", "admin", "panel", "static", "ws",
    "team-a",
    "x" * 41, "y" * 70,
]


@pytest.mark.parametrize("slug", BAD_SLUGS)
def test_workspace_form_refuses_bad_slugs(people, client_for, slug):
    client = client_for(people.member)
    before, before_schemas = Workspace.objects.count(), schemas()
    response = client.post("/workspaces/new/", {"name": "New team", "slug": slug})
    assert_refused(response, "slug")
    assert not field_errors(response, "name")
    assert Workspace.objects.count() == before
    assert schemas() == before_schemas
    assert not Membership.objects.filter(user=people.member).exclude(
        workspace=people.workspace_a).exists()


def test_reserved_slug_error_says_it_is_reserved(people, client_for):
    response = client_for(people.member).post("/workspaces/new/",
                                              {"name": "Admins", "slug": "admin"})
    assert "reserved" in field_errors(response, "slug")[0]


def test_duplicate_slug_error_says_it_is_taken(people, client_for):
    response = client_for(people.outsider).post("/workspaces/new/",
                                                {"name": "Copy", "slug": "team-a"})
    assert "already exists" in field_errors(response, "slug")[0]
    assert Workspace.objects.get(slug="team-a").memberships.filter(
        user=people.outsider).exists() is False


@pytest.mark.parametrize("name", ["", "   ", "n" * 101])
def test_workspace_form_refuses_bad_names(people, client_for, name):
    client = client_for(people.member)
    before, before_schemas = Workspace.objects.count(), schemas()
    response = client.post("/workspaces/new/", {"name": name, "slug": "fresh-team"})
    assert_refused(response, "name")
    assert Workspace.objects.count() == before
    assert schemas() == before_schemas
    assert not Workspace.objects.filter(slug="fresh-team").exists()


def test_workspace_form_keeps_what_was_typed(people, client_for):
    response = client_for(people.member).post("/workspaces/new/",
                                              {"name": "Keep me", "slug": "Bad_Slug"})
    body = response.content.decode()
    assert 'value="Keep me"' in body
    assert 'value="Bad_Slug"' in body


def test_a_good_workspace_is_created_with_its_schema(people, client_for):
    """The counterpart of the refusals above: the same form with good input works."""
    before_schemas = schemas()
    response = client_for(people.member).post("/workspaces/new/",
                                              {"name": "  Fresh Team ", "slug": "fresh-team"})
    assert response.status_code == 302
    assert response["Location"] == "http://fresh-team.panel.localhost/"
    workspace = Workspace.objects.get(slug="fresh-team")
    assert workspace.name == "Fresh Team"
    assert schemas() - before_schemas == {"ws_fresh_team"}
    assert Domain.objects.get(tenant=workspace).domain == "fresh-team.panel.localhost"
    assert Membership.objects.get(workspace=workspace).user == people.member


def test_a_workspace_name_with_markup_is_shown_escaped_everywhere(people, client_for):
    markup = "<img src=x onerror=alert(1)>"
    client = client_for(people.member)
    response = client.post("/workspaces/new/", {"name": markup, "slug": "marked"}, follow=True)
    workspace = Workspace.objects.get(slug="marked")
    pages = [response, client.get("/"), client_for(people.member, workspace).get("/")]
    operator = User.objects.create_user("op@panel.example", PASSWORD, is_staff=True,
                                        is_superuser=True)
    pages += [client_for(operator).get("/admin/tenants/workspace/"),
              client_for(operator).get(f"/admin/tenants/workspace/{workspace.pk}/change/"),
              client_for(operator, workspace).get("/admin/")]
    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert markup not in body
        assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_workspace_form_needs_a_login(db):
    response = Client(HTTP_HOST="panel.localhost").post(
        "/workspaces/new/", {"name": "Anon", "slug": "anon-team"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert not Workspace.objects.filter(slug="anon-team").exists()


# ---------------------------------------------------------------- projects

MARKUP = "<script>alert(1)</script>"


def project_names(workspace: Workspace) -> list[str]:
    with tenant_context(workspace):
        return list(Project.objects.values_list("name", flat=True))


def test_project_name_with_markup_is_refused_and_escaped(people, client_for):
    client = client_for(people.owner, people.workspace_a)
    response = client.post("/projects/new/", {"name": MARKUP, "description": MARKUP})
    assert_refused(response, "name")
    body = response.content.decode()
    assert MARKUP not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert project_names(people.workspace_a) == []


@pytest.mark.parametrize("name", ["Storefront", "storefront", "STOREFRONT", "  Storefront  "])
def test_duplicate_project_names_are_refused_in_any_case(people, client_for, name):
    with tenant_context(people.workspace_a):
        create_project("Storefront")
    client = client_for(people.owner, people.workspace_a)
    response = client.post("/projects/new/", {"name": name, "description": ""})
    assert_refused(response, "name")
    assert "already exists" in field_errors(response, "name")[0]
    assert project_names(people.workspace_a) == ["Storefront"]


def test_the_same_project_name_is_fine_in_another_workspace(people, client_for):
    with tenant_context(people.workspace_a):
        create_project("Storefront")
    response = client_for(people.outsider, people.workspace_b).post(
        "/projects/new/", {"name": "storefront", "description": ""})
    assert response.status_code == 302
    assert project_names(people.workspace_b) == ["storefront"]


@pytest.mark.parametrize("name", ["", "   ", "p" * 101])
def test_project_form_refuses_empty_and_long_names(people, client_for, name):
    client = client_for(people.owner, people.workspace_a)
    response = client.post("/projects/new/", {"name": name, "description": ""})
    assert_refused(response, "name")
    assert project_names(people.workspace_a) == []
    with tenant_context(people.workspace_a):
        assert not Environment.objects.exists()


def test_project_description_over_the_limit_is_refused(people, client_for):
    client = client_for(people.owner, people.workspace_a)
    response = client.post("/projects/new/", {"name": "Fine", "description": "d" * 2001})
    assert_refused(response, "description")
    assert project_names(people.workspace_a) == []


def test_a_good_project_is_created_with_production(people, client_for):
    client = client_for(people.owner, people.workspace_a)
    response = client.post("/projects/new/", {"name": "  Web   shop ", "description": ""})
    assert response.status_code == 302
    with tenant_context(people.workspace_a):
        project = Project.objects.get()
        assert project.name == "Web shop"
        assert [e.name for e in project.environments.all()] == ["production"]


# ---------------------------------------------------------------- sign-up

@pytest.mark.parametrize("email", ["owner@a.example", "OWNER@A.EXAMPLE", "Owner@A.Example",
                                   " owner@a.example "])
def test_signup_with_an_existing_email_is_refused(people, email):
    before = User.objects.count()
    response = Client(HTTP_HOST="panel.localhost").post("/signup/", {
        "email": email, "name": "Impostor",
        "password1": "another long pass phrase", "password2": "another long pass phrase",
    })
    assert_refused(response, "email")
    assert User.objects.count() == before
    people.owner.refresh_from_db()
    assert people.owner.name == "Olive Owner"
    assert people.owner.check_password(PASSWORD)


def test_signup_with_a_new_email_works_and_stores_it_lowercased(db):
    client = Client(HTTP_HOST="panel.localhost")
    response = client.post("/signup/", {
        "email": "New.Person@Example.COM", "name": "New Person",
        "password1": "another long pass phrase", "password2": "another long pass phrase",
    })
    assert response.status_code == 302
    assert User.objects.filter(email="new.person@example.com").exists()


@pytest.mark.parametrize("email", ["owner@a.example", "OWNER@A.example", " Owner@A.Example"])
def test_login_with_the_email_in_any_case(people, email):
    client = Client(HTTP_HOST="panel.localhost")
    response = client.post("/login/", {"username": email, "password": PASSWORD})
    assert response.status_code == 302, field_errors(response, "__all__")
    assert client.get("/").status_code == 200


def test_login_with_a_wrong_password_is_refused(people):
    client = Client(HTTP_HOST="panel.localhost")
    response = client.post("/login/", {"username": "owner@a.example", "password": "wrong"})
    assert_refused(response, "__all__")
    assert client.get("/").status_code == 302


# ---------------------------------------------------------------- create_workspace command

def test_command_creates_a_workspace_and_an_owner_with_a_one_time_password(db):
    out = StringIO()
    call_command("create_workspace", "acme", owner="boss@acme.example", name="Acme", stdout=out)
    output = out.getvalue()
    workspace = Workspace.objects.get(slug="acme")
    assert workspace.name == "Acme"
    assert "ws_acme" in schemas()
    assert "acme.panel.localhost" in output
    match = re.search(r"with password: (\S+)", output)
    assert match, output
    user = authenticate(username="boss@acme.example", password=match.group(1))
    assert user is not None
    assert Membership.objects.get(workspace=workspace).user == user
    assert Membership.objects.get(workspace=workspace).role == Role.OWNER


def test_command_reuses_an_existing_account_without_a_password(people):
    out = StringIO()
    call_command("create_workspace", "second", owner="MEMBER@a.example", stdout=out)
    output = out.getvalue()
    assert "password" not in output.lower()
    workspace = Workspace.objects.get(slug="second")
    assert workspace.name == "second"
    assert Membership.objects.get(workspace=workspace, role=Role.OWNER).user == people.member
    assert User.objects.filter(email__iexact="member@a.example").count() == 1
    people.member.refresh_from_db()
    assert people.member.check_password(PASSWORD)


@pytest.mark.parametrize("slug", ["admin", "www", "team-a", "Bad_Slug"])
def test_command_refuses_a_bad_slug_and_creates_nothing(db, slug):
    users, workspaces, before_schemas = User.objects.count(), Workspace.objects.count(), schemas()
    with pytest.raises(CommandError, match="slug"):
        call_command("create_workspace", slug, owner="nobody@new.example", stdout=StringIO())
    assert User.objects.count() == users
    assert not User.objects.filter(email="nobody@new.example").exists()
    assert Workspace.objects.count() == workspaces
    assert schemas() == before_schemas


def test_command_refuses_a_bad_owner_email(db):
    with pytest.raises(CommandError, match="owner"):
        call_command("create_workspace", "fine-slug", owner="not an email", stdout=StringIO())
    assert not Workspace.objects.filter(slug="fine-slug").exists()


# ---------------------------------------------------------------- login redirect

def login(next_url: str):
    client = Client(HTTP_HOST="panel.localhost")
    return client.post("/login/", {"username": "owner@a.example", "password": PASSWORD,
                                   "next": next_url})


@pytest.mark.parametrize("next_url", [
    "http://team-a.panel.localhost/",
    "http://team-a.panel.localhost/projects/new/",
    "/workspaces/new/",
])
def test_login_redirects_to_the_panel_and_its_workspaces(people, next_url):
    response = login(next_url)
    assert response.status_code == 302
    assert response["Location"] == next_url


@pytest.mark.parametrize("next_url", [
    "http://evil.example.com/",
    "https://evil.example.com/",
    "//evil.example.com/",
    "http://panel.localhost.evil.example.com/",
    "http://evil.example.com/.panel.localhost",
    "http://evil.example.com#.panel.localhost",
    "http://evil.example.com\\.panel.localhost/",
    "http://team-a.panel.localhost@evil.example.com/",
    "http://team-a.panel.localhost:80@evil.example.com/",
    "http://x:y@team-a.panel.localhost/",
    "javascript:alert(1)",
    "http:///evil.example.com/",
])
def test_login_refuses_to_redirect_elsewhere(people, next_url):
    response = login(next_url)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_page_does_not_carry_a_foreign_next(people):
    response = Client(HTTP_HOST="panel.localhost").get("/login/?next=http://evil.example.com/")
    assert response.status_code == 200
    assert b"evil.example.com" not in response.content
