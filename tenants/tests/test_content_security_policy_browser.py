"""The panel's Content-Security-Policy in a real Chromium: the main pages (log-in, a workspace's
home with its WebSocket, a project, a service, both admins) load with no violation reported,
and htmx, the WebSocket and the forms that cross subdomains (log-in with `next`, log-out)
still work under it."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from conftest import PASSWORD, chromium_page
from core.events import publish
from projects.models import Project, Service, VariableReveal
from projects.services import create_project
from projects.variables import apply_staged, stage
from tenants.models import User
from tenants.tests.test_browser import TIMEOUT_MS, in_thread

pytestmark = pytest.mark.browser

# Reports every violation to the test (Playwright's init script and binding are not subject
# to the page's policy; what they watch is).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
                         + ` in ${event.sourceFile || document.location.href}:${event.lineNumber}`);
});
"""


@pytest.fixture
def world(committed_db):
    """Committed: a project with a service and a variable in workspace A, and an operator."""
    people = committed_db
    token = uuid.uuid4().hex[:6]
    with tenant_context(people.workspace_a):
        project = create_project(f"CSP {token}")
        service = Service.objects.create(environment=project.environments.get(), name="web",
                                         repository_url="https://github.com/acme/web.git")
        stage(service, "TOKEN", "visible-once-revealed", people.owner)
        apply_staged(service)
    operator = User.objects.create_user(f"operator-{token}@panel.example", PASSWORD,
                                        name="Opal Operator", is_staff=True, is_superuser=True)
    yield people, project, service, operator
    with tenant_context(people.workspace_a):
        VariableReveal.objects.filter(owner_type="service", owner_id=service.pk).delete()
        Project.objects.filter(name__startswith=f"CSP {token}").delete()
    operator.delete()


def test_the_main_pages_run_under_the_policy(panel_server, world):
    people, project, service, operator = world
    port = panel_server.rsplit(":", 1)[1]
    workspace_url = f"http://{people.workspace_a.hostname}:{port}"
    pushed = f"{project.name} pushed"

    def push_a_new_project() -> None:
        with tenant_context(people.workspace_a):
            create_project(pushed)
        announce()

    def announce() -> None:
        publish(people.workspace_a.schema_name, "projects_changed")

    def journey() -> None:

        with chromium_page(TIMEOUT_MS, height=900) as page:
            violations: list[str] = []
            errors: list[str] = []
            htmx_requests: list[str] = []
            dialogs: list[str] = []
            page.expose_function("reportViolation", lambda text: violations.append(text))
            page.add_init_script(REPORT_VIOLATIONS)
            page.on("console", lambda message: violations.append(message.text)
                    if "Content Security Policy" in message.text else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: htmx_requests.append(request.url)
                    if request.headers.get("hx-request") == "true" else None)

            def dismiss(dialog: object) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", dismiss)

            # A workspace, anonymously: the log-in on the root domain, which sends the
            # browser back to the workspace (a form landing on another subdomain).
            page.goto(f"{workspace_url}/")
            expect(page).to_have_url(re.compile(rf"^{re.escape(panel_server)}/login/\?next="))
            page.fill("input[name=username]", people.owner.email)
            page.fill("input[name=password]", PASSWORD)
            with page.expect_websocket() as opened:
                page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(f"{workspace_url}/")
            assert opened.value.url == f"ws://{people.workspace_a.hostname}:{port}/ws/events/"

            # The home's project list follows a change pushed over the WebSocket.
            projects = page.get_by_test_id("project-list")
            expect(projects).to_contain_text(project.name)
            in_thread(push_a_new_project)
            for _ in range(20):  # until the socket has joined its group
                try:
                    expect(projects).to_contain_text(pushed, timeout=1000)
                    break
                except AssertionError:
                    in_thread(announce)
            expect(projects).to_contain_text(pushed)

            # The project page: htmx opens the new-service form; deleting asks first.
            page.goto(f"{workspace_url}/projects/{project.pk}/")
            page.get_by_role("link", name="New service").click()
            expect(page.get_by_test_id("service-form")).to_be_visible()
            assert any("/services/new/" in url for url in htmx_requests), htmx_requests
            page.get_by_role("button", name="Delete project").click()
            assert dialogs == ["Delete this project and everything it runs?"]
            expect(page).to_have_url(f"{workspace_url}/projects/{project.pk}/")

            # The service page: htmx reveals a value, and refuses a reserved key.
            page.goto(f"{workspace_url}/services/{service.pk}/")
            row = page.locator('[data-variable="TOKEN"]')
            row.get_by_role("button", name="Reveal").click()
            expect(row.get_by_test_id("revealed-value")).to_have_text("visible-once-revealed")
            add = page.get_by_test_id("add-variable")
            add.locator("input[name=key]").fill("PM2_HOME")
            add.locator("textarea[name=value]").fill("/tmp/elsewhere")
            add.get_by_role("button", name="Add").click()
            expect(page.locator("[data-field-error=key]")).to_have_text(
                "PM2_HOME is reserved: PM2 uses it to run the service.")
            assert any("/reveal/" in url for url in htmx_requests), htmx_requests
            assert any("/variables/add/" in url for url in htmx_requests), htmx_requests

            # Log-out on the workspace lands on the root domain's log-in.
            page.get_by_role("button", name="Log out").click()
            expect(page).to_have_url(f"{panel_server}/login/")

            # The operators' admin, and the workspace admin.
            page.goto(f"{panel_server}/admin/login/")
            page.fill("input[name=username]", operator.email)
            page.fill("input[name=password]", PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(f"{panel_server}/admin/")
            for url in (f"{panel_server}/admin/tenants/workspace/",
                        f"{panel_server}/admin/tenants/workspace/{people.workspace_a.pk}/change/",
                        f"{panel_server}/admin/tenants/user/add/",
                        f"{workspace_url}/admin/",
                        f"{workspace_url}/admin/projects/project/{project.pk}/change/"):
                page.goto(url)
                expect(page.locator("#content")).to_be_visible()
                # The admin's scripts ran: theme.js sets the theme, inlines.js adds rows.
                expect(page.locator("html[data-theme]")).to_have_count(1)
            expect(page.locator(".add-row a").first).to_be_visible()

            assert violations == [], violations
            assert errors == [], errors

            # The watch works: an inline style (no nonce) is refused and reported.
            page.evaluate("document.head.insertAdjacentHTML('beforeend', "
                          "'<style>body { color: red }</style>')")
            deadline = time.monotonic() + 5
            while not violations and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            assert any("style-src" in violation for violation in violations), violations

    in_thread(journey)
