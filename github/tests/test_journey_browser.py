"""The issue's "Done when", as a new user lives it in a real Chromium: sign in with (fake)
GitHub, make a workspace and a project, pick a repository (the panel creates its webhook on
GitHub), push, watch the deployment go live, open a pull request, get a preview, close it,
see the preview gone.

Everything but GitHub is real: the panel under uvicorn, a Dramatiq worker, git, PM2. The fake
GitHub plays GitHub's part of a push or a pull request: the repository is a local bare one, and
the fake posts GitHub's own payloads (pointed at it) to the webhook the panel created, signed
with the secret the panel gave it."""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from conftest import FIXTURES, chromium_page
from deployments.engine import pm2
from deployments.models import Deployment, Status
from deployments.tests import conftest as engine_fixtures
from deployments.tests import sample_apps
from deployments.tests.engine import get, remove_everything, running_worker, wait_for
from github.models import Outcome, RepositoryHook, WebhookDelivery
from github.tests.conftest import github_env
from github.tests.fake_github import FakeGitHub
from github.workspaces import WEBHOOK_PATH
from hosting.models import PortAllocation
from projects.models import Environment, Service
from tenants.models import Domain, Membership, User, Workspace
from tenants.tests.test_browser import in_thread, shoot

pytestmark = pytest.mark.browser
test_apps_dir = engine_fixtures.test_apps_dir  # the run's PM2 home and apps directory
TIMEOUT_MS = 20_000
DEPLOY_MS = 120_000  # a build (npm ci) and a health check, on a busy 2-core machine
PUSH = json.loads((FIXTURES / "github" / "push" / "with-new-branch.payload.json").read_text())


def pull_request(action: str) -> dict:
    return json.loads((FIXTURES / "github" / "pull_request" / f"{action}.payload.json")
                      .read_text())


@dataclass
class Newcomer:
    login: str
    email: str
    slug: str
    full_name: str
    repo: str  # the local bare repository GitHub "hosts"


@pytest.fixture
def newcomer(committed_db, fake_github: FakeGitHub, tmp_path) -> Iterator[Newcomer]:
    """Someone new to the panel with a GitHub account that owns a Node app's repository;
    their account, workspace and everything it ran are removed after."""
    token = uuid.uuid4().hex[:8]
    person = Newcomer(login=f"nova{token}", email=f"nova-{token}@example.com",
                      slug=f"nova-{token}", full_name=f"nova{token}/site",
                      repo=sample_apps.make_repo(tmp_path, "site", sample_apps.NODE_APP))
    fake_github.authorizing = fake_github.add_user(
        person.login, 880_000 + int(token[:4], 16), "Nova Newcomer",
        emails=[(person.email, True, True)])
    fake_github.add_repo(person.full_name, clone_url=person.repo, branches=["main"],
                         admins={person.login})
    yield person
    connection.set_schema_to_public()
    for workspace in Workspace.objects.filter(slug=person.slug):
        remove_everything(workspace)
        connection.set_schema_to_public()
        Membership.objects.filter(workspace=workspace).delete()
        Domain.objects.filter(tenant=workspace).delete()
        workspace.delete(force_drop=True)
    User.objects.filter(email=person.email).delete()


@pytest.fixture
def panel_and_worker(github_panel: str, fake_github: FakeGitHub) -> Iterator[str]:
    """The panel (github_panel) and a worker, both pointed at the fake GitHub."""
    with running_worker(**github_env(fake_github), PAAS_PANEL_URL=github_panel):
        yield github_panel


def push_payload(person: Newcomer, before: str, after: str) -> dict:
    """GitHub's push payload for `after` on main of the newcomer's repository."""
    payload = copy.deepcopy(PUSH)
    payload.update(ref="refs/heads/main", before=before, after=after, created=False)
    payload["repository"].update(full_name=person.full_name, name="site",
                                 clone_url=person.repo, html_url=person.repo,
                                 git_url=person.repo, ssh_url=person.repo)
    return payload


