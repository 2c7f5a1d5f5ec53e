"""The "API tokens" page: a member makes a token, sees it once, then only its prefix, and
revoking it closes the API to it."""

from __future__ import annotations

import re

import pytest

from api.models import ApiToken
from api.tests.conftest import token_client
from api.tokens import create_token


def shown_token(response) -> str | None:
    match = re.search(r'data-testid="token-value">([^<]+)<', response.content.decode())
    return match.group(1) if match else None


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_a_new_token_is_shown_once_then_only_its_prefix(people, client_for, role):
    user = getattr(people, role)
    client = client_for(user, people.workspace_a)
    assert client.get("/settings/api-tokens/").status_code == 200
    created = client.post("/settings/api-tokens/", {"name": "CI deploys", "days": "90"})
    assert created.status_code == 200
    assert created["Cache-Control"] and "no-store" in created["Cache-Control"]
    token = shown_token(created)
    assert token and token.startswith("paas_")
    row = ApiToken.objects.get(user=user, workspace=people.workspace_a)
    assert row.name == "CI deploys"
    assert round((row.expires_at - row.created_at).total_seconds() / 86400) == 90
    again = client.get("/settings/api-tokens/").content.decode()
    assert token not in again and shown_token(client.get("/settings/api-tokens/")) is None
    assert f"{row.prefix}…" in again and "CI deploys" in again and "never used" in again
    assert token_client(people.workspace_a, token).get("/api/v1/").json()["role"] == role


def test_the_list_shows_last_use_and_only_ones_own_tokens(people, client_for):
    _, token = create_token(people.workspace_a, people.member, "mine", 7)
    create_token(people.workspace_a, people.admin, "the admin's", 7)
    create_token(people.workspace_b, people.outsider, "elsewhere", 7)
    token_client(people.workspace_a, token).get("/api/v1/")
    page = client_for(people.member, people.workspace_a).get("/settings/api-tokens/")
    html = page.content.decode()
    assert "mine" in html and "the admin" not in html and "elsewhere" not in html
    assert "last used" in html and token not in html


def test_revoking_makes_the_token_401(people, client_for):
    row, token = create_token(people.workspace_a, people.member, "script", 30)
    api = token_client(people.workspace_a, token)
    assert api.get("/api/v1/projects/").status_code == 200
    page = client_for(people.member, people.workspace_a)
    assert page.post(f"/settings/api-tokens/{row.pk}/revoke/").status_code == 302
    assert api.get("/api/v1/projects/").status_code == 401
    assert "Revoked" in page.get("/settings/api-tokens/").content.decode()


def test_nobody_revokes_someone_elses_token(people, client_for):
    row, token = create_token(people.workspace_a, people.member, "script", 30)
    owner = client_for(people.owner, people.workspace_a)
    assert owner.post(f"/settings/api-tokens/{row.pk}/revoke/").status_code == 404
    assert token_client(people.workspace_a, token).get("/api/v1/").status_code == 200


def test_a_nameless_token_is_refused_by_field(people, client_for):
    client = client_for(people.member, people.workspace_a)
    response = client.post("/settings/api-tokens/", {"name": "  ", "days": "3"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-field-error="name"' in html and 'data-field-error="days"' in html
    assert not ApiToken.objects.filter(user=people.member).exists()


def test_outsiders_and_anonymous_visitors_do_not_reach_the_page(people, client_for):
    assert client_for(people.outsider, people.workspace_a).get(
        "/settings/api-tokens/").status_code == 404
    assert client_for(None, people.workspace_a).get("/settings/api-tokens/").status_code == 302


def test_the_navbar_and_settings_link_to_it(people, client_for):
    html = client_for(people.member, people.workspace_a).get("/").content.decode()
    assert 'data-testid="api-tokens-link"' in html
    settings = client_for(people.owner, people.workspace_a).get("/settings/").content.decode()
    assert 'href="/settings/api-tokens/"' in settings
