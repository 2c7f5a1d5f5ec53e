"""The repository webhook, as the user and GitHub see it: connecting a service to a repository
its user administers creates the webhook (once per workspace and repository), with the
workspace's URL and secret; otherwise the user is told how to add it by hand, and rotating the
secret gives it to the webhooks the panel created. The fake GitHub delivers to a live panel."""

from __future__ import annotations

import html
import json
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django_tenants.utils import tenant_context

from conftest import FIXTURES
from github import client
from github.models import GitHubAccount, RepositoryHook, WebhookDelivery
from github.workspaces import webhook_secret, webhook_url
from projects.models import Environment, Service
from projects.services import create_project
from tenants.models import AuditAction, AuditEvent, Workspace

SETTINGS_FIELDS = {"branch": "main", "build_timeout": "15", "instances": "1",
                   "healthcheck_timeout": "30", "restart_policy": "on-failure",
                   "max_restarts": "5"}
PUSH = json.loads((FIXTURES / "github" / "push" / "payload.json").read_text())


@pytest.fixture
def ada(people, fake_github):
    """The workspace's admin, signed in with GitHub as "ada": an admin of ada/shop, who may
    only read olive/site."""
    user = fake_github.add_user("ada", 303)
    fake_github.add_repo("ada/shop", admins={"ada"})
    fake_github.add_repo("olive/site", readers={"ada"})
    account = GitHubAccount(user=people.admin, github_id=303, login="ada")
    account.set_tokens(fake_github.issue_token(user))
    account.save()
    return account


@pytest.fixture
def admin(people, client_for, workspace_a):
    return client_for(people.admin, workspace_a)


@pytest.fixture
def environment(workspace_a):
    with tenant_context(workspace_a):
        return Environment.objects.get(project=create_project("shop"))


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def create(admin, environment, name="web", repository="ada/shop"):
    """The "New service" form, saved; the page it leads to."""
    return admin.post(f"/environments/{environment.pk}/services/new/", {
        "name": name, "repository_url": "", "branch": "main",
        "github_repository": repository}, follow=True)


def service_named(workspace, name):
    with tenant_context(workspace):
        return Service.objects.get(name=name)


def secret_of(workspace: Workspace) -> str:
    """The workspace's secret as stored now (a fixture's instance may predate it, and
    webhook_secret would make it a new one)."""
    return webhook_secret(Workspace.objects.get(pk=workspace.pk))


def hook_posts(fake_github) -> int:
    return sum(1 for method, path in fake_github.requests
               if method == "POST" and path.endswith("/hooks"))


def test_connecting_a_repository_creates_its_webhook(admin, ada, environment, workspace_a,
                                                     fake_github, people):
    response = create(admin, environment)
    assert response.status_code == 200
    assert "Webhook created on GitHub: pushes and pull requests of ada/shop" in text_of(response)
    [hook] = fake_github.hooks
    assert hook["repository"] == "ada/shop" and hook["active"] is True
    assert sorted(hook["events"]) == ["pull_request", "push"]
    assert hook["config"] == {"url": webhook_url(workspace_a), "content_type": "json",
                              "secret": secret_of(workspace_a), "insecure_ssl": "0"}
    url = urlsplit(hook["config"]["url"])
    assert (url.hostname, url.path) == (workspace_a.hostname, "/webhooks/github/")
    row = RepositoryHook.objects.get(workspace=workspace_a, repository="ada/shop")
    assert (row.hook_id, row.created_by) == (hook["id"], people.admin)
    assert AuditEvent.objects.filter(workspace=workspace_a, action=AuditAction.CREATED,
                                     target_type="repositoryhook").exists()


def test_the_settings_form_connects_and_the_page_says_the_webhook_exists(
        admin, ada, environment, workspace_a, fake_github):
    create(admin, environment, repository="")
    service = service_named(workspace_a, "web")
    assert not fake_github.hooks
    response = admin.post(f"/services/{service.pk}/settings/", {
        **SETTINGS_FIELDS, "repository_url": "", "github_repository": "ada/shop"}, follow=True)
    page = text_of(response)
    assert "Settings saved" in page and "Webhook created on GitHub" in page
    assert len(fake_github.hooks) == 1
    assert 'data-testid="repository-webhook" data-state="created"' in page
    assert "Webhook: created on GitHub" in page and webhook_url(workspace_a) in page


