"""Creating workspaces: a schema cloned from the template, a domain and an owner."""

from django.db import connection
from django_tenants.utils import tenant_context

from projects.models import Project
from tenants import cloning
from tenants.models import Domain, Membership
from tenants.services import create_workspace


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def schema_objects(schema: str) -> set[tuple[str, ...]]:
    """Every table, index and constraint of a schema, by name and definition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, replace(indexdef, %s, '') FROM pg_indexes"
            " WHERE schemaname = %s", [f"{schema}.", schema],
        )
        indexes = {("index", *row) for row in cursor.fetchall()}
        cursor.execute(cloning.CONSTRAINTS, [f"{schema}.", schema])
        constraints = {("constraint", *row) for row in cursor.fetchall()}
    return indexes | constraints


def test_new_workspace_is_cloned_from_the_template_schema(people, monkeypatch):
    clones = []
    original = cloning.clone_template

    def spy(template, schema):
        clones.append((template, schema))
        return original(template, schema)

    monkeypatch.setattr(cloning, "clone_template", spy)
    workspace = create_workspace("cloned", "Cloned", people.outsider)

    assert clones == [("workspace_template", "ws_cloned")]
    assert tables_in("ws_cloned") == tables_in("workspace_template")
    # Same names too: a later migration that alters a constraint by name must work here.
    assert schema_objects("ws_cloned") == schema_objects("workspace_template")
    assert {"projects_project", "deployments_deployment"} <= tables_in("ws_cloned")
    assert Domain.objects.get(tenant=workspace).domain == "cloned.panel.localhost"
    assert Membership.objects.get(workspace=workspace).role == "owner"
    with tenant_context(workspace):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'projects'")
            assert cursor.fetchone()[0] >= 1  # recorded as applied: later migrations apply
        Project.objects.create(name="Works")
        assert Project.objects.count() == 1


def test_workspaces_do_not_see_each_others_data(people):
    with tenant_context(people.workspace_a):
        Project.objects.create(name="Only in A")
    with tenant_context(people.workspace_b):
        assert not Project.objects.filter(name="Only in A").exists()


def test_workspace_list_shows_my_workspaces_with_links(people, client_for):
    response = client_for(people.member).get("/")
    assert response.status_code == 200
    assert b"Team A" in response.content
    assert b"http://team-a.panel.localhost/" in response.content
    assert b"Team B" not in response.content


def test_creating_a_workspace_in_the_page_makes_me_owner_and_redirects_there(people, client_for):
    response = client_for(people.member).post(
        "/workspaces/new/", {"name": "Side project", "slug": "side"}
    )
    assert response.status_code == 302
    assert response["Location"] == "http://side.panel.localhost/"
    membership = Membership.objects.get(workspace__slug="side")
    assert (membership.user, membership.role) == (people.member, "owner")
    assert "ws_side" in {row for row in _schemas()}


def _schemas() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_name FROM information_schema.schemata")
        return [row[0] for row in cursor.fetchall()]
