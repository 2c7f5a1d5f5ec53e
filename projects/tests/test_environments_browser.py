"""The environment switcher and the "New environment" form in a real Chromium."""

from __future__ import annotations

import re
import uuid

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from conftest import PASSWORD, chromium_page
from projects.environments import copy_environment
from projects.models import Environment
from projects.services import create_project, create_service
from projects.tests.test_variables_browser import log_in


@pytest.fixture
def project(committed_db):
    """A committed project with production (web, api) and a preview; removed after."""
    with tenant_context(committed_db.workspace_a):
        project = create_project(f"Switch {uuid.uuid4().hex[:6]}")
        production = project.environments.get()
        create_service(production, "web", repository_url="https://github.com/acme/web.git")
        create_service(production, "api", repository_url="https://github.com/acme/api.git")
        copy_environment(production, "pr-4", services=[production.services.get(name="web")],
                         pull_request=4, pull_request_title="Dark mode", head_branch="dark",
                         head_sha="c" * 40,
                         pull_request_url="https://github.com/acme/web/pull/4")
    yield project
    with tenant_context(committed_db.workspace_a):
        project.delete()


@pytest.mark.browser
def test_switch_environments_and_create_a_copy(panel_server, committed_db, project):
    from tenants.tests.test_browser import TIMEOUT_MS, in_thread, shoot

    people = committed_db
    port = panel_server.rsplit(":", 1)[1]
    project_url = f"http://{people.workspace_a.hostname}:{port}/projects/{project.pk}/"

    def journey() -> None:
        with chromium_page(TIMEOUT_MS) as page:
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, panel_server, people.owner.email, PASSWORD)
            page.goto(project_url)
            services = page.get_by_test_id("service-link")
            expect(services).to_have_count(2)
            page.locator('[data-testid=environment-tab][data-environment="pr-4"]').click()
            expect(page.get_by_test_id("preview")).to_contain_text("PR #4")
            expect(page.get_by_test_id("preview")).to_contain_text("Dark mode")
            expect(services).to_have_count(1)
            shoot(page, "project-preview-environment")

            page.locator('[data-testid=environment-tab][data-environment="production"]').click()
            page.get_by_test_id("new-environment-link").click()
            form = page.get_by_test_id("environment-form")
            form.locator("input[name=name]").fill("production")
            form.get_by_role("button", name="Create environment").click()
            expect(page.locator("[data-field-error=name]")).to_contain_text("already has")
            page.locator("input[name=name]").fill("staging")
            expect(page.locator("select[name=copy_of]")).to_have_value(
                re.compile(r"^\d+$"))
            page.get_by_role("button", name="Create environment").click()
            expect(page.locator('[aria-current=page]')).to_have_text("staging")
            expect(page.get_by_test_id("service-link")).to_have_count(2)
            shoot(page, "project-new-environment")
            assert errors == [], errors

    in_thread(journey)
    with tenant_context(people.workspace_a):
        staging = Environment.objects.get(project=project, name="staging")
        assert staging.copied_from.name == "production"
        assert sorted(staging.services.values_list("name", flat=True)) == ["api", "web"]