def test_a_second_service_of_the_same_repository_creates_no_second_webhook(
        admin, ada, environment, workspace_a, fake_github):
    create(admin, environment, name="web")
    response = create(admin, environment, name="worker")
    assert response.status_code == 200
    assert service_named(workspace_a, "worker").github_repository == "ada/shop"
    assert len(fake_github.hooks) == 1 and hook_posts(fake_github) == 1
    assert "Webhook created" not in text_of(response)
    assert RepositoryHook.objects.filter(workspace=workspace_a).count() == 1


def test_a_reader_of_the_repository_is_told_to_add_the_webhook_by_hand(
        admin, ada, environment, workspace_a, fake_github):
    page = text_of(create(admin, environment, repository="olive/site"))
    assert "The panel did not create the webhook of olive/site." in page
    assert "Your GitHub account is not an admin of the repository." in page
    assert f"payload URL {webhook_url(workspace_a)}" in page
    assert "content type application/json, events push and pull_request" in page
    assert f"Settings → GitHub ({reverse('github_settings')})" in page
    assert secret_of(workspace_a) not in page
    assert not fake_github.hooks and hook_posts(fake_github) == 0
    assert not RepositoryHook.objects.filter(workspace=workspace_a).exists()

    service = service_named(workspace_a, "web")
    settings_page = text_of(admin.get(f"/services/{service.pk}/settings/"))
    assert 'data-testid="repository-webhook" data-state="manual"' in settings_page
    assert "No webhook the panel created: add one by hand" in settings_page
    assert webhook_url(workspace_a) in settings_page
    assert f'href="{reverse("github_settings")}"' in settings_page
    assert secret_of(workspace_a) not in settings_page

    # Once the webhook added by hand delivers, the page says events arrive.
    WebhookDelivery.objects.create(workspace=workspace_a, delivery_id="by-hand-1",
                                   event="push", body_sha256="0" * 64,
                                   repository="olive/site")
    settings_page = text_of(admin.get(f"/services/{service.pk}/settings/"))
    assert 'data-testid="repository-webhook" data-state="by-hand"' in settings_page
    assert "Webhook: added on GitHub by hand." in settings_page


def test_a_service_without_a_github_repository_shows_no_webhook_block(
        admin, ada, environment, workspace_a):
    create(admin, environment, repository="")
    service = service_named(workspace_a, "web")
    assert 'data-testid="repository-webhook"' not in text_of(
        admin.get(f"/services/{service.pk}/settings/"))


def test_an_expired_token_is_a_warning_and_the_service_is_saved(
        admin, ada, environment, workspace_a, fake_github, monkeypatch):
    """The token passes the form's check, then expires before the webhook is created."""
    original = client.create_hook

    def expiring(token, *args):
        fake_github.revoke(token)
        return original(token, *args)

    monkeypatch.setattr(client, "create_hook", expiring)
    response = create(admin, environment)
    page = text_of(response)
    assert response.status_code == 200
    assert "Service web created." in page
    assert "Your GitHub authorization has expired: sign in with GitHub again." in page
    assert "Add it on GitHub by hand" in page
    assert service_named(workspace_a, "web").github_repository == "ada/shop"
    assert not fake_github.hooks
    ada.refresh_from_db()
    assert ada.state == GitHubAccount.State.EXPIRED


def test_an_existing_webhook_is_adopted_and_given_the_workspace_secret(
        admin, ada, environment, workspace_a, fake_github):
    existing = client.create_hook(ada.token(), "ada/shop", webhook_url(workspace_a), "by-hand")
    page = text_of(create(admin, environment))
    assert "ada/shop had a webhook to this workspace on GitHub already" in page
    [hook] = fake_github.hooks
    assert hook["id"] == existing
    assert hook["config"]["secret"] == secret_of(workspace_a)
    assert RepositoryHook.objects.get(workspace=workspace_a, repository="ada/shop").hook_id \
        == existing


