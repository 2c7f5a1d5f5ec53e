"""A team forming, in Chromium (the issue's journey): the owner invites on the Members page and
copies the link; the colleague, in a browser of their own, signs up through it, joins, sees the
workspace and deploys; the owner demotes them, removes them, and reads it all back in the audit
log."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from conftest import PASSWORD, chromium_page
from deployments.models import Deployment
from projects.models import Project
from projects.services import create_project, create_service
from projects.tests.test_variables_browser import log_in
from tenants.models import Membership, User
from tenants.tests.test_browser import TIMEOUT_MS, in_thread

COLLEAGUE = "colleague.browser@a.example"


@pytest.mark.browser
def test_invite_join_deploy_demote_remove_and_read_it_back_in_the_audit_log(
        committed_db, panel_server):
    people = committed_db
    port = panel_server.rsplit(":", 1)[1]
    workspace_url = f"http://{people.workspace_a.hostname}:{port}"
    with tenant_context(people.workspace_a):
        project = create_project("Team journey")
        service = create_service(project.environments.get(), "journey",
                                 repository_url="https://github.com/acme/journey.git")

    def journey() -> None:
        with chromium_page(TIMEOUT_MS) as page:
            log_in(page, panel_server, people.owner.email, PASSWORD)
            page.goto(f"{workspace_url}/members/")
            page.fill("input[name=email]", COLLEAGUE)
            page.select_option("#id_role", "admin")  # the invitation's (rows have theirs)
            page.click("[data-action=invite]")
            status = page.get_by_role("status")
            expect(status).to_contain_text(f"Invitation sent to {COLLEAGUE}")
            link = re.search(r"http://\S+/invitations/\S+/", status.inner_text()).group(0)
            expect(page.get_by_test_id("invitation-list")).to_contain_text(COLLEAGUE)

            colleague = page.context.browser.new_context().new_page()  # no shared cookies
            colleague.goto(link)
            expect(colleague.get_by_test_id("invitation")).to_contain_text("Join Team A")
            colleague.click("[data-action=sign-up]")
            expect(colleague.locator("input[name=email]")).to_have_value(COLLEAGUE)
            colleague.fill("input[name=name]", "Cora Colleague")
            colleague.fill("input[name=password1]", PASSWORD)
            colleague.fill("input[name=password2]", PASSWORD)
            colleague.get_by_role("button", name="Sign up").click()
            colleague.click("[data-action=accept-invitation]")
            colleague.wait_for_url(f"{workspace_url}/")
            expect(colleague.get_by_test_id("workspace-name")).to_have_text("Team A")
            colleague.goto(f"{workspace_url}/services/{service.pk}/")
            colleague.click("[data-action=deploy]")
            expect(colleague.get_by_test_id("deployments")).to_contain_text("#1")

            page.goto(f"{workspace_url}/members/")
            expect(page.get_by_test_id("invitation-list")).to_have_count(0)
            row = page.locator(f"[data-testid=member][data-email='{COLLEAGUE}']")
            expect(row.get_by_test_id("member-role")).to_have_text("Admin")
            row.locator("select[name=role]").select_option("member")
            row.locator("[data-action=change-role]").click()
            expect(row.get_by_test_id("member-role")).to_have_text("Member")
            page.once("dialog", lambda dialog: dialog.accept())
            row.locator("[data-action=remove-member]").click()
            expect(page.get_by_role("status")).to_contain_text("no longer has access")
            expect(page.get_by_test_id("member-list")).not_to_contain_text(COLLEAGUE)
            colleague.goto(f"{workspace_url}/")
            expect(colleague.locator("body")).not_to_contain_text("Team journey")

            page.goto(f"{workspace_url}/audit/")
            log = page.get_by_test_id("audit-events")
            for action in ("member.invited", "member.joined", "deployment.deployed",
                           "member.role_changed", "member.removed"):
                expect(log.locator(f"[data-action='{action}']")).to_have_count(1)
            expect(log.locator("[data-action='deployment.deployed']")).to_contain_text(COLLEAGUE)

    try:
        in_thread(journey)
        assert not Membership.objects.filter(user__email=COLLEAGUE,
                                             workspace=people.workspace_a).exists()
    finally:
        User.objects.filter(email=COLLEAGUE).delete()
        people.workspace_a.invitations.all().delete()
        people.workspace_a.audit.all().delete()
        with tenant_context(people.workspace_a):
            Deployment.objects.filter(service=service).delete()
            Project.objects.filter(pk=project.pk).delete()
