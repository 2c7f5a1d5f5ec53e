"""A push deploys end to end: GitHub's real push payload, pointed at a local bare repository and
signed with the workspace's secret, is posted to the endpoint; a real worker handles it, builds
the pushed commit and runs it under PM2."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from conftest import FIXTURES
from deployments.models import Deployment, Status
from deployments.tests import conftest as engine_fixtures
from deployments.tests import sample_apps
from deployments.tests.engine import get, make_service, settle, wait_for
from github.models import Outcome, WebhookDelivery
from github.signatures import signature
from github.workspaces import WEBHOOK_PATH, webhook_secret
from tenants.models import Workspace

# The deploy engine's fixtures: the run's PM2 home, a real worker (build, deploy and default
# queues: github.tasks sends to default), workspace A cleaned after.
test_apps_dir = engine_fixtures.test_apps_dir
worker, ws = engine_fixtures.worker, engine_fixtures.ws

PUSH = json.loads((FIXTURES / "github" / "push" / "with-new-branch.payload.json").read_text())


@pytest.fixture
def deliveries_cleaned(ws):
    yield ws
    WebhookDelivery.objects.filter(workspace=ws).delete()


def test_a_signed_push_deploys_the_pushed_commit(deliveries_cleaned, tmp_path):
    ws = deliveries_cleaned
    repo = sample_apps.make_repo(tmp_path, "node", sample_apps.NODE_APP)
    service = make_service(ws, repo, branch="main")
    sha = sample_apps.commit(repo, {"NOTE.md": "pushed\n"}, "A pushed change")
    payload = json.loads(json.dumps(PUSH))
    payload.update(ref="refs/heads/main", before=sample_apps.head(repo), after=sha)
    payload["repository"].update(clone_url=repo, git_url=repo, ssh_url=repo, html_url=repo)
    body = json.dumps(payload).encode()
    secret = webhook_secret(Workspace.objects.get(pk=ws.pk))

    response = Client().post(WEBHOOK_PATH, body, content_type="application/json",
                             HTTP_HOST=ws.hostname, HTTP_X_GITHUB_EVENT="push",
                             HTTP_X_GITHUB_DELIVERY="end-to-end-1",
                             HTTP_X_HUB_SIGNATURE_256=signature(secret, body))
    assert response.status_code == 202, response.content

    def handled() -> WebhookDelivery | None:
        delivery = WebhookDelivery.objects.get(workspace=ws, delivery_id="end-to-end-1")
        return delivery if delivery.outcome != Outcome.QUEUED else None

    delivery = wait_for(handled, timeout=60)
    assert delivery is not None, "the worker never handled the delivery"
    assert delivery.outcome == Outcome.DEPLOYED, delivery.message
    with tenant_context(ws):
        deployment = Deployment.objects.get(service=service)
    assert delivery.deployments == [{"id": deployment.pk, "service": "web",
                                     "number": deployment.number,
                                     "environment": service.environment.name}]
    deployment = settle(ws, deployment)
    assert deployment.status == Status.ACTIVE, deployment.error_reason
    assert deployment.commit_sha == sha
    status, answer = get(deployment.port)
    assert status == 200 and answer["deployment"] == str(deployment.pk)
