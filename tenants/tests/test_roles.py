"""The role module: what owners, admins and members may do (DESIGN.md §3)."""

import pytest

from tenants.roles import Action, Role, can

MEMBER_MAY = {Action.VIEW, Action.DEPLOY, Action.RESTART, Action.READ_LOGS}
OWNER_ONLY = {Action.DELETE_WORKSPACE, Action.TRANSFER_OWNERSHIP}


@pytest.mark.parametrize("action", list(Action))
def test_owner_may_do_everything(action):
    assert can(Role.OWNER, action)


@pytest.mark.parametrize("action", list(Action))
def test_admin_may_do_everything_but_delete_or_transfer_the_workspace(action):
    assert can(Role.ADMIN, action) is (action not in OWNER_ONLY)


@pytest.mark.parametrize("action", list(Action))
def test_member_may_view_deploy_restart_and_read_logs_only(action):
    assert can(Role.MEMBER, action) is (action in MEMBER_MAY)


def test_member_cannot_read_secrets_change_members_or_delete_projects():
    for action in (Action.READ_SECRETS, Action.MANAGE_MEMBERS, Action.DELETE_PROJECT):
        assert not can("member", action)


@pytest.mark.parametrize("role", [None, "", "superuser", "OWNER"])
def test_no_or_unknown_role_may_do_nothing(role):
    assert not any(can(role, action) for action in Action)


def test_member_gets_403_where_their_role_stops(people, client_for):
    from django_tenants.utils import tenant_context

    from projects.models import Project
    from projects.services import create_project

    with tenant_context(people.workspace_a):
        project = create_project("Shop")
    member = client_for(people.member, people.workspace_a)
    assert member.get("/projects/new/").status_code == 403
    assert member.post("/projects/new/", {"name": "Sneaky"}).status_code == 403
    assert member.post(f"/projects/{project.pk}/delete/").status_code == 403
    page = member.get(f"/projects/{project.pk}/")
    assert page.status_code == 200
    assert b"Delete project" not in page.content
    with tenant_context(people.workspace_a):
        assert Project.objects.visible().filter(name__in=["Shop"]).count() == 1
        assert not Project.objects.filter(name="Sneaky").exists()


def test_admin_can_create_and_delete_projects(people, client_for):
    from django_tenants.utils import tenant_context

    from projects.models import Project

    admin = client_for(people.admin, people.workspace_a)
    response = admin.post("/projects/new/", {"name": "Billing", "description": "Invoices"})
    assert response.status_code == 302
    with tenant_context(people.workspace_a):
        project = Project.objects.get(name="Billing")
        assert list(project.environments.values_list("name", flat=True)) == ["production"]
    assert "Billing" in project_list(admin.get("/"))
    assert admin.post(f"/projects/{project.pk}/delete/").status_code == 302
    assert "Billing" not in project_list(admin.get("/"))


def project_list(response) -> str:
    """The project list of the workspace home, without the rest of the page."""
    html = response.content.decode()
    start = html.index('id="project-list"')
    return html[start:html.index("</ul>", start)]
