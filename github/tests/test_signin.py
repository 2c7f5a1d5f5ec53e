"""Sign-in with GitHub through the fake GitHub: accounts made or linked by a verified
address, tokens kept encrypted (and only there), the OAuth state checked once, and tokens
refreshed or marked expired as GitHub says."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.conf import settings
from django.test import Client
from social_django.models import UserSocialAuth

from github import client as github_client
from github.models import GitHubAccount
from github.tests.fake_github import FakeGitHub
from github.tokens import TokenExpired, usable_token, with_token
from tenants.models import User

ROOT = settings.PAAS_DOMAIN


def start(client: Client, next_url: str = "") -> str:
    """The panel's start of a sign-in; the address of GitHub's authorize page it sends to."""
    response = client.post("/login/github/", {"next": next_url} if next_url else {})
    assert response.status_code == 302
    return response["Location"]


def authorize(fake: FakeGitHub, authorize_url: str) -> str:
    """What GitHub does when its user clicks Authorize: the callback path on the panel."""
    assert authorize_url.startswith(fake.url + "/login/oauth/authorize?")
    answer = httpx.get(authorize_url, follow_redirects=False)
    assert answer.status_code == 302
    callback = urlsplit(answer.headers["location"])
    assert callback.path == "/oauth/complete/github/"
    return f"{callback.path}?{callback.query}"


def sign_in(fake: FakeGitHub, client: Client, next_url: str = "") -> tuple[str, object]:
    callback = authorize(fake, start(client, next_url))
    response = client.get(callback)
    return callback, response


def final_location(client: Client, response: object) -> str:
    while response.status_code == 302 and response["Location"].startswith("/"):
        location = response["Location"]
        if location in ("/", "/login/"):
            return location
        response = client.get(location)
    return response["Location"] if response.status_code == 302 else ""


@pytest.fixture
def root_client() -> Client:
    return Client(HTTP_HOST=ROOT)


@pytest.fixture
def olive(fake_github: FakeGitHub) -> object:
    user = fake_github.add_user("olive", 5001, "Olive Oyl", emails=[
        ("olive@example.com", True, True), ("olive@work.example", True, False)])
    fake_github.authorizing = user
    return user


def test_new_user_gets_an_account_and_an_encrypted_token(
        db, fake_github, olive, root_client, caplog):
    caplog.set_level(logging.DEBUG)
    _, response = sign_in(fake_github, root_client)
    assert final_location(root_client, response) == "/"
    user = User.objects.get(email="olive@example.com")
    assert user.name == "Olive Oyl" and not user.has_usable_password()
    assert int(root_client.session["_auth_user_id"]) == user.pk

    account = GitHubAccount.objects.get(user=user)
    assert (account.github_id, account.login, account.state) == (5001, "olive", "ok")
    [token] = fake_github.tokens
    assert account.token() == token
    assert token.encode() not in bytes(account.token_ciphertext)
    social = UserSocialAuth.objects.get(user=user)
    assert token not in str(social.extra_data)
    assert all(token not in record.getMessage() for record in caplog.records)

    page = root_client.get("/")
    assert page.status_code == 200


def test_existing_account_is_linked_by_a_verified_address(db, people, fake_github,
                                                          root_client):
    fake_github.authorizing = fake_github.add_user("mia", 5002, emails=[
        ("someone@else.example", True, True), (people.member.email.upper(), True, False)])
    users_before = User.objects.count()
    sign_in(fake_github, root_client)
    assert User.objects.count() == users_before
    assert int(root_client.session["_auth_user_id"]) == people.member.pk
    assert GitHubAccount.objects.get(user=people.member).login == "mia"


def test_an_unverified_address_links_nothing(db, people, fake_github, root_client):
    """Anybody may add someone else's address to their GitHub account unverified: it must not
    open that someone's panel account."""
    fake_github.authorizing = fake_github.add_user("mallory", 5003, emails=[
        (people.member.email, False, True), ("mallory@evil.example", True, False)])
    sign_in(fake_github, root_client)
    signed_in = User.objects.get(pk=root_client.session["_auth_user_id"])
    assert signed_in.email == "mallory@evil.example"
    assert not GitHubAccount.objects.filter(user=people.member).exists()