def test_members_never_see_the_secret(admin, ada, environment, workspace_a, people, client_for):
    create(admin, environment)
    service = service_named(workspace_a, "web")
    member = client_for(people.member, workspace_a)
    secret = secret_of(workspace_a)
    for url in ("/", f"/services/{service.pk}/", f"/services/{service.pk}/settings/",
                reverse("github_settings")):
        response = member.get(url, follow=True)
        assert secret not in response.content.decode(), url
    assert member.get(f"/services/{service.pk}/settings/").status_code == 403
    assert member.get(reverse("github_settings")).status_code == 403


def test_rotation_gives_the_new_secret_to_the_webhooks_the_panel_created(
        admin, ada, environment, workspace_a, fake_github, people):
    create(admin, environment)
    old = secret_of(workspace_a)
    RepositoryHook.objects.create(workspace=workspace_a, repository="ada/gone", hook_id=999,
                                  created_by=people.admin)  # deleted on GitHub since
    response = admin.post(reverse("github_secret_rotate"), {"confirm": "rotate"}, follow=True)
    page = text_of(response)
    new = secret_of(workspace_a)
    assert new != old
    [hook] = fake_github.hooks
    assert hook["config"]["secret"] == new
    assert hook["config"]["url"] == webhook_url(workspace_a)
    assert ("PATCH", f"/api/v3/repos/ada/shop/hooks/{hook['id']}") in fake_github.requests
    assert "The webhook the panel created on GitHub has it now." in page
    assert "for the webhooks of ada/gone: update their secret there by hand" in page
    assert new not in page and old not in page


def test_the_fake_lists_and_updates_hooks_for_admins_only(ada, fake_github):
    hook_id = client.create_hook(ada.token(), "ada/shop", "https://x.example/h", "s1")
    with pytest.raises(client.HookExists):
        client.create_hook(ada.token(), "ada/shop", "https://x.example/h", "s2")
    [listed] = client.list_hooks(ada.token(), "ada/shop").items
    assert (listed.id, listed.url) == (hook_id, "https://x.example/h")
    client.update_hook(ada.token(), "ada/shop", hook_id, "https://x.example/h", "s3")
    assert fake_github.hooks[0]["config"]["secret"] == "s3"
    for call in (lambda: client.list_hooks(ada.token(), "olive/site"),
                 lambda: client.update_hook(ada.token(), "olive/site", hook_id, "u", "s")):
        with pytest.raises(client.GitHubError) as error:
            call()
        assert error.value.status == 404


def test_deliver_reaches_the_panel_signed_with_the_hook_secret(github_panel, committed_db,
                                                               fake_github, settings):
    """A push the fake GitHub delivers to a live panel is accepted (202) and recorded; a hook
    with another secret is refused, and an event the hook does not want is not sent."""
    settings.PAAS_PANEL_URL = github_panel
    workspace = Workspace.objects.get(pk=committed_db.workspace_a.pk)
    token = fake_github.issue_token(fake_github.add_user("ada", 303))
    fake_github.add_repo("ada/shop", admins={"ada"})
    fake_github.add_repo("ada/other", admins={"ada"})
    client.create_hook(token, "ada/shop", webhook_url(workspace), webhook_secret(workspace))
    client.create_hook(token, "ada/other", webhook_url(workspace), "not-the-workspace-secret")
    try:
        assert fake_github.deliver("ada/shop", "push", PUSH) == [202]
        [sent] = fake_github.deliveries
        delivery = WebhookDelivery.objects.get(workspace=workspace,
                                               delivery_id=sent["delivery_id"])
        assert delivery.event == "push"
        assert fake_github.deliver("ada/other", "push", PUSH) == [401]
        assert fake_github.deliver("ada/shop", "issues", {}) == []
    finally:
        WebhookDelivery.objects.filter(workspace=workspace).delete()
