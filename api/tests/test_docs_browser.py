"""The API's docs page in a real Chromium, under the panel's Content-Security-Policy: Swagger
UI loads from the panel's own files, renders the schema, and nothing is refused."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from conftest import PASSWORD, chromium_page
from tenants.tests.test_browser import TIMEOUT_MS, in_thread
from tenants.tests.test_content_security_policy_browser import REPORT_VIOLATIONS

pytestmark = pytest.mark.browser


def test_the_docs_page_works_under_the_policy(panel_server, committed_db):
    people = committed_db
    port = panel_server.rsplit(":", 1)[1]
    workspace_url = f"http://{people.workspace_a.hostname}:{port}"

    def journey() -> None:
        with chromium_page(TIMEOUT_MS) as page:
            violations: list[str] = []
            errors: list[str] = []
            hosts: set[str] = set()
            failed: list[str] = []
            page.expose_function("reportViolation", lambda text: violations.append(text))
            page.add_init_script(REPORT_VIOLATIONS)
            page.on("console", lambda message: violations.append(message.text)
                    if "Content Security Policy" in message.text else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname)
                    if request.url.startswith("http") else None)
            page.on("response", lambda response: failed.append(response.url)
                    if response.status >= 400 else None)

            page.goto(f"{panel_server}/login/?next={workspace_url}/api/v1/docs/")
            page.fill("input[name=username]", people.member.email)
            page.fill("input[name=password]", PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(f"{workspace_url}/api/v1/docs/")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("PaaS panel API")
            expect(page.locator(".opblock-summary-path").first).to_be_visible()
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert any("/api/v1/deployments/{id}/logs/" in path.replace("\u200b", "")
                       for path in paths)

            # "Try it out" on the workspace: the session signs the request.
            page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/v1/$")).first.click()
            page.get_by_role("button", name="Try it out").first.click()
            page.get_by_role("button", name="Execute").first.click()
            status = page.locator(".live-responses-table .response .response-col_status")
            expect(status.first).to_contain_text("200")

            # The panel's own hosts only (the log-in is on the root domain): no CDN.
            assert hosts <= {people.workspace_a.hostname, settings.PAAS_DOMAIN}, hosts
            assert violations == [], violations
            assert errors == [], errors
            assert [url for url in failed if "/login/" not in url and "/api/v1/docs/" not in url
                    ] == [], failed

    in_thread(journey)