def test_no_verified_address_is_refused(db, fake_github, root_client):
    fake_github.authorizing = fake_github.add_user("nobody", 5004, emails=[
        ("nobody@example.com", False, True)])
    users_before = User.objects.count()
    _, response = sign_in(fake_github, root_client)
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert "_auth_user_id" not in root_client.session
    assert User.objects.count() == users_before
    page = root_client.get("/login/")
    assert "no verified email address" in page.content.decode()


def test_an_operator_account_is_not_linked(db, fake_github, root_client):
    operator = User.objects.create_user("ops@example.com", "pw-ops-123456", is_staff=True)
    fake_github.authorizing = fake_github.add_user("ops", 5005, emails=[
        (operator.email, True, True)])
    _, response = sign_in(fake_github, root_client)
    assert "_auth_user_id" not in root_client.session
    assert not GitHubAccount.objects.exists()
    assert "password" in root_client.get("/login/").content.decode()


def test_a_replayed_or_wrong_state_is_refused(db, fake_github, olive, root_client):
    callback, _ = sign_in(fake_github, root_client)
    root_client.post("/logout/")
    assert "_auth_user_id" not in root_client.session

    # The same callback again (its code and state), in the same browser session.
    response = root_client.get(callback)
    assert "_auth_user_id" not in root_client.session
    assert response.status_code == 302 and response["Location"] == "/login/"

    # A state that is not this session's (an attacker's callback link).
    other = Client(HTTP_HOST=ROOT)
    attacker_callback = authorize(fake_github, start(other))
    victim = Client(HTTP_HOST=ROOT)
    start(victim)  # the victim began a sign-in of their own: their session has a state
    victim.get(attacker_callback)
    assert "_auth_user_id" not in victim.session


def test_next_returns_to_the_workspace_and_nowhere_else(db, people, fake_github, olive,
                                                       root_client):
    target = f"http://{people.workspace_a.hostname}/projects/new/"
    _, response = sign_in(fake_github, root_client, next_url=target)
    assert final_location(root_client, response) == target

    elsewhere = Client(HTTP_HOST=ROOT)
    fake_github.authorizing = fake_github.add_user("olive2", 5006, emails=[
        ("olive2@example.com", True, True)])
    _, response = sign_in(fake_github, elsewhere, next_url="https://evil.example/")
    assert final_location(elsewhere, response) == "/"


def test_the_login_page_offers_github_only_when_configured(db, root_client, settings):
    settings.GITHUB_CLIENT_ID = settings.GITHUB_CLIENT_SECRET = ""
    assert b"Sign in with GitHub" not in root_client.get("/login/").content
    assert root_client.post("/login/github/").status_code == 404
    settings.GITHUB_CLIENT_ID, settings.GITHUB_CLIENT_SECRET = "id", "secret"
    page = root_client.get("/login/?next=/invitations/x/").content.decode()
    assert "Sign in with GitHub" in page and 'action="/login/github/"' in page
    assert page.count('value="/invitations/x/"') == 2  # both forms keep `next`


def test_an_expiring_token_is_refreshed(db, fake_github, olive, root_client):
    fake_github.token_lifetime = timedelta(hours=8)
    sign_in(fake_github, root_client)
    account = GitHubAccount.objects.get(login="olive")
    first = account.token()
    assert account.refresh_token() and account.token_expires_at is not None

    fake_github.expire(first)  # GitHub says 401 before the panel's clock says it expired
    repositories = with_token(account, github_client.list_repositories)
    assert repositories.items == []
    account.refresh_from_db()
    assert account.token() != first and account.state == "ok"
    assert account.token() in fake_github.tokens


def test_a_revoked_token_marks_the_account_expired(db, fake_github, olive, root_client):
    sign_in(fake_github, root_client)
    account = GitHubAccount.objects.get(login="olive")
    fake_github.revoke(account.token())
    with pytest.raises(TokenExpired):
        with_token(account, github_client.list_repositories)
    account.refresh_from_db()
    assert account.state == GitHubAccount.State.EXPIRED
    with pytest.raises(TokenExpired):
        usable_token(account)

    sign_in(fake_github, Client(HTTP_HOST=ROOT))  # signing in again makes it usable
    account.refresh_from_db()
    assert account.state == "ok" and usable_token(account) in fake_github.tokens


def test_the_callback_code_and_state_are_what_github_sent(db, fake_github, olive,
                                                          root_client):
    authorize_url = start(root_client)
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["client_id"] == [fake_github.client_id]
    assert set(query["scope"][0].split(",")) == set(settings.GITHUB_SCOPES)
    assert query["state"][0]
