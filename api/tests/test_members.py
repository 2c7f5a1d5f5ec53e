"""Members, invitations and webhook deliveries through the API, with the Members page's and
the GitHub settings page's rules: refused changes are 409 with the page's message, bodies are
checked by the page's form (fields named), and a delivery's payload never leaves."""

from __future__ import annotations

import pytest
from django.core import mail

from api.tests.conftest import error_of
from github.models import WebhookDelivery
from tenants.invitations import invite
from tenants.models import Invitation


def membership_id(people, user) -> int:
    return people.workspace_a.memberships.get(user=user).pk


def refused_fields(response) -> dict:
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "invalid"
    return error_of(response)["fields"]


def test_members_are_listed_with_roles_for_every_member(people, caller):
    response = caller("member_token").call("GET", "/api/v1/members/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["email"], row["role"]) for row in rows] == [
        ("owner@a.example", "owner"), ("admin@a.example", "admin"),
        ("member@a.example", "member")]
    assert set(rows[0]) == {"id", "name", "email", "role", "joined_at"}
    admins = caller("member").call("GET", "/api/v1/members/?role=admin").json()["results"]
    assert [row["email"] for row in admins] == ["admin@a.example"]
    assert "role" in refused_fields(caller("member").call("GET", "/api/v1/members/?role=boss"))


def test_role_changes_follow_the_members_page(people, caller):
    client = caller("admin_token")
    member = membership_id(people, people.member)
    response = client.call("PATCH", f"/api/v1/members/{member}/", {"role": "admin"})
    assert response.status_code == 200 and response.json()["role"] == "admin"
    event = people.workspace_a.audit.get(action="member.role_changed")
    assert event.actor == people.admin and event.details == {"before": "member",
                                                             "after": "admin"}
    own = client.call("PATCH", f"/api/v1/members/{membership_id(people, people.admin)}/",
                      {"role": "member"})
    assert own.status_code == 409 and "leave" in error_of(own)["message"]
    owner = client.call("PATCH", f"/api/v1/members/{membership_id(people, people.owner)}/",
                        {"role": "member"})
    assert owner.status_code == 409 and error_of(owner)["code"] == "conflict"
    assert "role" in refused_fields(client.call("PATCH", f"/api/v1/members/{member}/",
                                                {"role": "owner"}))
    assert "email" in refused_fields(client.call("PATCH", f"/api/v1/members/{member}/",
                                                 {"role": "admin", "email": "x@y.z"}))


def test_a_removed_member_loses_access_at_once(people, caller):
    theirs = caller("member_token")
    assert theirs.call("GET", "/api/v1/").status_code == 200
    response = caller("owner_token").call(
        "DELETE", f"/api/v1/members/{membership_id(people, people.member)}/")
    assert response.status_code == 204
    assert theirs.call("GET", "/api/v1/").status_code == 401
    assert people.workspace_a.audit.filter(action="member.removed").exists()
    owner = caller("admin").call("DELETE",
                                 f"/api/v1/members/{membership_id(people, people.owner)}/")
    assert owner.status_code == 409


def test_ownership_goes_from_the_owner_to_an_admin_only(people, caller):
    owner = caller("owner_token")
    to_member = owner.call(
        "POST", f"/api/v1/members/{membership_id(people, people.member)}/transfer/")
    assert to_member.status_code == 409 and "admin first" in error_of(to_member)["message"]
    admin_id = membership_id(people, people.admin)
    assert caller("admin_token").call(
        "POST", f"/api/v1/members/{admin_id}/transfer/").status_code == 403
    response = owner.call("POST", f"/api/v1/members/{admin_id}/transfer/")
    assert response.status_code == 200 and response.json()["role"] == "owner"
    roles = dict(people.workspace_a.memberships.values_list("user__email", "role"))
    assert roles["owner@a.example"] == "admin" and roles["admin@a.example"] == "owner"
    assert people.workspace_a.audit.filter(action="member.ownership_transferred").exists()


def test_another_workspaces_membership_is_404(people, caller):
    theirs = people.workspace_b.memberships.get().pk
    for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "transfer/")):
        response = caller("owner_token").call(method, f"/api/v1/members/{theirs}/{suffix}",
                                              {"role": "member"} if method == "PATCH" else None)
        assert response.status_code == 404, (method, response.content)


