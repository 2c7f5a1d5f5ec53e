"""The operators' admin (root domain) and the workspace admin (<slug>.PAAS_DOMAIN/admin/).

Models are enumerated from the admin sites' registries, so a model registered later is
covered without touching this file: it needs an object to open, made by the factories below
when the table is empty (a test fails by name when a factory is missing).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.contrib.auth.models import Group
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from deployments import logstore
from deployments.models import Deployment, WebhookDelivery
from hosting.models import CustomDomain, GeneratedDomain, Host, LogCursor, PortAllocation, Route
from projects.admin import workspace_admin
from projects.models import Project, Variable, VariableReveal
from projects.services import create_project, create_service
from tenants.models import AuditAction, AuditEvent, Invitation, User, Workspace

PUBLIC_URLS = "config.urls_public"
TENANT_URLS = "config.urls_tenant"
SECRET = b"SECRETBYTES"
SECRET_FORMS = [SECRET, SECRET.hex().encode(), base64.b64encode(SECRET)[:12]]


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_user(
        "operator@panel.example", "operator pass phrase", name="Opal Operator",
        is_staff=True, is_superuser=True,
    )


def operator_client(operator: User, workspace: Workspace | None = None) -> Client:
    client = Client(HTTP_HOST=workspace.hostname if workspace else "panel.localhost")
    client.force_login(operator)
    return client


def admin_url(site: admin.AdminSite, name: str, urlconf: str, *args: object) -> str:
    return reverse(f"{site.name}:{name}", urlconf=urlconf, args=args)


def model_url(site: admin.AdminSite, model: type[Model], page: str, urlconf: str,
              *args: object) -> str:
    meta = model._meta
    return admin_url(site, f"{meta.app_label}_{meta.model_name}_{page}", urlconf, *args)


def registry(site: admin.AdminSite) -> list[tuple[type[Model], ModelAdmin]]:
    items = sorted(site._registry.items(), key=lambda item: item[0]._meta.label)
    assert items, f"{site.name} has no registered models"
    return items


def can_add(model_admin: ModelAdmin, operator: User) -> bool:
    request = RequestFactory().get("/")
    request.user = operator
    return model_admin.has_add_permission(request)


def assert_ok(response, url: str) -> None:
    assert response.status_code == 200, f"{url}: {response.status_code}"
    # The test client re-raises a view's exception ("relation ... does not exist" among
    # them), so a 200 here means the page rendered.


# ---------------------------------------------------------------- objects to open

def _task() -> Model:
    from django_dramatiq.models import Task
    from dramatiq import Message

    message = Message(queue_name="default", actor_name="noop", args=(), kwargs={}, options={},
                      message_id=str(uuid.uuid4()))
    return Task.tasks.create_or_update_from_message(message, actor_name="noop",
                                                    queue_name="default")


PUBLIC_FACTORIES: dict[str, Callable[[], Model]] = {
    "auth.Group": lambda: Group.objects.create(name="Operators"),
    "hosting.Host": lambda: Host.objects.create(name="edge-1", address="10.0.0.7"),
    "hosting.PortAllocation": lambda: PortAllocation.objects.create(
        port=41234, schema_name="ws_team_a", deployment_id=1, process_name="ws_team_a-web-1"
    ),
    "hosting.GeneratedDomain": lambda: GeneratedDomain.objects.create(
        label="web-team-a-x1y2z", schema_name="ws_team_a", service_id=1,
    ),
    "hosting.CustomDomain": lambda: CustomDomain.objects.create(
        hostname="shop.example.com", schema_name="ws_team_a", service_id=1,
    ),
    "hosting.Route": lambda: Route.objects.create(
        hostname="web-team-a.apps.localhost", upstream="127.0.0.1:41234",
        schema_name="ws_team_a", service_id=1, deployment_id=1,
    ),
    "hosting.LogCursor": lambda: LogCursor.objects.create(
        host_name="edge-1", path="/srv/apps/logs/ws_team_a/1/2/web-0.out.log", inode=42,
        offset=1024,
    ),
    "django_dramatiq.Task": _task,
    "tenants.AuditEvent": lambda: AuditEvent.objects.create(
        workspace=Workspace.objects.get(slug="team-a"), action=AuditAction.STOPPED,
        actor_email="owner@a.example", target="web",
    ),
    # The GitHub tables, by label (tenants does not import github).
    "github.WebhookDelivery": lambda: apps.get_model("github", "WebhookDelivery").objects.create(
        workspace=Workspace.objects.get(slug="team-a"), delivery_id="d-1", event="ping",
        body_sha256="0" * 64, outcome="ping", payload={"token": "SECRETBYTES"},
    ),
    "github.RepositoryHook": lambda: apps.get_model("github", "RepositoryHook").objects.create(
        workspace=Workspace.objects.get(slug="team-a"), repository="acme/shop", hook_id=7,
    ),
    "github.GitHubAccount": lambda: apps.get_model("github", "GitHubAccount").objects.create(
        user=User.objects.get(email="owner@a.example"), github_id=1, login="olive",
        token_ciphertext=SECRET,
    ),
    "tenants.Invitation": lambda: Invitation.objects.create(
        workspace=Workspace.objects.get(slug="team-a"), email="invited@a.example",
        token_hash="0" * 64, expires_at=timezone.now() + timedelta(days=7),
    ),
}


def seed_workspace(workspace: Workspace) -> dict[str, Model]:
    """One object of each workspace model, a secret variable among them (in `workspace`)."""
    with tenant_context(workspace):
        project = create_project("Storefront", "The shop")
        environment = project.environments.get()
        service = create_service(environment, "web", repository_url="https://github.com/acme/shop")
        deployment = Deployment.objects.create(service=service, number=1, commit_sha="abc123",
                                               variables_snapshot=SECRET)
        logstore.append(deployment.pk, service.pk, 7, [logstore.NewLine("npm ci", "build")])
        variable = Variable.objects.create(service=service, key="DATABASE_PASSWORD",
                                           ciphertext=SECRET)
        shared = Variable.objects.create(environment=environment, key="SHARED_TOKEN",
                                         ciphertext=SECRET)
        delivery = WebhookDelivery.objects.create(delivery_id="d-1", event="push",
                                                  outcome="deployed")
        reveal = VariableReveal.objects.create(owner_type="service", owner_id=service.pk,
                                               key="DATABASE_PASSWORD", user_id=1,
                                               user_email="owner@a.example")
    return {
        "projects.Project": project, "projects.Environment": environment,
        "projects.Service": service, "projects.Variable": variable,
        "deployments.Deployment": deployment, "deployments.WebhookDelivery": delivery,
        "projects.VariableReveal": reveal,
        "shared_variable": shared,
    }


# ---------------------------------------------------------------- root domain admin

def test_root_admin_index_and_app_indexes(people, operator):
    client = operator_client(operator)
    assert_ok(client.get("/admin/"), "/admin/")
    for app_label in sorted({model._meta.app_label for model, _ in registry(admin.site)}):
        url = admin_url(admin.site, "app_list", PUBLIC_URLS, app_label)
        assert_ok(client.get(url), url)


@pytest.mark.parametrize(
    "label", sorted(model._meta.label for model in admin.site._registry)
)
def test_every_root_admin_page_answers_200(people, operator, label):
    model, model_admin = next(
        (m, a) for m, a in admin.site._registry.items() if m._meta.label == label
    )
    client = operator_client(operator)
    obj = model._default_manager.first()
    if obj is None:
        assert label in PUBLIC_FACTORIES, f"add a factory for {label} to PUBLIC_FACTORIES"
        obj = PUBLIC_FACTORIES[label]()

    for url in [model_url(admin.site, model, "changelist", PUBLIC_URLS),
                model_url(admin.site, model, "changelist", PUBLIC_URLS) + "?q=x",
                model_url(admin.site, model, "change", PUBLIC_URLS, obj.pk),
                model_url(admin.site, model, "history", PUBLIC_URLS, obj.pk)]:
        assert_ok(client.get(url), url)
    delete_url = model_url(admin.site, model, "delete", PUBLIC_URLS, obj.pk)
    request = RequestFactory().get("/")
    request.user = operator
    expected = 200 if model_admin.has_delete_permission(request, obj) else 403
    assert client.get(delete_url).status_code == expected, delete_url
    add_url = model_url(admin.site, model, "add", PUBLIC_URLS)
    if can_add(model_admin, operator):
        assert_ok(client.get(add_url), add_url)
    else:
        assert client.get(add_url).status_code == 403


def test_autocomplete_finds_users_and_workspaces(people, operator):
    client = operator_client(operator)
    url = reverse("admin:autocomplete", urlconf=PUBLIC_URLS)
    users = client.get(url, {"app_label": "tenants", "model_name": "membership",
                             "field_name": "user", "term": "mia"}).json()
    assert [row["text"] for row in users["results"]] == ["member@a.example"]
    workspaces = client.get(url, {"app_label": "tenants", "model_name": "membership",
                                  "field_name": "workspace", "term": "team-b"}).json()
    assert [row["text"] for row in workspaces["results"]] == ["Team B"]


def test_deleting_a_workspace_in_the_admin_drops_its_schema(people, operator):
    client = operator_client(operator)
    assert "ws_team_b" in schemas()
    url = model_url(admin.site, Workspace, "delete", PUBLIC_URLS, people.workspace_b.pk)
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Workspace.objects.filter(slug="team-b").exists()
    assert "ws_team_b" not in schemas()
    assert "ws_team_a" in schemas()
    assert Client(HTTP_HOST="team-b.panel.localhost").get("/").status_code == 404


def test_operator_deletes_a_user(people, operator):
    client = operator_client(operator)
    url = model_url(admin.site, User, "delete", PUBLIC_URLS, people.member.pk)
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=people.member.pk).exists()
    assert people.workspace_a.memberships.count() == 2


def test_root_admin_is_closed_to_members(people, client_for):
    response = client_for(people.owner).get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    response = client_for(people.owner).get("/admin/tenants/workspace/")
    assert response.status_code == 302


def test_workspace_change_page_lists_its_projects_and_services(people, operator):
    seed_workspace(people.workspace_a)
    with tenant_context(people.workspace_b):
        create_project("Other team's project")
    client = operator_client(operator)

    url = model_url(admin.site, Workspace, "change", PUBLIC_URLS, people.workspace_a.pk)
    response = client.get(url)
    assert_ok(response, url)
    body = response.content.decode()
    assert "Storefront" in body
    assert "production" in body
    assert "web (#1 queued)" in body
    assert "Other team&#x27;s project" not in body and "Other team's project" not in body
    assert 'href="http://team-a.panel.localhost/admin/"' in body

    other = client.get(model_url(admin.site, Workspace, "change", PUBLIC_URLS,
                                 people.workspace_b.pk)).content.decode()
    assert "Other team&#x27;s project" in other
    assert "Storefront" not in other


def test_workspace_changelist_searches_by_name_and_slug(people, operator):
    client = operator_client(operator)
    url = model_url(admin.site, Workspace, "changelist", PUBLIC_URLS)
    body = client.get(url + "?q=team-b").content.decode()
    assert "Team B" in body and "Team A" not in body


def _workspace_add_data(**fields: str) -> dict[str, str]:
    data = {"name": "Gamma", "slug": "gamma"}
    for prefix in ["memberships", "domains"]:
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0",
                     f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    data.update(fields)
    return data


def schemas() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def test_operator_adds_a_workspace_in_the_admin(people, operator):
    client = operator_client(operator)
    url = model_url(admin.site, Workspace, "add", PUBLIC_URLS)
    page = client.get(url).content.decode()
    assert 'name="slug"' in page and 'name="schema_name"' not in page

    response = client.post(url, _workspace_add_data(name="Gamma", slug="gamma"))
    assert response.status_code == 302, response.content.decode()[:3000]
    workspace = Workspace.objects.get(slug="gamma")
    assert workspace.schema_name == "ws_gamma"
    assert "ws_gamma" in schemas()
    assert workspace.domains.get().domain == "gamma.panel.localhost"
    # The new schema is a working workspace: its admin opens and lists its (no) projects.
    response = operator_client(operator, workspace).get(
        model_url(workspace_admin, Project, "changelist", TENANT_URLS))
    assert response.status_code == 200
    assert "0 projects" in response.content.decode()


@pytest.mark.parametrize("slug", ["admin", "team-a", "Bad_Slug", "-lead"])
def test_admin_refuses_the_slugs_the_signup_flow_refuses(people, operator, slug):
    client = operator_client(operator)
    before, before_schemas = Workspace.objects.count(), schemas()
    response = client.post(model_url(admin.site, Workspace, "add", PUBLIC_URLS),
                           _workspace_add_data(slug=slug))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["slug"]
    assert 'id="id_slug_error"' in response.content.decode()
    assert Workspace.objects.count() == before
    assert schemas() == before_schemas


class FormFields(HTMLParser):
    """The values a browser would submit from the page's forms (inputs, selects, textareas)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in {"submit", "button", "file"}:
            if a.get("type") in {"checkbox", "radio"} and "checked" not in a:
                return
            self.data.setdefault(name, []).append(a.get("value") or "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select].append(a.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_data(response) -> dict[str, list[str]]:
    parser = FormFields()
    parser.feed(response.content.decode())
    return parser.data


def test_operator_renames_and_suspends_a_workspace_on_its_change_page(people, operator,
                                                                       client_for):
    client = operator_client(operator)
    url = model_url(admin.site, Workspace, "change", PUBLIC_URLS, people.workspace_a.pk)
    data = form_data(client.get(url))
    assert "slug" not in data and "schema_name" not in data
    data.update(name=["Team A renamed"], suspended=["on"])
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    workspace = Workspace.objects.get(pk=people.workspace_a.pk)
    assert (workspace.name, workspace.slug, workspace.suspended) == (
        "Team A renamed", "team-a", True)
    assert workspace.memberships.count() == 3
    assert client_for(people.owner, workspace).get("/").status_code == 403


def _run_action(client: Client, action: str, *workspaces: Workspace):
    url = model_url(admin.site, Workspace, "changelist", PUBLIC_URLS)
    return client.post(url, {"action": action,
                             "_selected_action": [str(w.pk) for w in workspaces]}, follow=True)


def test_suspend_and_resume_actions(people, operator, client_for):
    client = operator_client(operator)
    response = _run_action(client, "suspend", people.workspace_a)
    assert response.status_code == 200
    assert "Suspended 1 workspace(s)." in response.content.decode()
    people.workspace_a.refresh_from_db()
    people.workspace_b.refresh_from_db()
    assert people.workspace_a.suspended and not people.workspace_b.suspended

    page = client_for(people.member, people.workspace_a).get("/")
    assert page.status_code == 403
    assert b"Team A is suspended" in page.content
    assert client_for(people.outsider, people.workspace_b).get("/").status_code == 200

    response = _run_action(client, "resume", people.workspace_a)
    assert "Resumed 1 workspace(s)." in response.content.decode()
    page = client_for(people.member, people.workspace_a).get("/")
    assert page.status_code == 200
    assert b"is suspended" not in page.content


# ---------------------------------------------------------------- workspace admin

def test_workspace_admin_index_for_an_operator_who_is_not_a_member(people, operator):
    client = operator_client(operator, people.workspace_a)
    response = client.get("/admin/")
    assert_ok(response, "/admin/")
    assert "Workspace: Team A (team-a)" in response.content.decode()
    for app_label in sorted({model._meta.app_label for model, _ in registry(workspace_admin)}):
        url = admin_url(workspace_admin, "app_list", TENANT_URLS, app_label)
        assert_ok(client.get(url), url)


@pytest.mark.parametrize(
    "label", sorted(model._meta.label for model in workspace_admin._registry)
)
def test_every_workspace_admin_page_answers_200_and_hides_secrets(people, operator, label):
    model, model_admin = next(
        (m, a) for m, a in workspace_admin._registry.items() if m._meta.label == label
    )
    objects = seed_workspace(people.workspace_a)
    assert label in objects, f"add an object of {label} to seed_workspace()"
    obj = objects[label]
    client = operator_client(operator, people.workspace_a)

    urls = [model_url(workspace_admin, model, "changelist", TENANT_URLS),
            model_url(workspace_admin, model, "changelist", TENANT_URLS) + "?q=x",
            model_url(workspace_admin, model, "change", TENANT_URLS, obj.pk),
            model_url(workspace_admin, model, "history", TENANT_URLS, obj.pk)]
    add_url = model_url(workspace_admin, model, "add", TENANT_URLS)
    if can_add(model_admin, operator):
        urls.append(add_url)
    else:
        assert client.get(add_url).status_code == 403
    if model is Variable:
        urls.append(model_url(workspace_admin, model, "change", TENANT_URLS,
                              objects["shared_variable"].pk))
        urls.append(model_url(workspace_admin, model, "delete", TENANT_URLS, obj.pk))
    for url in urls:
        response = client.get(url)
        assert_ok(response, url)
        for secret in SECRET_FORMS:
            assert secret not in response.content, f"{url} shows a secret value"


def test_variable_page_shows_keys_not_values(people, operator):
    objects = seed_workspace(people.workspace_a)
    client = operator_client(operator, people.workspace_a)
    response = client.get(model_url(workspace_admin, Variable, "changelist", TENANT_URLS))
    assert b"DATABASE_PASSWORD" in response.content
    assert b"SHARED_TOKEN" in response.content
    assert SECRET not in response.content
    # Read-only: a POST cannot replace the value either.
    variable = objects["projects.Variable"]
    url = model_url(workspace_admin, Variable, "change", TENANT_URLS, variable.pk)
    client.post(url, {"key": "RENAMED", "ciphertext": "changed"})
    with tenant_context(people.workspace_a):
        variable.refresh_from_db()
    assert (variable.key, bytes(variable.ciphertext)) == ("DATABASE_PASSWORD", SECRET)


def test_workspace_admin_shows_only_this_workspace(people, operator):
    seed_workspace(people.workspace_a)
    with tenant_context(people.workspace_b):
        create_project("Team B only")
    url = model_url(workspace_admin, Project, "changelist", TENANT_URLS)
    body_a = operator_client(operator, people.workspace_a).get(url).content.decode()
    body_b = operator_client(operator, people.workspace_b).get(url).content.decode()
    assert "Storefront" in body_a and "Team B only" not in body_a
    assert "Team B only" in body_b and "Storefront" not in body_b


def test_operator_can_add_a_project_in_the_workspace_admin(people, operator):
    client = operator_client(operator, people.workspace_a)
    url = model_url(workspace_admin, Project, "add", TENANT_URLS)
    response = client.post(url, {
        "name": "Added by operator", "description": "",
        "environments-TOTAL_FORMS": "0", "environments-INITIAL_FORMS": "0",
        "environments-MIN_NUM_FORMS": "0", "environments-MAX_NUM_FORMS": "1000",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(people.workspace_a):
        assert Project.objects.filter(name="Added by operator").exists()
    with tenant_context(people.workspace_b):
        assert not Project.objects.filter(name="Added by operator").exists()


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_workspace_admin_is_closed_to_non_staff_members(people, client_for, role):
    seed_workspace(people.workspace_a)
    client = client_for(getattr(people, role), people.workspace_a)
    for url in ["/admin/", model_url(workspace_admin, Project, "changelist", TENANT_URLS),
                model_url(workspace_admin, Variable, "changelist", TENANT_URLS)]:
        response = client.get(url)
        assert response.status_code in (302, 404), f"{url}: {response.status_code}"
        if response.status_code == 302:
            assert "/admin/login/" in response["Location"]
        assert b"Storefront" not in response.content
        assert b"DATABASE_PASSWORD" not in response.content


def test_workspace_admin_is_404_for_outsiders(people, client_for):
    seed_workspace(people.workspace_a)
    client = client_for(people.outsider, people.workspace_a)
    for url in ["/admin/", "/admin/login/",
                model_url(workspace_admin, Project, "changelist", TENANT_URLS)]:
        response = client.get(url)
        assert response.status_code == 404, f"{url}: {response.status_code}"
        assert b"Team A" not in response.content
        assert b"Storefront" not in response.content


def test_staff_without_superuser_cannot_read_variables_of_a_workspace(people):
    """Staff without permissions reach the workspace admin index but not the data."""
    staff = User.objects.create_user("staff@panel.example", "x" * 20, is_staff=True)
    seed_workspace(people.workspace_a)
    client = Client(HTTP_HOST=people.workspace_a.hostname)
    client.force_login(staff)
    response = client.get(model_url(workspace_admin, Variable, "changelist", TENANT_URLS))
    assert response.status_code == 403
    assert b"DATABASE_PASSWORD" not in response.content


def test_root_admin_does_not_serve_workspace_models(people, operator):
    client = operator_client(operator)
    for model in workspace_admin._registry:
        meta = model._meta
        response = client.get(f"/admin/{meta.app_label}/{meta.model_name}/")
        assert response.status_code == 404, meta.label
