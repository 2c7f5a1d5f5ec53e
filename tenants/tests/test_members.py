"""The Members page: who may see it and change what, the rules of roles and ownership, and a
removed member cut off at once, open WebSocket included."""

from __future__ import annotations

import asyncio
import html

import pytest
import websockets

from conftest import PASSWORD
from deployments.consumers import CLOSE_NOT_FOUND
from deployments.tests.test_events import open_socket, session_cookie
from tenants.models import Membership, User
from tenants.roles import Role


def membership(people, who: str) -> Membership:
    return Membership.objects.get(user=getattr(people, who), workspace=people.workspace_a)


def page_of(response) -> str:
    return html.unescape(response.content.decode())


@pytest.mark.parametrize("who, status", [("owner", 200), ("admin", 200), ("member", 200),
                                         ("outsider", 404)])
def test_every_member_sees_who_is_in_the_workspace_outsiders_do_not(people, client_for, who,
                                                                    status):
    response = client_for(getattr(people, who), people.workspace_a).get("/members/")
    assert response.status_code == status
    if status == 200:
        page = response.content.decode()
        for person in ("owner", "admin", "member"):
            assert getattr(people, person).email in page
        assert people.outsider.email not in page


def test_anonymous_visitors_are_sent_to_log_in(people, client_for):
    response = client_for(None, people.workspace_a).get("/members/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("who, allowed", [("owner", True), ("admin", True), ("member", False),
                                          ("outsider", False)])
def test_owners_and_admins_change_roles_and_members_cannot(people, client_for, who, allowed):
    target = membership(people, "member") if who != "member" else membership(people, "admin")
    response = client_for(getattr(people, who), people.workspace_a).post(
        f"/members/{target.pk}/role/", {"role": "admin" if who != "member" else "member"})
    target.refresh_from_db()
    if allowed:
        assert response.status_code == 302 and target.role == Role.ADMIN
    else:
        assert response.status_code in (403, 404)
        assert target.role == (Role.ADMIN if who == "member" else Role.MEMBER)


@pytest.mark.parametrize("role", ["owner", "superuser", "", "ADMIN"])
def test_a_role_that_cannot_be_given_changes_nothing(people, client_for, role):
    target = membership(people, "member")
    response = client_for(people.owner, people.workspace_a).post(
        f"/members/{target.pk}/role/", {"role": role}, follow=True)
    target.refresh_from_db()
    assert target.role == Role.MEMBER
    assert "Choose admin or member." in response.content.decode()


def test_the_owner_cannot_be_demoted_or_removed(people, client_for):
    owner = membership(people, "owner")
    admin = client_for(people.admin, people.workspace_a)
    for url, data in ((f"/members/{owner.pk}/role/", {"role": "member"}),
                      (f"/members/{owner.pk}/remove/", {})):
        page = page_of(admin.post(url, data, follow=True))
        assert "The owner's role changes only when they hand the workspace over." in page
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_a_member_of_another_workspace_is_not_found(people, client_for):
    other = Membership.objects.get(user=people.outsider, workspace=people.workspace_b)
    owner = client_for(people.owner, people.workspace_a)
    for url, data in ((f"/members/{other.pk}/role/", {"role": "admin"}),
                      (f"/members/{other.pk}/remove/", {}),
                      (f"/members/{other.pk}/transfer/", {})):
        assert owner.post(url, data).status_code == 404
    other.refresh_from_db()
    assert other.role == Role.OWNER


def test_admins_remove_members_and_access_ends(people, client_for):
    target = membership(people, "member")
    assert client_for(people.admin, people.workspace_a).post(
        f"/members/{target.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=target.pk).exists()
    assert client_for(people.member, people.workspace_a).get("/").status_code == 404


def test_only_the_owner_hands_over_and_only_to_an_admin(people, client_for):
    admin, member = membership(people, "admin"), membership(people, "member")
    assert client_for(people.admin, people.workspace_a).post(
        f"/members/{member.pk}/transfer/").status_code == 403
    owner = client_for(people.owner, people.workspace_a)
    page = owner.post(f"/members/{member.pk}/transfer/", follow=True).content.decode()
    assert "Make them an admin first" in page
    assert owner.post(f"/members/{admin.pk}/transfer/").status_code == 302
    admin.refresh_from_db()
    assert admin.role == Role.OWNER
    assert membership(people, "owner").role == Role.ADMIN
    assert Membership.objects.filter(workspace=people.workspace_a, role=Role.OWNER).count() == 1


def test_members_leave_and_the_owner_cannot(people, client_for):
    page = client_for(people.owner, people.workspace_a).post(
        "/members/leave/", follow=True).content.decode()
    assert "The owner cannot leave" in page
    response = client_for(people.member, people.workspace_a).post("/members/leave/")
    assert response.status_code == 302
    assert not Membership.objects.filter(user=people.member,
                                         workspace=people.workspace_a).exists()


def test_nobody_changes_their_own_membership_on_the_page(people, client_for):
    own = membership(people, "admin")
    page = client_for(people.admin, people.workspace_a).post(
        f"/members/{own.pk}/role/", {"role": "member"}, follow=True).content.decode()
    assert "leave the workspace instead" in page
    own.refresh_from_db()
    assert own.role == Role.ADMIN


def test_a_removed_member_is_cut_off_an_open_websocket_at_once(committed_db, panel_server):
    people = committed_db
    newcomer = User.objects.create_user("newcomer@a.example", PASSWORD, name="Nina Newcomer")
    joined = Membership.objects.create(user=newcomer, workspace=people.workspace_a)
    cookie = session_cookie(newcomer)

    async def scenario() -> int:
        async with await open_socket(panel_server, people.workspace_a.hostname, cookie) as ws:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(Membership.objects.filter(pk=joined.pk).delete)
            await ws.send("anything")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=10)
            return closed.value.rcvd.code

    try:
        assert asyncio.run(scenario()) == CLOSE_NOT_FOUND
    finally:
        newcomer.delete()