def test_an_invitation_is_sent_listed_resent_and_revoked(people, caller):
    client = caller("admin_token")
    response = client.call("POST", "/api/v1/invitations/", {"email": " New@A.example "})
    assert response.status_code == 201, response.content
    sent = response.json()
    assert sent["email"] == "new@a.example" and sent["role"] == "member"
    assert sent["invited_by"] == "admin@a.example"
    assert sent["link"].startswith("http://") and sent["link"] in mail.outbox[-1].body
    assert people.workspace_a.audit.filter(action="member.invited").exists()
    listed = client.call("GET", "/api/v1/invitations/").json()["results"]
    assert [row["email"] for row in listed] == ["new@a.example"]
    assert "link" not in listed[0] and "token_hash" not in listed[0]
    again = client.call("POST", f"/api/v1/invitations/{sent['id']}/resend/").json()
    assert again["link"] != sent["link"] and again["link"] in mail.outbox[-1].body
    assert client.call("DELETE", f"/api/v1/invitations/{sent['id']}/").status_code == 204
    assert Invitation.objects.get(pk=sent["id"]).revoked_at is not None
    assert client.call("GET", "/api/v1/invitations/").json()["results"] == []
    assert client.call("DELETE", f"/api/v1/invitations/{sent['id']}/").status_code == 404


@pytest.mark.parametrize(("data", "field"), [
    ({"email": "member@a.example"}, "email"),  # already a member
    ({"email": "not an address"}, "email"),
    ({"email": "x@a.example", "role": "owner"}, "role"),
    ({"role": "member"}, "email"),
    ({"email": "x@a.example", "token": "abc"}, "token"),
])
def test_a_refused_invitation_names_its_field(people, caller, data, field):
    assert field in refused_fields(caller("owner_token").call("POST", "/api/v1/invitations/",
                                                             data))
    assert not Invitation.objects.filter(workspace=people.workspace_a).exists()


def test_an_address_is_invited_once(people, caller):
    client = caller("owner_token")
    assert client.call("POST", "/api/v1/invitations/",
                       {"email": "x@a.example"}).status_code == 201
    assert "email" in refused_fields(client.call("POST", "/api/v1/invitations/",
                                                 {"email": "X@a.example"}))


def test_another_workspaces_invitation_is_404(people, caller):
    invite(people.workspace_b, "x@b.example", "member", people.outsider, "http://panel")
    theirs = people.workspace_b.invitations.get().pk
    client = caller("owner_token")
    assert client.call("DELETE", f"/api/v1/invitations/{theirs}/").status_code == 404
    assert client.call("POST", f"/api/v1/invitations/{theirs}/resend/").status_code == 404


@pytest.fixture
def deliveries(people):
    def make(workspace, delivery_id, event, outcome, **extra):
        return WebhookDelivery.objects.create(
            workspace=workspace, delivery_id=delivery_id, event=event, outcome=outcome,
            body_sha256="0" * 64, payload={"secret": "payload-secret"}, **extra)

    make(people.workspace_a, "d-1", "push", "deployed", message="Deployed web.",
         deployments=[{"id": 1, "service": "web", "number": 3, "environment": "production"}])
    make(people.workspace_a, "d-2", "ping", "ping")
    make(people.workspace_a, "d-3", "pull_request", "preview")
    make(people.workspace_b, "d-4", "push", "deployed")


def test_deliveries_are_listed_newest_first_without_payload(people, deliveries, caller):
    response = caller("admin_token").call("GET", "/api/v1/webhook-deliveries/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["delivery_id"] for row in rows] == ["d-3", "d-2", "d-1"]
    assert b"payload-secret" not in response.content and "payload" not in rows[0]
    assert rows[2]["deployments"][0]["number"] == 3 and rows[2]["message"] == "Deployed web."
    assert {"received_at", "event", "outcome", "message", "deployments"} <= set(rows[0])


def test_deliveries_filter_by_event_and_outcome(people, deliveries, caller):
    client = caller("owner_token")
    pushes = client.call("GET", "/api/v1/webhook-deliveries/?event=push").json()["results"]
    assert [row["delivery_id"] for row in pushes] == ["d-1"]
    pings = client.call("GET", "/api/v1/webhook-deliveries/?outcome=ping").json()["results"]
    assert [row["delivery_id"] for row in pings] == ["d-2"]
    assert "outcome" in refused_fields(
        client.call("GET", "/api/v1/webhook-deliveries/?outcome=maybe"))
    assert "ordering" in refused_fields(
        client.call("GET", "/api/v1/webhook-deliveries/?ordering=payload"))
    theirs = WebhookDelivery.objects.get(delivery_id="d-4").pk
    assert client.call("GET", f"/api/v1/webhook-deliveries/{theirs}/").status_code == 404


def test_members_do_not_see_deliveries(people, deliveries, caller):
    response = caller("member_token").call("GET", "/api/v1/webhook-deliveries/")
    assert response.status_code == 403 and b"push" not in response.content
