"""Workspace settings: admins and owners rename (the slug stays), only the owner deletes, by
typing the slug; the workspace, its schema and its routes go."""

from __future__ import annotations

import html

import pytest
from django.db import connection
from django_tenants.utils import schema_exists

from hosting.models import Route
from tenants.models import AuditAction, AuditEvent, Membership, Workspace
from tenants.roles import Role
from tenants.services import create_workspace


@pytest.mark.parametrize("who, status", [("owner", 200), ("admin", 200), ("member", 403),
                                         ("outsider", 404)])
def test_owners_and_admins_open_the_settings(people, client_for, who, status):
    assert client_for(getattr(people, who), people.workspace_a).get(
        "/settings/").status_code == status


def test_an_admin_renames_and_the_address_stays(people, client_for):
    response = client_for(people.admin, people.workspace_a).post("/settings/",
                                                                  {"name": "Team Alpha"})
    assert response.status_code == 302
    workspace = Workspace.objects.get(pk=people.workspace_a.pk)
    assert (workspace.name, workspace.slug) == ("Team Alpha", "team-a")
    (event,) = AuditEvent.objects.filter(action=AuditAction.SETTINGS_CHANGED)
    assert event.details == {"before": "Team A", "after": "Team Alpha"}


@pytest.mark.parametrize("name", ["", "x" * 500])
def test_a_bad_name_is_a_field_error_and_changes_nothing(people, client_for, name):
    response = client_for(people.owner, people.workspace_a).post("/settings/", {"name": name})
    assert response.status_code == 400 and 'data-field-error="name"' in response.content.decode()
    assert Workspace.objects.get(pk=people.workspace_a.pk).name == "Team A"


def test_only_the_owner_deletes_and_only_with_the_slug_typed(people, client_for):
    workspace = create_workspace("team-doomed", "Doomed", people.member)
    Membership.objects.create(user=people.admin, workspace=workspace, role=Role.ADMIN)
    # (A service made in this test's transaction would hold the schema's tables until
    # commit: the route stands for what its services had.)
    Route.objects.create(hostname="web-team-doomed.apps.localhost", upstream="127.0.0.1:1",
                         schema_name=workspace.schema_name, service_id=1, deployment_id=1)
    assert client_for(people.admin, workspace).post(
        "/settings/delete/", {"confirm": "team-doomed"}).status_code == 403
    owner = client_for(people.member, workspace)
    wrong = owner.post("/settings/delete/", {"confirm": "team-a"})
    assert wrong.status_code == 400
    assert "Type team-doomed to delete this workspace." in html.unescape(
        wrong.content.decode())
    assert Workspace.objects.filter(pk=workspace.pk).exists()
    response = owner.post("/settings/delete/", {"confirm": "team-doomed"})
    assert response.status_code == 302 and response["Location"].endswith("panel.localhost/")
    connection.set_schema_to_public()
    assert not Workspace.objects.filter(slug="team-doomed").exists()
    assert not schema_exists(workspace.schema_name)
    assert not Route.objects.filter(schema_name=workspace.schema_name).exists()
