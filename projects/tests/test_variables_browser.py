"""The variable editor in a real browser (Playwright driving Debian's Chromium): an owner
reveals, stages, applies and tries a broken raw text; a member sees keys only."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from conftest import chromium_page
from projects.models import StagedChange, VariableReveal
from projects.services import create_project, create_service
from projects.tests.test_variables_ui import SECRETS
from projects.variables import apply_staged, current_values, stage


@pytest.fixture
def browser_world(committed_db):
    """A committed project in workspace A (the panel runs in another process); removed after."""
    import uuid

    from conftest import PASSWORD

    people = committed_db
    with tenant_context(people.workspace_a):
        project = create_project(f"Browser {uuid.uuid4().hex[:6]}")
        environment = project.environments.get()
        service = create_service(environment, "web",
                                 repository_url="https://github.com/acme/web.git")
        stage(service, "SECRET_ONE", SECRETS[0], people.owner)
        stage(service, "DATABASE_URL", f"postgres://app:{SECRETS[1]}@db/app", people.owner)
        stage(service, "API_BASE", "${{ shared.API_HOST }}/v1", people.owner)
        apply_staged(service)
        stage(environment, "REGION", "eu-west", people.owner)
        apply_staged(environment)
    yield people, service, PASSWORD
    with tenant_context(people.workspace_a):
        VariableReveal.objects.filter(owner_type="service", owner_id=service.pk).delete()
        project.delete()


def log_in(page: object, panel_server: str, email: str, password: str) -> None:
    page.goto(f"{panel_server}/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


@pytest.mark.browser
def test_in_a_browser_reveal_stage_apply_and_the_raw_editor(panel_server, browser_world):
    from tenants.tests.test_browser import (
        TIMEOUT_MS,
        in_thread,
        shoot,
    )

    people, service, password = browser_world
    port = panel_server.rsplit(":", 1)[1]
    workspace_url = f"http://{people.workspace_a.hostname}:{port}"
    service_url = f"{workspace_url}/services/{service.pk}/"
    project_url = f"{workspace_url}/projects/{service.environment.project_id}/"

    def journey() -> None:

        with chromium_page(TIMEOUT_MS, height=900) as page:
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, panel_server, people.owner.email, password)

            # A service is added inline on the project page; errors stay in the form.
            page.goto(project_url)
            page.get_by_role("link", name="New service").click()
            form = page.get_by_test_id("service-form")
            form.locator("input[name=name]").fill("Api")
            form.get_by_role("button", name="Create service").click()
            expect(page.locator("[data-field-error=name]")).to_contain_text("lowercase")
            page.locator("input[name=name]").fill("api")
            page.locator("input[name=repository_url]").fill("https://github.com/acme/api")
            shoot(page, "project-new-service")
            page.get_by_role("button", name="Create service").click()
            expect(page.get_by_test_id("service-name")).to_have_text("api")
            expect(page.get_by_test_id("service-domain")).to_contain_text(
                "api-team-a.apps.localhost")

            page.goto(service_url)
            expect(page.get_by_test_id("service-name")).to_have_text("web")
            rows = page.get_by_test_id("variable-rows")
            expect(rows).to_contain_text("SECRET_ONE")
            assert SECRETS[0] not in page.content()
            expect(page.get_by_test_id("reference-warnings")).to_contain_text("API_BASE")

            row = page.locator('[data-variable="SECRET_ONE"]')
            row.get_by_role("button", name="Reveal").click()
            expect(row.get_by_test_id("revealed-value")).to_have_text(SECRETS[0])

            add = page.get_by_test_id("add-variable")
            add.locator("input[name=key]").fill("1BAD")
            add.locator("textarea[name=value]").fill("x")
            add.get_by_role("button", name="Add").click()
            expect(page.locator("[data-field-error=key]")).to_contain_text("digit")
            add = page.get_by_test_id("add-variable")
            add.locator("input[name=key]").fill("NEW_FEATURE_FLAG")
            add.get_by_role("button", name="Add").click()
            staged = page.get_by_test_id("staged")
            expect(staged).to_contain_text("1 staged change")
            page.locator('[data-variable="DATABASE_URL"]').get_by_role(
                "button", name="Delete DATABASE_URL").click()
            expect(page.get_by_role("button", name="Apply 2 changes")).to_be_visible()
            row = page.locator('[data-variable="SECRET_ONE"]')
            row.get_by_role("button", name="Reveal").click()
            expect(row.get_by_test_id("revealed-value")).to_have_text(SECRETS[0])
            shoot(page, "service-variables-staged")

            page.get_by_role("button", name="Apply 2 changes").click()
            applied = page.get_by_test_id("applied")
            expect(applied).to_contain_text("Applied 2 changes.")
            redeploy = applied.get_by_role("button", name="Redeploy")
            expect(redeploy).to_be_disabled()
            expect(redeploy).to_have_attribute("title", "Deploy once before redeploying")
            shoot(page, "service-variables-applied")

            page.locator("[data-action=raw-editor]").click()
            raw = page.locator("textarea[name=text]")
            expect(raw).to_have_value(re.compile("NEW_FEATURE_FLAG=x\n"))
            raw.fill("A=1\nBROKEN LINE\n")
            page.get_by_role("button", name="Stage changes").click()
            expect(page.locator("[data-field-error=text]")).to_contain_text("line 2")
            shoot(page, "service-variables-raw-error")
            assert errors == [], errors

            # A member: keys, masked, and nothing to click.
            member = page.context.browser.new_page(viewport={"width": 1280, "height": 900})
            log_in(member, panel_server, people.member.email, password)
            member.goto(service_url)
            expect(member.get_by_test_id("variable-rows")).to_contain_text("SECRET_ONE")
            assert member.get_by_role("button", name="Reveal").count() == 0
            assert member.get_by_test_id("add-variable").count() == 0
            assert "s3cr3t" not in member.content()
            shoot(member, "service-variables-member")

    in_thread(journey)
    with tenant_context(people.workspace_a):
        assert current_values(service)["NEW_FEATURE_FLAG"] == "x"
        assert "DATABASE_URL" not in current_values(service)
        assert not StagedChange.objects.filter(service=service).exists()
        keys = sorted(VariableReveal.objects.filter(owner_id=service.pk).values_list("key",
                                                                                    flat=True))
    assert keys == ["*", "SECRET_ONE", "SECRET_ONE"]
