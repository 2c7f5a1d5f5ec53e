"""Fixtures of the API's tests: a project with a service and a deployment in workspace A,
and API clients for each kind of caller."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from api.models import ApiToken
from api.tokens import create_token
from deployments.models import Deployment, Status
from projects.models import Environment, Project, Service
from projects.services import create_project, create_service


@dataclass
class Objects:
    project: Project
    environment: Environment
    service: Service
    deployment: Deployment


@pytest.fixture
def objects(people) -> Objects:
    with tenant_context(people.workspace_a):
        project = create_project("Shop")
        environment = project.environments.get()
        service = create_service(environment, "web",
                                 repository_url="https://example.com/shop.git")
        deployment = Deployment.objects.create(service=service, number=1, status=Status.QUEUED)
    return Objects(project, environment, service, deployment)


class ApiClient(Client):
    """A test client on a workspace's host that sends JSON bodies."""

    def call(self, method: str, path: str, data: object = None, **extra: object):
        body = json.dumps(data) if data is not None else None
        kwargs = {"content_type": "application/json"} if body is not None else {}
        return getattr(self, method.lower())(path, body, **kwargs, **extra) if body is not None \
            else getattr(self, method.lower())(path, **extra)


def token_client(workspace, token: str) -> ApiClient:
    return ApiClient(HTTP_HOST=workspace.hostname, HTTP_AUTHORIZATION=f"Bearer {token}")


def session_client(workspace, user=None) -> ApiClient:
    client = ApiClient(HTTP_HOST=workspace.hostname)
    if user is not None:
        client.force_login(user)
    return client


CALLERS = ["owner", "admin", "member", "owner_token", "admin_token", "member_token",
           "outsider", "anonymous", "token_of_b", "expired_token", "revoked_token"]
ROLE_OF = {"owner": "owner", "admin": "admin", "member": "member", "owner_token": "owner",
           "admin_token": "admin", "member_token": "member"}


@pytest.fixture
def caller(people):
    """caller(name): an ApiClient for workspace A as that kind of caller."""

    def make(name: str) -> ApiClient:
        a = people.workspace_a
        if name in ("owner", "admin", "member", "outsider"):
            return session_client(a, getattr(people, name))
        if name == "anonymous":
            return session_client(a)
        if name.endswith("_token") and name.split("_")[0] in ("owner", "admin", "member"):
            return token_client(a, create_token(a, getattr(people, name.split("_")[0]),
                                                name, 30)[1])
        if name == "token_of_b":
            return token_client(a, create_token(people.workspace_b, people.outsider,
                                                "b", 30)[1])
        row, token = create_token(a, people.owner, name, 30)
        if name == "expired_token":
            ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now()
                                                      - timedelta(seconds=1))
        elif name == "revoked_token":
            row.revoke()
        return token_client(a, token)

    return make


def error_of(response) -> dict:
    """The error object of an API answer, checking the one format."""
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    payload = response.json()
    assert set(payload) == {"error"}, payload
    assert {"code", "message"} <= set(payload["error"]) <= {"code", "message", "fields"}
    assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
    return payload["error"]
