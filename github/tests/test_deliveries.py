"""What happens to a recorded delivery: the worker's handling (once, failures without detail,
payload emptied), pull requests to the previews, the Settings → GitHub page, and the endpoint's
edges through the real ASGI server (chunked bodies over the limit, concurrent duplicates)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from conftest import FIXTURES
from deployments.models import Deployment
from github import events
from github.deliveries import record_delivery
from github.models import Outcome, WebhookDelivery
from github.signatures import signature
from github.workspaces import WEBHOOK_PATH, webhook_secret
from projects.services import create_project, create_service
from tenants.models import Workspace

PUSH_BODY = (FIXTURES / "github" / "push" / "with-new-branch.payload.json").read_bytes()
PULL_BODY = (FIXTURES / "github" / "pull_request" / "opened.payload.json").read_bytes()
PING_BODY = (FIXTURES / "github" / "ping" / "payload.json").read_bytes()
REPOSITORY_URL = "https://github.com/Codertocat/Hello-World.git"


@pytest.fixture
def service(workspace_a):
    with tenant_context(workspace_a):
        project = create_project("Hello")
        yield create_service(project.environments.get(), "web", branch="master",
                             repository_url=REPOSITORY_URL)


def recorded(workspace, body: bytes, event: str, delivery_id: str,
             captured) -> WebhookDelivery:
    with captured():
        return record_delivery(workspace, delivery_id, event, body, json.loads(body)).delivery


def test_the_worker_handles_a_push_once_and_keeps_its_deployments(
        workspace_a, service, django_capture_on_commit_callbacks):
    delivery = recorded(workspace_a, PUSH_BODY, "push", "push-1",
                        django_capture_on_commit_callbacks)
    events.handle_delivery(delivery.pk)
    events.handle_delivery(delivery.pk)  # the same message, delivered again
    delivery.refresh_from_db()
    with tenant_context(workspace_a):
        deployment = Deployment.objects.get()
    assert delivery.outcome == Outcome.DEPLOYED and delivery.payload is None
    assert delivery.deployments == [{"id": deployment.pk, "service": "web",
                                     "number": deployment.number,
                                     "environment": service.environment.name}]


def test_a_handler_that_raises_fails_the_delivery_without_detail(
        workspace_a, service, monkeypatch, django_capture_on_commit_callbacks):
    secret = webhook_secret(Workspace.objects.get(pk=workspace_a.pk))

    def boom(payload: dict) -> None:
        raise RuntimeError(f"Traceback: the secret is {secret}")

    monkeypatch.setitem(events.HANDLERS, "push", boom)
    delivery = recorded(workspace_a, PUSH_BODY, "push", "push-2",
                        django_capture_on_commit_callbacks)
    events.handle_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.FAILED and delivery.message == events.FAILED_MESSAGE
    assert secret not in delivery.message and "Traceback" not in delivery.message
    assert delivery.payload is None and delivery.deployments == []
    with tenant_context(workspace_a):
        assert not Deployment.objects.exists()


def test_a_pull_request_goes_to_the_previews(workspace_a, service,
                                              django_capture_on_commit_callbacks):
    delivery = recorded(workspace_a, PULL_BODY, "pull_request", "pull-1",
                        django_capture_on_commit_callbacks)
    events.handle_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.PREVIEW
    assert [d["environment"] for d in delivery.deployments] != []
    with tenant_context(workspace_a):
        assert Deployment.objects.filter(pk=delivery.deployments[0]["id"]).exists()


def test_admins_see_the_url_reveal_and_rotate_the_secret(people, client_for, client):
    for user in (people.owner, people.admin):
        page = client_for(user, people.workspace_a).get("/settings/github/")
        assert page.status_code == 200
        html = page.content.decode()
        assert f"team-a.{settings.PAAS_DOMAIN}" in html and WEBHOOK_PATH in html
        assert webhook_secret(Workspace.objects.get(pk=people.workspace_a.pk)) not in html
    admin = client_for(people.admin, people.workspace_a)
    old = webhook_secret(Workspace.objects.get(pk=people.workspace_a.pk))
    revealed = admin.post("/settings/github/secret/").content.decode()
    assert old in revealed
    admin.post("/settings/github/secret/rotate/", {"confirm": "rotate"})
    new = webhook_secret(Workspace.objects.get(pk=people.workspace_a.pk))
    assert new != old

    def ping(secret: str) -> int:
        return client.post(WEBHOOK_PATH, PING_BODY, content_type="application/json",
                           HTTP_HOST=people.workspace_a.hostname,
                           HTTP_X_HUB_SIGNATURE_256=signature(secret, PING_BODY),
                           HTTP_X_GITHUB_EVENT="ping",
                           HTTP_X_GITHUB_DELIVERY=f"ping-{secret[:6]}").status_code

    assert ping(old) == 401 and ping(new) == 200


def test_members_get_403_and_outsiders_404(people, client_for):
    member = client_for(people.member, people.workspace_a)
    assert member.get("/settings/github/").status_code == 403
    assert member.post("/settings/github/secret/").status_code == 403
    assert member.post("/settings/github/secret/rotate/",
                       {"confirm": "rotate"}).status_code == 403
    outsider = client_for(people.outsider, people.workspace_a)
    assert outsider.get("/settings/github/").status_code == 404
    assert outsider.post("/settings/github/secret/").status_code == 404


def test_the_deliveries_table(people, service, client_for, django_capture_on_commit_callbacks):
    delivery = recorded(people.workspace_a, PUSH_BODY, "push", "push-table",
                        django_capture_on_commit_callbacks)
    events.handle_delivery(delivery.pk)
    delivery.refresh_from_db()
    html = client_for(people.owner, people.workspace_a).get("/settings/github/").content.decode()
    assert "push-table" in html and "Deployed" in html and ">push" in html
    assert delivery.received_at.strftime("%Y") in html
    assert f"/deployments/{delivery.deployments[0]['id']}/" in html
    assert "Redeliver" in html


def test_a_suspended_workspace_is_refused_and_records_nothing(client, workspace_a):
    workspace = Workspace.objects.get(pk=workspace_a.pk)
    secret = webhook_secret(workspace)
    workspace.suspend()
    response = client.post(WEBHOOK_PATH, PING_BODY, content_type="application/json",
                           HTTP_HOST=workspace_a.hostname,
                           HTTP_X_HUB_SIGNATURE_256=signature(secret, PING_BODY),
                           HTTP_X_GITHUB_EVENT="ping", HTTP_X_GITHUB_DELIVERY="ping-s")
    assert response.status_code == 403
    assert not WebhookDelivery.objects.exists()


@pytest.fixture
def served(panel_server: str, committed_db) -> Iterator[tuple[str, Workspace, str]]:
    workspace = Workspace.objects.get(pk=committed_db.workspace_a.pk)
    secret = webhook_secret(workspace)
    url = panel_server.replace(f"//{settings.PAAS_DOMAIN}", "//127.0.0.1") + WEBHOOK_PATH
    try:
        yield url, workspace, secret
    finally:
        WebhookDelivery.objects.filter(workspace=workspace).delete()


def test_a_chunked_body_over_the_limit_is_413(served):
    url, workspace, secret = served

    def chunks() -> Iterator[bytes]:
        block = b" " * (1024 * 1024)
        for _ in range(settings.GITHUB_WEBHOOK_MAX_BYTES // len(block) + 2):
            yield block

    response = httpx.post(url, content=chunks(), timeout=60,
                          headers={"Host": workspace.hostname, "X-GitHub-Event": "ping",
                                   "X-GitHub-Delivery": "big-1",
                                   "X-Hub-Signature-256": signature(secret, b"{}")})
    assert response.status_code == 413
    assert not WebhookDelivery.objects.filter(workspace=workspace).exists()


def test_two_identical_deliveries_at_once_record_one(served):
    url, workspace, secret = served
    headers = {"Host": workspace.hostname, "X-GitHub-Event": "push",
               "X-GitHub-Delivery": "race-1", "Content-Type": "application/json",
               "X-Hub-Signature-256": signature(secret, PUSH_BODY)}
    statuses: list[int] = []
    start = threading.Barrier(2)

    def send() -> None:
        start.wait()
        statuses.append(httpx.post(url, content=PUSH_BODY, headers=headers,
                                   timeout=30).status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 202]  # 202: recorded and enqueued; 200: the stored one
    assert WebhookDelivery.objects.filter(workspace=workspace, delivery_id="race-1").count() == 1
