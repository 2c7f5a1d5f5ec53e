"""The custom domains card of a service's settings page in a real Chromium (htmx): add,
refused under the field, Check DNS (the panel's fake resolver: no record), Remove."""

from __future__ import annotations

import uuid

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from conftest import PASSWORD, chromium_page
from hosting.models import CustomDomain
from projects.services import create_project, create_service
from projects.tests.test_variables_browser import log_in
from tenants.tests.test_browser import TIMEOUT_MS, in_thread, shoot


@pytest.fixture
def service(committed_db):
    """A committed service; its project (and so its domains) removed after."""
    with tenant_context(committed_db.workspace_a):
        project = create_project(f"Domains {uuid.uuid4().hex[:6]}")
        service = create_service(project.environments.get(), "shop")
    yield service
    with tenant_context(committed_db.workspace_a):
        project.delete()
    assert not CustomDomain.objects.filter(service_id=service.pk).exists()


@pytest.mark.browser
def test_add_check_and_remove_a_domain(panel_server, committed_db, service):
    people = committed_db
    port = panel_server.rsplit(":", 1)[1]
    settings_url = f"http://{people.workspace_a.hostname}:{port}/services/{service.pk}/settings/"
    hostname = f"shop-{uuid.uuid4().hex[:6]}.example.com"

    def journey() -> None:
        with chromium_page(TIMEOUT_MS) as page:
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, panel_server, people.owner.email, PASSWORD)
            page.goto(settings_url)
            card = page.get_by_test_id("custom-domains")
            form = card.get_by_test_id("add-domain")
            form.locator("input[name=hostname]").fill("team-b.panel.localhost")
            form.get_by_role("button", name="Add domain").click()
            expect(card.locator("[data-field-error=hostname]")).to_contain_text(
                "belong to the panel")

            card.locator("input[name=hostname]").fill(hostname.upper())
            card.get_by_role("button", name="Add domain").click()
            row = card.locator(f'[data-domain="{hostname}"]')
            expect(row).to_have_attribute("data-status", "pending")
            expect(row.locator('[data-record="CNAME"]')).to_contain_text(
                f"shop-{people.workspace_a.slug}")
            expect(card.locator("[data-field-error=hostname]")).to_have_count(0)

            row.get_by_role("button", name="Check DNS").click()
            row = card.locator(f'[data-domain="{hostname}"]')
            expect(row).to_have_attribute("data-status", "misconfigured")
            expect(row.get_by_test_id("domain-found")).to_contain_text("No DNS record")
            shoot(page, "service-custom-domains")

            page.once("dialog", lambda dialog: dialog.accept())
            row.get_by_role("button", name=f"Remove {hostname}").click()
            expect(card.locator(f'[data-domain="{hostname}"]')).to_have_count(0)
            expect(card.get_by_test_id("domain-notice")).to_contain_text(f"Removed {hostname}")
            assert errors == [], errors

    in_thread(journey)
    assert not CustomDomain.objects.filter(hostname=hostname).exists()
