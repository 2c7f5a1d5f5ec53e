"""Issue 4 in a real browser (Playwright driving Debian's Chromium): a user creates a service
from a repository, deploys it, opens it on its port, redeploys with no downtime and rolls back.

Everything behind the browser is real: the panel under uvicorn, a Dramatiq worker, git, npm,
PM2 and the development router (on a free port; the panel is started after it and links to
it). A tab on the app's own address fetches it without pause through the redeploy and the
rollback: every answer must be a version of the app, never an error.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from conftest import BASE_DIR, PASSWORD, chromium_page, free_port, process_env
from deployments.engine import pm2
from deployments.tests import sample_apps
from deployments.tests.engine import get, remove_everything, running_worker, wait_for
from projects.models import Project
from projects.services import create_project
from tenants.models import Workspace

pytestmark = pytest.mark.browser

DEPLOY_TIMEOUT_MS = 120_000  # a first deploy runs npm ci; the page refreshes every 3 s
# Fetches "/" of the tab's own origin one after the other and notes each answer's version,
# or what went wrong, until `window.polling` is false.
POLLER = """() => {
    window.seen = [];
    window.polling = true;
    window.pollDone = (async () => {
        while (window.polling) {
            try {
                const response = await fetch("/", {cache: "no-store"});
                window.seen.push(response.ok ? (await response.json()).version
                                             : `HTTP ${response.status}`);
            } catch (error) {
                window.seen.push(String(error));
            }
            await new Promise(resolve => setTimeout(resolve, 25));
        }
    })();
}"""
STOP_POLLER = "async () => { window.polling = false; await window.pollDone; return window.seen; }"


@pytest.fixture(scope="module")
def worker(django_db_setup) -> Iterator[subprocess.Popen]:
    with running_worker() as process:
        yield process


@pytest.fixture
def router_port(django_db_setup, monkeypatch) -> Iterator[int]:
    """The development router on a free port; PAAS_ROUTER_PORT tells processes started
    afterwards (the panel) where it is."""
    port = free_port()
    monkeypatch.setenv("PAAS_ROUTER_PORT", str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "devrouter.app:application", "--host",
         "127.0.0.1", "--port", str(port), "--no-access-log"],
        cwd=BASE_DIR, env=process_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: _answers(port, "nothing.apps.localhost", 404), 20), \
            "the router did not start"
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _answers(port: int, host: str, status: int) -> bool:
    try:
        return get(port, host=host, timeout=1)[0] == status
    except OSError:
        return False


@dataclass
class World:
    workspace: Workspace
    project: Project
    repository: str
    email: str


@pytest.fixture
def world(committed_db, worker, router_port, tmp_path) -> Iterator[World]:
    """A committed project of workspace A, a sample Node app's repository; everything the
    deployments started is removed after."""
    workspace = committed_db.workspace_a
    with tenant_context(workspace):
        project = create_project(f"Shop {uuid.uuid4().hex[:6]}")
    repository = sample_apps.make_repo(tmp_path, "shop", sample_apps.NODE_APP)
    try:
        yield World(workspace, project, repository, committed_db.owner.email)
    finally:
        remove_everything(workspace)


def deployment_id(row: object) -> str:
    """The primary key of a deployment row, from its link."""
    href = row.get_by_test_id("deployment-link").get_attribute("href")
    return re.search(r"/deployments/(\d+)/$", href).group(1)


def open_direct_address(page: object) -> dict:
    """Click the active deployment's port; the app's JSON answer, in the tab it opened."""
    with page.context.expect_page() as opened:
        page.get_by_test_id("direct-address").click()
    app = opened.value
    try:
        app.wait_for_load_state()
        return json.loads(app.locator("pre").first.inner_text())
    finally:
        app.close()


def test_create_deploy_open_redeploy_without_downtime_and_roll_back(world, panel_server,
                                                                   router_port):
    from projects.tests.test_variables_browser import log_in
    from tenants.tests.test_browser import TIMEOUT_MS, in_thread, shoot

    port = panel_server.rsplit(":", 1)[1]
    workspace_url = f"http://{world.workspace.hostname}:{port}"
    app_host = f"shop-{world.workspace.slug}.apps.localhost"
    served_at = f"http://{app_host}:{router_port}"
    seen: list[str] = []
    dialogs: list[str] = []
    errors: list[str] = []

    def journey() -> None:
        with chromium_page(TIMEOUT_MS, height=900) as page:
            page.on("pageerror", lambda error: errors.append(str(error)))

            def confirm(dialog: object) -> None:  # hx-confirm asks before a rollback
                dialogs.append(dialog.message)
                dialog.accept()

            page.on("dialog", confirm)
            log_in(page, panel_server, world.email, PASSWORD)

            # A service from the repository, created on the project page.
            page.goto(f"{workspace_url}/projects/{world.project.pk}/")
            page.get_by_role("link", name="New service").click()
            form = page.get_by_test_id("service-form")
            form.locator("input[name=name]").fill("shop")
            form.locator("input[name=repository_url]").fill(world.repository)
            form.get_by_role("button", name="Create service").click()
            expect(page.get_by_test_id("service-name")).to_have_text("shop")
            expect(page.get_by_test_id("service-status")).to_contain_text("Not deployed")
            panel = page.get_by_test_id("deployments")
            expect(panel).to_contain_text("No deployments yet")

            # Deploy: the section refreshes itself until #1 is live.
            panel.locator("[data-action=deploy]").click()
            expect(page.get_by_test_id("deployments-notice")).to_have_text(
                re.compile(r"Deployment #1 queued"))
            first = page.locator('[data-deployment="1"]')
            expect(first).to_have_attribute("data-status", "active",
                                            timeout=DEPLOY_TIMEOUT_MS)
            expect(page.get_by_test_id("active-number")).to_have_text("#1")
            expect(page.get_by_test_id("service-status")).to_contain_text("Active")
            expect(page.get_by_test_id("service-url")).to_have_text(served_at)
            expect(first.get_by_test_id("commit-message")).to_have_text(
                "Initial commit of shop")
            expect(page.get_by_test_id("direct-address")).to_have_text(
                re.compile(r"^127\.0\.0\.1:\d+$"))
            first_id = deployment_id(first)
            shoot(page, "deploy-first-active")

            # Open it on its port: the app answers as deployment #1.
            answer = open_direct_address(page)
            assert answer["deployment"] == first_id and answer["version"] == "v1", answer

            # And through the router, where a tab keeps fetching it from now on.
            with page.context.expect_page() as opened:
                page.get_by_test_id("service-url").click()
            app = opened.value
            app.wait_for_load_state()
            assert json.loads(app.locator("pre").first.inner_text())["version"] == "v1"
            app.evaluate(POLLER)

            # VERSION=v2 through the variable editor, then Redeploy.
            page.bring_to_front()
            add = page.get_by_test_id("add-variable")
            add.locator("input[name=key]").fill("VERSION")
            add.locator("textarea[name=value]").fill("v2")
            add.get_by_role("button", name="Add").click()
            page.locator("[data-action=apply]").click()
            applied = page.get_by_test_id("applied")
            expect(applied).to_contain_text("Applied 1 change.")
            applied.locator("[data-action=redeploy]").click()
            second = page.locator('[data-deployment="2"]')
            expect(second).to_have_attribute("data-status", "active",
                                             timeout=DEPLOY_TIMEOUT_MS)
            expect(page.get_by_test_id("active-number")).to_have_text("#2")
            expect(second.get_by_test_id("trigger")).to_contain_text("Redeploy of #1")
            expect(first).to_have_attribute("data-status", "superseded")
            expect(second.locator("[data-action=rollback]")).to_have_count(0)
            second_id = deployment_id(second)
            answer = open_direct_address(page)
            assert answer["deployment"] == second_id and answer["version"] == "v2", answer
            shoot(page, "deploy-second-active")

            # Roll back to #1: its release again, with the variables it ran with.
            rollback = first.locator("[data-action=rollback]")
            expect(rollback).to_be_visible()
            rollback.click()
            expect(page.get_by_test_id("deployments-notice")).to_have_text(
                re.compile(r"Rolling back to #1 as deployment #3"))
            third = page.locator('[data-deployment="3"]')
            expect(third).to_have_attribute("data-status", "active",
                                            timeout=DEPLOY_TIMEOUT_MS)
            expect(page.get_by_test_id("active-number")).to_have_text("#3")
            expect(second).to_have_attribute("data-status", "superseded")
            expect(third.get_by_test_id("trigger")).to_contain_text("Rollback of #1")
            third_id = deployment_id(third)
            answer = open_direct_address(page)
            assert answer["deployment"] == third_id and answer["version"] == "v1", answer
            shoot(page, "deploy-rolled-back")

            # The router tab went on until #2's processes were stopped after the drain.
            assert wait_for(lambda: not [info for info in pm2.jlist()
                                         if info.env_deployment_id == second_id], 30)
            seen.extend(app.evaluate(STOP_POLLER))

            # #1's page: its stored log, from the fetch to the switch.
            first.get_by_test_id("deployment-link").click()
            expect(page).to_have_url(f"{workspace_url}/deployments/{first_id}/")
            log = page.get_by_test_id("log-lines")
            expect(log).to_contain_text("npm ci")
            expect(log).to_contain_text(f"Live: {app_host} now routes to #1")
            expect(log.locator('[data-phase-heading="fetch"]')).to_have_count(1)
            # #3's page: a rollback starts the release again, no fetch and no build.
            page.goto(f"{workspace_url}/deployments/{third_id}/")
            log = page.get_by_test_id("log-lines")
            expect(log).to_contain_text("Rolling back to the release of #1")
            expect(log).to_contain_text(f"Live: {app_host} now routes to #3")
            expect(log.locator('[data-phase-heading="fetch"]')).to_have_count(0)
            expect(log.locator('[data-phase-heading="build"]')).to_have_count(0)
            shoot(page, "deploy-rollback-log")

    in_thread(journey)

    assert errors == [], errors
    assert dialogs == ["Roll back to #1? Its release is started again, without a rebuild."]
    failures = [answer for answer in seen if answer not in ("v1", "v2")]
    assert failures == [], f"{len(failures)} of {len(seen)} requests failed: {failures[:5]}"
    runs = [answer for index, answer in enumerate(seen) if index == 0 or seen[index - 1] != answer]
    assert runs == ["v1", "v2", "v1"], runs  # switched once each way, never back and forth
