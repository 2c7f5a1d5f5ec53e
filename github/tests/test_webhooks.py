"""The webhook endpoint as GitHub (and an attacker) sees it: signed fixture payloads posted
to a workspace's host."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES
from github.models import Outcome, WebhookDelivery
from github.signatures import signature
from github.workspaces import WEBHOOK_PATH, rotate_webhook_secret, webhook_secret
from tenants.models import Workspace

PING = (FIXTURES / "github" / "ping" / "payload.json").read_bytes()
PUSH = (FIXTURES / "github" / "push" / "with-new-branch.payload.json").read_bytes()


def post(client, workspace, body: bytes, event: str = "ping", delivery: str = "d-1",
         secret: str | None = None, **headers: str):
    fresh = Workspace.objects.get(pk=workspace.pk)  # the session's object outlives rollbacks
    sign = signature(secret if secret is not None else webhook_secret(fresh), body)
    extra = {"HTTP_X_HUB_SIGNATURE_256": sign, "HTTP_X_GITHUB_EVENT": event,
             "HTTP_X_GITHUB_DELIVERY": delivery, **headers}
    return client.post(WEBHOOK_PATH, body, content_type="application/json",
                       HTTP_HOST=workspace.hostname, **{k: v for k, v in extra.items() if v})


def test_ping_answers_200_and_is_recorded(client, workspace_a):
    response = post(client, workspace_a, PING)
    assert response.status_code == 200
    assert response.json()["outcome"] == "ping"
    assert WebhookDelivery.objects.get(workspace=workspace_a).outcome == Outcome.PING


@pytest.mark.parametrize("header", ["", "sha256=" + "0" * 64])
def test_a_missing_or_wrong_signature_is_401_and_records_nothing(
        client, workspace_a, header, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(WEBHOOK_PATH, PUSH, content_type="application/json",
                               HTTP_HOST=workspace_a.hostname, HTTP_X_GITHUB_EVENT="push",
                               HTTP_X_GITHUB_DELIVERY="d-2",
                               **({"HTTP_X_HUB_SIGNATURE_256": header} if header else {}))
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists() and not callbacks


def test_a_rotated_secret_refuses_the_old_one(client, workspace_a):
    workspace = Workspace.objects.get(pk=workspace_a.pk)
    old = webhook_secret(workspace)
    rotate_webhook_secret(workspace)
    assert post(client, workspace_a, PING, secret=old).status_code == 401
    assert post(client, workspace_a, PING).status_code == 200


def test_bad_input(client, workspace_a):
    assert post(client, workspace_a, b"{not json").status_code == 400
    assert post(client, workspace_a, b"[1]").status_code == 400
    assert post(client, workspace_a, PING, event="").status_code == 400
    assert post(client, workspace_a, PING, delivery="").status_code == 400
    assert client.get(WEBHOOK_PATH, HTTP_HOST=workspace_a.hostname).status_code == 405
    assert client.post(WEBHOOK_PATH, PING, content_type="application/json",
                       HTTP_HOST="nope.panel.localhost").status_code == 404
    too_large = post(client, workspace_a, PING, CONTENT_LENGTH=str(26 * 1024 * 1024))
    assert too_large.status_code == 413
    assert not WebhookDelivery.objects.exists()


def test_push_is_queued_once_and_a_redelivery_returns_the_stored_outcome(
        client, workspace_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = post(client, workspace_a, PUSH, event="push")
        again = post(client, workspace_a, PUSH, event="push")
    assert first.status_code == 202 and again.status_code == 200
    assert len(callbacks) == 1
    other = json.loads(PUSH)
    other["after"] = "f" * 40
    assert post(client, workspace_a, json.dumps(other).encode(), event="push").status_code == 409


def test_other_events_are_ignored(client, workspace_a):
    response = post(client, workspace_a, PING, event="star")
    assert response.status_code == 202 and response.json()["outcome"] == "ignored"