def pull_request_payload(person: Newcomer, action: str, head_sha: str) -> dict:
    """GitHub's pull_request payload: #2, from branch `changes` into main, same repository."""
    payload = pull_request(action)
    pull = payload["pull_request"]
    pull["base"]["ref"], pull["head"]["ref"], pull["head"]["sha"] = "main", "changes", head_sha
    for repository in (payload["repository"], pull["base"]["repo"], pull["head"]["repo"]):
        repository.update(full_name=person.full_name, name="site", fork=False,
                          clone_url=person.repo, html_url=person.repo, git_url=person.repo,
                          ssh_url=person.repo)
    return payload


def deployment_of(workspace: Workspace, service_name: str, environment: str,
                  sha: str) -> Deployment | None:
    with tenant_context(workspace):
        return (Deployment.objects.filter(service__name=service_name, commit_sha=sha,
                                          service__environment__name=environment)
                .select_related("service").first())


def off_the_loop[T](query: Callable[[], T]) -> T:
    """`query()` in a thread of its own: Playwright's sync API runs an event loop in the
    browser's thread, where Django refuses database queries."""
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(query()))
    thread.start()
    thread.join()
    if not results:
        raise AssertionError("the query failed (its traceback is above)")
    return results[0]


def handled(fake: FakeGitHub) -> WebhookDelivery:
    """The panel's record of the fake's last delivery, once the worker has handled it."""
    delivery_id = fake.deliveries[-1]["delivery_id"]

    def outcome() -> WebhookDelivery | None:
        return WebhookDelivery.objects.exclude(outcome=Outcome.QUEUED).filter(
            delivery_id=delivery_id).first()

    delivery = off_the_loop(lambda: wait_for(outcome, timeout=60))
    assert delivery is not None, "the worker never handled the delivery"
    return delivery


def wait_active(page: Page) -> None:
    """The deployment list's newest row turns Active on the open page, pushed over its
    socket (the page is never reloaded)."""
    newest = page.get_by_test_id("deployment-rows").locator("[data-status]").first
    expect(newest).to_have_attribute("data-status", "active", timeout=DEPLOY_MS)
    expect(page.get_by_test_id("service-status")).to_contain_text("Active")


