"""Sign in with (fake) GitHub in a real Chromium: the login page's button, GitHub's authorize
page, the panel's callback, and back to the workspace the sign-in was asked from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from playwright.sync_api import expect

from conftest import chromium_page
from github.models import GitHubAccount
from github.tests.fake_github import FakeGitHub
from tenants.models import Membership, Role, User
from tenants.tests.test_browser import in_thread

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000
EMAIL = "gina-browser@example.com"


@pytest.fixture
def gina(fake_github: FakeGitHub, committed_db: object) -> Iterator[User]:
    """A member of team-a with a password, whose GitHub account has the same verified
    address."""
    user = User.objects.create_user(EMAIL, "a-password-of-gina", name="Gina")
    Membership.objects.create(user=user, workspace=committed_db.workspace_a, role=Role.MEMBER)
    fake_github.authorizing = fake_github.add_user("gina", 7001, "Gina Git", emails=[
        ("gina@elsewhere.example", True, True), (EMAIL, True, False)])
    yield user
    connection.set_schema_to_public()
    User.objects.filter(email=EMAIL).delete()


def test_sign_in_with_github_returns_to_the_workspace(github_panel, fake_github, gina,
                                                     committed_db):
    port = github_panel.rsplit(":", 1)[1]
    workspace_url = f"http://{committed_db.workspace_a.hostname}:{port}/"

    def journey() -> None:
        with chromium_page(TIMEOUT_MS) as page:
            page.goto(workspace_url)  # not signed in: the login page, `next` kept
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            page.get_by_test_id("github-signin").click()
            # GitHub (the fake authorizes at once) sends the browser back to the panel.
            page.wait_for_url(workspace_url)
            expect(page.get_by_role("heading", name="Projects")).to_be_visible()
            expect(page.get_by_text("Gina").first).to_be_visible()

    in_thread(journey)
    account = GitHubAccount.objects.get(user=gina)
    assert account.login == "gina" and account.token() in fake_github.tokens
    assert User.objects.filter(email="gina@elsewhere.example").count() == 0
