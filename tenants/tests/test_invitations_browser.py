"""An invitation as people use it, in Chromium: the owner invites on the Members page and
copies the link; the colleague, in a browser of their own, signs up through it, joins, and
sees the workspace; the owner sees them listed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, chromium_page
from projects.tests.test_variables_browser import log_in
from tenants.models import Membership, User
from tenants.tests.test_browser import TIMEOUT_MS, in_thread

COLLEAGUE = "colleague.browser@a.example"


@pytest.mark.browser
def test_invite_copy_the_link_sign_up_with_it_elsewhere_and_see_the_workspace(
        committed_db, panel_server):
    people = committed_db
    port = panel_server.rsplit(":", 1)[1]
    workspace_url = f"http://{people.workspace_a.hostname}:{port}"

    def journey() -> None:
        with chromium_page(TIMEOUT_MS) as page:
            log_in(page, panel_server, people.owner.email, PASSWORD)
            page.goto(f"{workspace_url}/members/")
            page.fill("input[name=email]", COLLEAGUE)
            page.select_option("select[name=role]", "member")
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

            page.goto(f"{workspace_url}/members/")
            expect(page.get_by_test_id("member-list")).to_contain_text(COLLEAGUE)
            expect(page.get_by_test_id("invitation-list")).to_have_count(0)

    try:
        in_thread(journey)
        assert Membership.objects.get(user__email=COLLEAGUE,
                                      workspace=people.workspace_a).role == "member"
    finally:
        User.objects.filter(email=COLLEAGUE).delete()
        people.workspace_a.invitations.all().delete()