def test_a_new_user_signs_in_with_github_pushes_and_gets_a_preview(
        panel_and_worker, fake_github, newcomer):
    panel, person = panel_and_worker, newcomer
    port = panel.rsplit(":", 1)[1]
    workspace_url = f"http://{person.slug}.panel.localhost:{port}"
    first_sha = sample_apps.head(person.repo)
    state: dict[str, object] = {}

    def sign_in_and_connect(page: Page) -> None:
        page.goto(f"{panel}/login/")
        page.get_by_test_id("github-signin").click()
        # GitHub (the fake authorizes at once) sends the browser back, signed in.
        page.get_by_role("link", name="Create a workspace").click()
        page.fill("input[name=name]", "Nova's team")
        page.fill("input[name=slug]", person.slug)
        page.get_by_role("button", name="Create workspace").click()
        expect(page).to_have_url(f"{workspace_url}/")
        page.get_by_role("link", name="Create a project").click()
        page.fill("input[name=name]", "Site")
        page.get_by_role("button", name="Create project").click()
        expect(page.get_by_test_id("project-name")).to_have_text("Site")
        state["project_url"] = page.url

        page.get_by_role("link", name="New service").click()
        form = page.get_by_test_id("service-form")
        form.locator("input[name=name]").fill("site")
        form.locator("[data-action=pick-from-github]").click()
        form.get_by_test_id("github-search").fill("site")
        form.locator(f'[data-full-name="{person.full_name}"] [data-action=pick-repository]'
                     ).click()
        expect(form.get_by_test_id("connected-repository")).to_contain_text(person.full_name)
        expect(form.get_by_test_id("branch-select")).to_have_value("main")
        form.get_by_role("button", name="Create service").click()
        page.wait_for_url(re.compile(r"/services/\d+/$"))
        expect(page.get_by_test_id("service-status")).to_contain_text("Not deployed")
        shoot(page, "journey-connected")

    def push_and_watch(page: Page) -> None:
        sha = sample_apps.commit(person.repo, {"NOTE.md": "First push\n"}, "First push")
        state["push_sha"] = sha
        statuses = fake_github.deliver(person.full_name, "push",
                                       push_payload(person, first_sha, sha))
        assert statuses == [202], statuses
        wait_active(page)
        expect(page.get_by_test_id("deployment-rows").get_by_test_id("commit-message").first
               ).to_have_text("First push")
        shoot(page, "journey-pushed")

    def open_and_close_a_pull_request(page: Page) -> None:
        sample_apps._git(["branch", "changes", state["push_sha"]], Path(person.repo))
        head = sample_apps.commit(person.repo, {"CHANGES.md": "A change\n"}, "A change",
                                  branch="changes")
        state["head_sha"] = head
        assert fake_github.deliver(person.full_name, "pull_request",
                                   pull_request_payload(person, "opened", head)) == [202]
        delivery = handled(fake_github)
        assert delivery.outcome == Outcome.PREVIEW, delivery.message
        page.goto(state["project_url"])
        tab = page.locator('[data-testid=environment-tab][data-environment="pr-2"]')
        expect(tab).to_be_visible()
        tab.click()
        expect(page.get_by_test_id("preview")).to_contain_text("PR #2")
        page.get_by_test_id("service-link").click()
        wait_active(page)
        shoot(page, "journey-preview")
        preview = off_the_loop(lambda: deployment_of(
            Workspace.objects.get(slug=person.slug), "site", "pr-2", head))
        assert preview is not None and get(preview.port)[0] == 200
        state["preview_id"] = preview.pk

        assert fake_github.deliver(person.full_name, "pull_request",
                                   pull_request_payload(person, "closed", head)) == [202]
        assert handled(fake_github).outcome == Outcome.PREVIEW
        page.goto(state["project_url"])
        tabs = page.get_by_test_id("environment-tab")
        expect(tabs).to_have_count(1, timeout=TIMEOUT_MS)  # a reload shows what is left
        expect(tabs).to_have_text(["production"])

    def journey() -> None:
        with chromium_page(TIMEOUT_MS) as page:
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            sign_in_and_connect(page)
            hook = fake_github.hooks[-1]
            assert hook["repository"] == person.full_name
            assert hook["config"]["url"] == f"{workspace_url}{WEBHOOK_PATH}"
            push_and_watch(page)
            open_and_close_a_pull_request(page)
            assert errors == [], errors

    in_thread(journey)

    workspace = Workspace.objects.get(slug=person.slug)
    assert RepositoryHook.objects.filter(workspace=workspace,
                                         repository=person.full_name).count() == 1
    pushed = deployment_of(workspace, "site", "production", state["push_sha"])
    assert pushed is not None and pushed.status == Status.ACTIVE
    assert get(pushed.port)[0] == 200  # the pushed commit serves
    # GitHub was told how the push's deployment went, with a link to its page.
    reported = [s for s in fake_github.statuses if s["sha"] == state["push_sha"]]
    assert [s["state"] for s in reported][-1] == "success"
    assert reported[-1]["target_url"].endswith(f"/deployments/{pushed.pk}/")

    with tenant_context(workspace):
        assert not Environment.objects.filter(name="pr-2").exists()
        assert Service.objects.filter(environment__name="production").count() == 1

    def preview_gone() -> bool:  # the preview's process and port are freed
        return not ([info for info in pm2.jlist()
                     if info.env_deployment_id == str(state["preview_id"])]
                    or PortAllocation.objects.filter(schema_name=workspace.schema_name)
                    .exclude(deployment_id=pushed.pk).exists())

    assert wait_for(preview_gone, 30)
