"""The panel in a real Chromium: sign up, create a workspace, create a project.

Runs against uvicorn (the `panel_server` fixture) with real commits, so it removes the user
and the workspace it creates. Chromium is Debian's (conftest.CHROMIUM); *.localhost names
resolve to the loopback address, so workspace subdomains work without /etc/hosts entries.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

from conftest import chromium_page
from tenants.models import Domain, Membership, User, Workspace

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(os.environ.get("PAAS_SCREENSHOT_DIR", "/tmp"))
TIMEOUT_MS = 15_000


def in_thread(work: Callable[[], None]) -> None:
    """Run `work` in a thread of its own if this one has a running event loop.

    Playwright's sync API refuses to start inside a running asyncio loop, which pytest-asyncio
    may leave installed.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop_running = False
    else:
        loop_running = True
    if not loop_running:
        work()
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as error:  # handed back to the test's thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def loaded_fonts(page: object) -> set[str]:
    """Families of the web fonts the page has loaded (once it is done loading them)."""
    return set(page.evaluate(
        """async () => {
            await document.fonts.ready;
            return [...document.fonts].filter(f => f.status === "loaded")
                .map(f => f.family.replaceAll('"', ""));
        }"""
    ))


def shoot(page: object, name: str) -> None:
    """A full-page screenshot in SCREENSHOTS, once the web fonts are in."""
    loaded_fonts(page)
    page.screenshot(path=str(SCREENSHOTS / f"panel-{name}.png"), full_page=True)


def assert_error_below(page: object, field: str) -> None:
    """The error of `field` sits right under its input, not somewhere else on the page (once
    the page is laid out: under load its stylesheet may still be on its way)."""
    page.wait_for_function("() => [...document.styleSheets].some(sheet => sheet.href"
                           " && sheet.href.includes('/static/css/') && sheet.cssRules.length)")
    for _ in range(20):
        control = page.locator(f"main form [name={field}]").bounding_box()
        error = page.locator(f"[data-field-error={field}]").first.bounding_box()
        gap = error["y"] - (control["y"] + control["height"])
        if 0 <= gap <= 24 and abs(error["x"] - control["x"]) <= 4:
            return
        page.wait_for_timeout(250)
    raise AssertionError(("the error is not under its field", control, error))


@pytest.fixture
def unique() -> Iterator[dict[str, str]]:
    """A fresh email and workspace slug; whatever got created under them is removed after."""
    token = uuid.uuid4().hex[:8]
    names = {"email": f"browser-{token}@example.com", "slug": f"browser-{token}"}
    yield names
    connection.set_schema_to_public()
    for workspace in Workspace.objects.filter(slug=names["slug"]):
        Membership.objects.filter(workspace=workspace).delete()
        Domain.objects.filter(tenant=workspace).delete()
        workspace.delete(force_drop=True)
    User.objects.filter(email=names["email"]).delete()


def test_sign_up_create_a_workspace_and_a_project(panel_server, unique):
    port = panel_server.rsplit(":", 1)[1]
    email, slug = unique["email"], unique["slug"]
    workspace_url = f"http://{slug}.panel.localhost:{port}/"

    def journey() -> None:

        with chromium_page(TIMEOUT_MS, height=800) as page:
            failed: list[str] = []
            page.on(
                "requestfailed",  # not those a navigation cut short
                lambda request: failed.append(request.url)
                if "ERR_ABORTED" not in (request.failure or "") else None,
            )
            page.on(
                "response",
                lambda response: failed.append(response.url)
                if "/static/" in response.url and response.status >= 400 else None,
            )

            # The login page, with its styles and fonts.
            page.goto(f"{panel_server}/login/")
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            assert "Inter" in loaded_fonts(page)
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background in ("rgb(2, 6, 23)", "oklch(0.129 0.042 264.695)"), background
            shoot(page, "login")

            # Sign up: email, name, password twice.
            page.get_by_role("link", name="Sign up").first.click()
            expect(page).to_have_url(re.compile(r"/signup/$"))
            shoot(page, "signup")
            page.fill("input[name=email]", email)
            page.fill("input[name=name]", "Bea Browser")
            page.fill("input[name=password1]", "a long and unusual passphrase")
            page.fill("input[name=password2]", "a long and unusual passphrase")
            page.get_by_role("button", name="Sign up").click()

            # A reserved URL name is refused next to its field.
            expect(page).to_have_url(re.compile(r"/workspaces/new/$"))
            page.fill("input[name=name]", "Admin")
            page.fill("input[name=slug]", "admin")
            page.get_by_role("button", name="Create workspace").click()
            error = page.locator("[data-field-error=slug]")
            expect(error).to_contain_text("reserved")
            assert page.locator("[data-field-error=name]").count() == 0
            field = page.locator("input[name=slug]")
            expect(field).to_have_attribute("aria-invalid", "true")
            expect(field).to_have_value("admin")
            assert_error_below(page, "slug")
            shoot(page, "workspace-error")

            # A good one: the browser lands on the workspace's own subdomain.
            page.fill("input[name=name]", "Browser Team")
            page.fill("input[name=slug]", slug)
            page.get_by_role("button", name="Create workspace").click()
            expect(page).to_have_url(workspace_url)
            expect(page.get_by_test_id("workspace-name")).to_have_text("Browser Team")
            expect(page.get_by_test_id("project-list")).to_contain_text("No projects yet")

            # The workspace list on the root domain shows it.
            page.goto(f"{panel_server}/")
            workspaces = page.get_by_test_id("workspace-list")
            expect(workspaces).to_contain_text("Browser Team")
            expect(workspaces).to_contain_text(f"{slug}.panel.localhost")
            assert {"Inter", "JetBrains Mono"} <= loaded_fonts(page)
            shoot(page, "workspace-list")
            workspaces.get_by_role("link", name=re.compile("Browser Team")).click()
            expect(page).to_have_url(workspace_url)

            # A project name with markup is refused, and the markup is shown as text.
            page.get_by_role("link", name="New project").first.click()
            expect(page).to_have_url(re.compile(r"/projects/new/$"))
            page.fill("input[name=name]", "<b>x</b>")
            page.get_by_role("button", name="Create project").click()
            name_error = page.locator("[data-field-error=name]")
            expect(name_error).to_contain_text("cannot contain < or >")
            expect(page.locator("input[name=name]")).to_have_value("<b>x</b>")
            assert_error_below(page, "name")
            assert page.locator("main b").count() == 0
            assert "<b>x</b>" not in page.locator("main").inner_html()
            shoot(page, "project-error")

            # A real project: its page, then the workspace home lists it.
            page.fill("input[name=name]", "Storefront")
            page.fill("textarea[name=description]", "The shop and its worker.")
            page.get_by_role("button", name="Create project").click()
            expect(page).to_have_url(re.compile(rf"^{re.escape(workspace_url)}projects/\d+/$"))
            expect(page.get_by_test_id("project-name")).to_have_text("Storefront")
            expect(page.get_by_test_id("environment")).to_contain_text("production")
            shoot(page, "project")

            page.get_by_test_id("workspace-name").click()
            expect(page).to_have_url(workspace_url)
            projects = page.get_by_test_id("project-list")
            expect(projects).to_contain_text("Storefront")
            expect(projects).to_contain_text("The shop and its worker.")
            shoot(page, "workspace-home")

            assert failed == [], failed

    in_thread(journey)

    workspace = Workspace.objects.get(slug=slug)
    assert Membership.objects.get(workspace=workspace).user.email == email
