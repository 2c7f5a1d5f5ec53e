"""The browser's way in (the session, with CSRF), the OpenAPI schema and its docs page, and
the operators' create_api_token command."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.staticfiles import finders
from django.core.management import CommandError, call_command
from django.test import Client
from drf_spectacular.validation import validate_schema

from api.models import ApiToken
from api.tests.conftest import error_of, token_client
from api.tokens import create_token, hash_token
from api.urls import router

ADDED_PATHS = {"/api/v1/", "/api/v1/projects/", "/api/v1/projects/{id}/",
               "/api/v1/projects/{project_id}/environments/", "/api/v1/environments/{id}/",
               "/api/v1/services/", "/api/v1/services/{id}/", "/api/v1/deployments/",
               "/api/v1/deployments/{id}/", "/api/v1/deployments/{id}/cancel/",
               "/api/v1/deployments/{id}/rollback/", "/api/v1/deployments/{id}/logs/",
               "/api/v1/services/{owner_id}/variables/",
               "/api/v1/services/{owner_id}/variables/{key}/",
               "/api/v1/services/{owner_id}/variables/resolved/",
               "/api/v1/environments/{owner_id}/variables/",
               "/api/v1/environments/{owner_id}/variables/{key}/",
               "/api/v1/members/", "/api/v1/members/{id}/", "/api/v1/members/{id}/transfer/",
               "/api/v1/invitations/", "/api/v1/invitations/{id}/",
               "/api/v1/invitations/{id}/resend/", "/api/v1/webhook-deliveries/",
               "/api/v1/webhook-deliveries/{id}/"}


def csrf_client(people, user) -> Client:
    client = Client(HTTP_HOST=people.workspace_a.hostname, enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_a_session_write_without_the_csrf_token_is_403_json(people):
    client = csrf_client(people, people.owner)
    response = client.post("/api/v1/projects/", json.dumps({"name": "Blog"}),
                           content_type="application/json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert "CSRF" in error_of(response)["message"]


def test_a_session_write_with_the_csrf_token_works_and_reads_need_none(people):
    client = csrf_client(people, people.owner)
    assert client.get("/api/v1/projects/").status_code == 200
    page = client.get("/api/v1/docs/")  # the docs page sets the cookie and carries the token
    token = client.cookies["csrftoken"].value
    assert page.status_code == 200
    response = client.post("/api/v1/projects/", json.dumps({"name": "Blog"}),
                           content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content


def test_a_token_needs_no_csrf_token(people):
    client = Client(HTTP_HOST=people.workspace_a.hostname, enforce_csrf_checks=True)
    _, token = create_token(people.workspace_a, people.admin, "ci", 7)
    response = client.post("/api/v1/projects/", json.dumps({"name": "Blog"}),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 201


def test_the_schema_is_openapi_3_with_every_endpoint(people, client_for):
    response = client_for(people.member, people.workspace_a).get("/api/v1/schema/")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # against the OpenAPI 3 JSON schema drf-spectacular ships
    assert ADDED_PATHS <= set(schema["paths"])
    assert set(schema["components"]["securitySchemes"]) == {"token", "session"}
    assert router.registry  # the router's viewsets are all in it
    yaml = client_for(people.member, people.workspace_a).get("/api/v1/schema/?format=yaml")
    assert yaml.content.startswith(b"openapi: 3.")


def test_the_schema_describes_no_secret_and_resolved_reads_only(people, client_for):
    schema = json.loads(client_for(people.admin, people.workspace_a).get(
        "/api/v1/schema/").content)
    assert set(schema["paths"]["/api/v1/services/{owner_id}/variables/resolved/"]) == {"get"}
    components = schema["components"]["schemas"]
    assert "payload" not in components["WebhookDelivery"]["properties"]
    assert "token_hash" not in components["Invitation"]["properties"]
    assert "link" in components["InvitationSent"]["properties"]


def test_the_docs_page_loads_its_assets_from_the_panel(people, client_for):
    client = client_for(people.member, people.workspace_a)
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<style" not in html and "<script>" not in html and " style=" not in html
    assets = [part.split('"')[0] for part in html.split('="/static/')[1:]]
    assert {"drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
            "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css", "js/api_docs.js"} <= set(
        assets)
    for asset in assets:  # the panel's own static files (WhiteNoise serves them)
        assert finders.find(asset), asset
    assert "'unsafe-inline'" not in page["Content-Security-Policy"]


def test_the_docs_page_is_for_members(people, client_for):
    anonymous = client_for(None, people.workspace_a).get("/api/v1/docs/")
    assert anonymous.status_code == 401 and error_of(anonymous)
    outsider = client_for(people.outsider, people.workspace_a).get("/api/v1/docs/")
    assert outsider.status_code == 404 and error_of(outsider)


def test_create_api_token_prints_a_token_of_the_workspace(people):
    out = io.StringIO()
    call_command("create_api_token", "--workspace", "team-a", "--email", "MEMBER@a.example",
                 "--name", "deploy script", "--days", "7", stdout=out)
    token = out.getvalue().strip()
    assert token.startswith("paas_") and len(token) == 48
    row = ApiToken.objects.get(token_hash=hash_token(token))
    assert (row.user, row.workspace, row.name) == (people.member, people.workspace_a,
                                                   "deploy script")
    assert token not in repr(ApiToken.objects.values())
    response = token_client(people.workspace_a, token).get("/api/v1/")
    assert response.json()["role"] == "member"
    assert token_client(people.workspace_b, token).get("/api/v1/").status_code == 401


@pytest.mark.parametrize(("workspace", "email"), [("team-a", "outsider@b.example"),
                                                  ("nope", "owner@a.example"),
                                                  ("team-a", "nobody@a.example")])
def test_create_api_token_refuses_non_members(people, workspace, email):
    with pytest.raises(CommandError):
        call_command("create_api_token", "--workspace", workspace, "--email", email)


@pytest.mark.parametrize("path", ["/api/v1/deployments/1.5/cancel/",
                                  "/api/v1/services/-3/variables/", "/api/v1/nothing/"])
def test_a_token_write_to_no_endpoint_is_the_json_404_not_the_csrf_checks_html_403(people,
                                                                                  path):
    """Found by schemathesis: a negative or fractional id names no endpoint, and the
    catch-all 404 view was behind Django's CSRF check, which answered a token's POST, PATCH,
    PUT or DELETE there with its HTML 403 page."""
    _, token = create_token(people.workspace_a, people.owner, "ci", 7)
    client = Client(HTTP_HOST=people.workspace_a.hostname, enforce_csrf_checks=True,
                    HTTP_AUTHORIZATION=f"Bearer {token}")
    for method in ("post", "patch", "put", "delete"):
        response = getattr(client, method)(path, "{}", content_type="application/json")
        assert response.status_code == 404, (method, response.content[:100])
        assert error_of(response)["code"] == "not_found"


CONFLICTING = {("/api/v1/deployments/", "post"), ("/api/v1/deployments/{id}/cancel/", "post"),
               ("/api/v1/deployments/{id}/rollback/", "post"),
               ("/api/v1/members/{id}/", "patch"), ("/api/v1/members/{id}/", "delete"),
               ("/api/v1/members/{id}/transfer/", "post"),
               ("/api/v1/services/{owner_id}/variables/resolved/", "get"),
               ("/api/v1/environments/{id}/", "delete")}  # a project's last one


def test_the_schema_declares_the_errors_each_operation_answers(people, client_for):
    """Found by schemathesis: no operation declared its errors (400, 401, 403, 404, 429; 409
    where the state can refuse), so every error answer was an undocumented status code."""
    schema = json.loads(client_for(people.member, people.workspace_a).get(
        "/api/v1/schema/").content)
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for code in ("400", "401", "403", "404", "429"):
                assert responses[code]["content"]["application/json"]["schema"] == error, \
                    (path, method, code)
            assert ("409" in responses) == ((path, method) in CONFLICTING), (path, method)
