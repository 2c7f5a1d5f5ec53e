"""The service form's "Pick from GitHub" in a real Chromium: the inline New service form on the
project page, the user's repositories a page at a time (Load more), a search, a picked
repository's source block with its branches, "Use another URL", and the saved service."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from conftest import PASSWORD, chromium_page
from github.models import GitHubAccount
from github.tests.fake_github import FakeGitHub
from projects.models import Project, Service
from projects.services import create_project
from projects.tests.test_variables_browser import log_in
from tenants.tests.test_browser import TIMEOUT_MS, in_thread, shoot

pytestmark = pytest.mark.browser


@pytest.fixture
def picker_world(committed_db, fake_github: FakeGitHub) -> Iterator[Project]:
    """Team A's admin, signed in with GitHub as "ada", who can read 130 repositories and
    ada/shop (private, three branches); a committed project. Removed after."""
    people = committed_db
    ada = fake_github.add_user("ada", 4242)
    for number in range(130):
        fake_github.add_repo(f"ada/app-{number:03}")
    fake_github.add_repo("ada/shop", private=True, branches=["main", "develop", "release"],
                         default_branch="develop")
    fake_github.add_repo("olive/secret", private=True)  # not ada's
    account = GitHubAccount(user=people.admin, github_id=4242, login="ada")
    account.set_tokens(fake_github.issue_token(ada))
    account.save()
    with tenant_context(people.workspace_a):
        project = create_project(f"Picker {uuid.uuid4().hex[:6]}")
    yield project
    with tenant_context(people.workspace_a):
        project.delete()
    connection.set_schema_to_public()
    GitHubAccount.objects.filter(pk=account.pk).delete()


def test_pick_a_repository_and_a_branch_then_create_the_service(github_panel, picker_world,
                                                                committed_db):
    people, project = committed_db, picker_world
    port = github_panel.rsplit(":", 1)[1]
    project_url = f"http://{people.workspace_a.hostname}:{port}/projects/{project.pk}/"

    def journey() -> None:
        with chromium_page(TIMEOUT_MS) as page:
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, github_panel, people.admin.email, PASSWORD)
            page.goto(project_url)
            page.get_by_role("link", name="New service").click()
            form = page.get_by_test_id("service-form")
            form.locator("input[name=name]").fill("shop")
            form.locator("[data-action=pick-from-github]").click()

            repositories = form.get_by_test_id("github-repository")
            expect(repositories).to_have_count(100)  # GitHub's first page
            form.locator("[data-action=load-more]").click()
            expect(repositories).to_have_count(131)
            expect(form.locator("[data-action=load-more]")).to_have_count(0)
            expect(form.locator('[data-full-name="olive/secret"]')).to_have_count(0)

            # Typed slowly (each pause longer than the search's 300 ms): the answers replace
            # the list, never the box being typed in.
            search = form.get_by_test_id("github-search")
            search.press_sequentially("SHO", delay=450)
            expect(repositories).to_have_count(1)
            expect(search).to_be_focused()
            expect(search).to_have_value("SHO")
            shop = form.locator('[data-full-name="ada/shop"]')
            expect(shop).to_contain_text("Private")
            shoot(page, "github-picker-search")
            shop.locator("[data-action=pick-repository]").click()

            connected = form.get_by_test_id("connected-repository")
            expect(connected).to_contain_text("ada/shop")
            expect(form.locator("input[name=repository_url]")).to_have_value(
                "https://github.com/ada/shop.git")
            branch = form.get_by_test_id("branch-select")
            expect(branch).to_have_value("develop")  # the default branch, preselected
            expect(branch.locator("option")).to_have_text(["main", "develop", "release"])

            # "Use another URL" gives the plain fields back, and picking again reconnects.
            form.locator("[data-action=disconnect-repository]").click()
            expect(form.locator("input[name=repository_url]")).to_have_value("")
            expect(form.locator("input[name=github_repository]")).to_have_value("")
            form.locator("[data-action=pick-from-github]").click()
            # The fresh list, as a user sees it before typing (typing into the last search's
            # box while the new picker loads would be swapped away with it).
            expect(form.get_by_test_id("github-search")).to_have_value("")
            expect(repositories).to_have_count(100)
            form.get_by_test_id("github-search").fill("ada/shop")
            expect(repositories).to_have_count(1)
            form.locator("[data-action=pick-repository]").click()
            form.get_by_test_id("branch-select").select_option("release")
            shoot(page, "github-picker-picked")
            form.get_by_role("button", name="Create service").click()

            page.wait_for_url("**/services/**")
            expect(page.get_by_text("Service shop created.")).to_be_visible()
            assert errors == [], errors

    in_thread(journey)
    with tenant_context(people.workspace_a):
        service = Service.objects.get(environment__project=project, name="shop")
    assert (service.github_repository, service.branch, service.repository_url) == (
        "ada/shop", "release", "https://github.com/ada/shop.git")
    assert service.github_user_id == 4242
