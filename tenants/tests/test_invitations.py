"""Invitations: owners and admins invite by email with a role; the link works once, for the
invited address, signed in or signing up; used, expired, revoked, replaced or tampered links
and other accounts are refused with a clear page, and nothing is joined."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import PASSWORD
from tenants.invitations import token_hash
from tenants.models import Invitation, Membership, User
from tenants.roles import Role

INVITEE = "new.colleague@a.example"


def invite(client, email: str = INVITEE, role: str = "member"):
    return client.post("/members/invite/", {"email": email, "role": role})


def link_in(mailoutbox) -> str:
    return re.search(r"http://\S+/invitations/\S+/", mailoutbox[-1].body).group(0)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def owner(people, client_for):
    return client_for(people.owner, people.workspace_a)


def test_an_owner_invites_by_email_and_the_link_is_sent_and_shown(people, owner, mailoutbox):
    response = invite(owner, role="admin")
    assert response.status_code == 302
    assert mailoutbox[-1].to == [INVITEE]
    link = link_in(mailoutbox)
    assert link.startswith("http://panel.localhost")
    shown = page(owner.get("/members/"))
    assert link in shown  # to share another way
    assert 'data-email="new.colleague@a.example"' in shown  # pending
    invitation = Invitation.objects.get(email=INVITEE)
    token = path_of(link).split("/")[2]
    assert invitation.token_hash == token_hash(token) and token not in invitation.token_hash
    assert invitation.role == Role.ADMIN and invitation.invited_by == people.owner


@pytest.mark.parametrize("who, status", [("admin", 302), ("member", 403), ("outsider", 404)])
def test_admins_invite_and_members_and_outsiders_cannot(people, client_for, who, status):
    assert invite(client_for(getattr(people, who), people.workspace_a)).status_code == status
    assert Invitation.objects.filter(email=INVITEE).exists() == (status == 302)


@pytest.mark.parametrize("email, role, field, error", [
    ("member@a.example", "member", "email", "already a member"),
    ("MEMBER@A.EXAMPLE", "member", "email", "already a member"),
    ("not an address", "member", "email", "valid email"),
    (INVITEE, "owner", "role", "Select a valid choice"),
    (INVITEE, "superuser", "role", "Select a valid choice"),
])
def test_bad_invitations_are_field_errors_and_change_nothing(people, owner, email, role, field,
                                                             error, mailoutbox):
    response = invite(owner, email, role)
    assert response.status_code == 400
    errors = re.findall(rf'data-field-error="{field}">([^<]*)<', page(response))
    assert errors and error in errors[0]
    assert not Invitation.objects.exists() and not mailoutbox


def test_an_address_already_invited_is_a_field_error(people, owner):
    invite(owner)
    response = invite(owner)
    assert response.status_code == 400 and "already invited" in page(response)
    assert Invitation.objects.filter(email=INVITEE).count() == 1


def test_the_invited_account_joins_once_with_the_role(people, owner, client_for, mailoutbox):
    invite(owner, role="admin")
    link = path_of(link_in(mailoutbox))
    invitee = User.objects.create_user(INVITEE, PASSWORD, name="Nico Colleague")
    client = client_for(invitee)
    shown = page(client.get(link))
    assert "Join Team A" in shown and 'data-action="accept-invitation"' in shown
    response = client.post(link + "accept/")
    assert response.status_code == 302 and people.workspace_a.hostname in response["Location"]
    assert Membership.objects.get(user=invitee, workspace=people.workspace_a).role == Role.ADMIN
    again = client.post(link + "accept/")
    assert again.status_code == 410 and "already been used" in page(again)
    assert "already been used" in page(client.get(link))


def test_a_new_user_signs_up_through_the_link_and_joins(people, owner, client, mailoutbox):
    invite(owner)
    link = path_of(link_in(mailoutbox))
    shown = page(client.get(link))
    signup = re.search(r'href="(/signup/\?[^"]+)"', shown).group(1)
    assert "email=new.colleague%40a.example" in signup
    response = client.post(signup, {"email": INVITEE, "name": "Nico Colleague",
                                    "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and response["Location"] == link
    assert client.post(link + "accept/").status_code == 302
    assert Membership.objects.filter(user__email=INVITEE, workspace=people.workspace_a,
                                     role=Role.MEMBER).exists()


def test_another_signed_in_account_is_refused(people, owner, client_for, mailoutbox):
    invite(owner)
    link = path_of(link_in(mailoutbox))
    outsider = client_for(people.outsider)
    assert "This invitation is for new.colleague@a.example" in page(outsider.get(link))
    response = outsider.post(link + "accept/")
    assert response.status_code == 410 and "you are signed in as outsider@b.example" in page(
        response)
    assert not Membership.objects.filter(user=people.outsider,
                                         workspace=people.workspace_a).exists()
    assert Invitation.objects.get(email=INVITEE).accepted_at is None


@pytest.mark.parametrize("spoil, problem", [
    ("expire", "expired"), ("revoke", "withdrawn"), ("tamper", "not valid"),
])
def test_expired_revoked_and_tampered_links_join_nothing(people, owner, client_for, mailoutbox,
                                                         spoil, problem):
    invite(owner)
    link = path_of(link_in(mailoutbox))
    invitation = Invitation.objects.get(email=INVITEE)
    if spoil == "expire":
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1))
    elif spoil == "revoke":
        assert owner.post(f"/members/invitations/{invitation.pk}/revoke/").status_code == 302
    else:
        link = link[:-3] + ("A" if link[-3] != "A" else "B") + link[-2:]
    invitee = client_for(User.objects.create_user(INVITEE, PASSWORD, name="Nico"))
    for response in (invitee.get(link), invitee.post(link + "accept/")):
        assert response.status_code == 410 and problem in page(response)
    assert not Membership.objects.filter(user__email=INVITEE).exists()


def test_resending_replaces_the_link(people, owner, client_for, mailoutbox):
    invite(owner)
    first = path_of(link_in(mailoutbox))
    invitation = Invitation.objects.get(email=INVITEE)
    assert owner.post(f"/members/invitations/{invitation.pk}/resend/").status_code == 302
    second = path_of(link_in(mailoutbox))
    assert first != second and len(mailoutbox) == 2
    invitee = client_for(User.objects.create_user(INVITEE, PASSWORD, name="Nico"))
    assert invitee.post(first + "accept/").status_code == 410
    assert invitee.post(second + "accept/").status_code == 302


def test_another_workspaces_invitation_is_not_found(people, client_for, mailoutbox):
    invite(client_for(people.outsider, people.workspace_b))
    theirs = Invitation.objects.get(email=INVITEE)
    owner = client_for(people.owner, people.workspace_a)
    for action in ("resend", "revoke"):
        assert owner.post(f"/members/invitations/{theirs.pk}/{action}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None and len(mailoutbox) == 1
