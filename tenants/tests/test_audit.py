"""The audit log: each sensitive action recorded with who, when, from where, what and on what;
never a secret value; readable by owners and admins, filtered; kept PAAS_AUDIT_DAYS."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from deployments.models import Deployment, Status
from projects.models import Service, Variable
from projects.services import create_project, create_service
from projects.variables import stage
from tenants import audit
from tenants.models import AuditAction, AuditEvent, Invitation, Membership

SECRET = "s3cr3t-audit-value-4711"


def events(workspace, action: AuditAction | None = None) -> list[AuditEvent]:
    found = AuditEvent.objects.filter(workspace=workspace)
    return list(found.filter(action=action) if action else found)


@pytest.fixture
def service(people):
    with tenant_context(people.workspace_a):
        project = create_project("Audited")
        return create_service(project.environments.get(), "web",
                              repository_url="https://github.com/acme/web.git")


@pytest.mark.parametrize("who, status", [("owner", 200), ("admin", 200), ("member", 403),
                                         ("outsider", 404)])
def test_owners_and_admins_read_the_audit_log(people, client_for, who, status):
    assert client_for(getattr(people, who), people.workspace_a).get("/audit/").status_code == (
        status)


def test_member_changes_are_recorded_with_who_where_and_on_whom(people, client_for):
    owner = client_for(people.owner, people.workspace_a)
    member = Membership.objects.get(user=people.member, workspace=people.workspace_a)
    owner.post("/members/invite/", {"email": "new@a.example", "role": "member"},
               REMOTE_ADDR="203.0.113.9")
    invitation = Invitation.objects.get(email="new@a.example")
    owner.post(f"/members/invitations/{invitation.pk}/resend/")
    owner.post(f"/members/invitations/{invitation.pk}/revoke/")
    owner.post(f"/members/{member.pk}/role/", {"role": "admin"})
    owner.post(f"/members/{member.pk}/remove/")
    admin = Membership.objects.get(user=people.admin, workspace=people.workspace_a)
    owner.post(f"/members/{admin.pk}/transfer/")
    recorded = {event.action: event for event in events(people.workspace_a)}
    assert set(recorded) >= {AuditAction.INVITED, AuditAction.INVITATION_RESENT,
                             AuditAction.INVITATION_REVOKED, AuditAction.ROLE_CHANGED,
                             AuditAction.REMOVED, AuditAction.OWNERSHIP_TRANSFERRED}
    invited = recorded[AuditAction.INVITED]
    assert (invited.actor, invited.actor_email, invited.address) == (
        people.owner, people.owner.email, "203.0.113.9")
    assert recorded[AuditAction.ROLE_CHANGED].details == {"before": "member", "after": "admin"}
    assert recorded[AuditAction.REMOVED].target == str(people.member)
    assert recorded[AuditAction.OWNERSHIP_TRANSFERRED].target == str(people.admin)


def test_leaving_is_recorded(people, client_for):
    client_for(people.member, people.workspace_a).post("/members/leave/")
    (left,) = events(people.workspace_a, AuditAction.LEFT)
    assert left.actor == people.member


def test_secrets_and_variables_are_recorded_by_key_never_by_value(people, client_for, service):
    owner = client_for(people.owner, people.workspace_a)
    with tenant_context(people.workspace_a):
        stage(service, "API_TOKEN", SECRET, people.owner)
    owner.post(f"/services/{service.pk}/variables/apply/")
    with tenant_context(people.workspace_a):
        variable = Variable.objects.get(service=service, key="API_TOKEN")
    owner.post(f"/services/{service.pk}/variables/{variable.pk}/reveal/")
    (changed,) = events(people.workspace_a, AuditAction.VARIABLES_CHANGED)
    assert changed.details == {"set": ["API_TOKEN"], "deleted": []}
    (revealed,) = events(people.workspace_a, AuditAction.SECRET_REVEALED)
    assert revealed.details == {"key": "API_TOKEN"} and revealed.actor == people.owner
    everything = json.dumps([[e.target, e.details] for e in events(people.workspace_a)])
    assert SECRET not in everything
    assert SECRET not in owner.get("/audit/").content.decode()


def test_deploys_stops_and_settings_changes_are_recorded(people, client_for, service):
    owner = client_for(people.owner, people.workspace_a)
    assert owner.post(f"/services/{service.pk}/deploy/").status_code in (200, 204, 302)
    (deployed,) = events(people.workspace_a, AuditAction.DEPLOYED)
    assert deployed.actor == people.owner and deployed.details["service"] == "web"
    owner.post(f"/services/{service.pk}/settings/", {
        "repository_url": "https://github.com/acme/other.git", "branch": "main",
        "build_timeout": 30, "instances": 2, "healthcheck_timeout": 60,
        "restart_policy": "on-failure", "max_restarts": 10, "auto_rollback": "on"})
    (settings_changed,) = events(people.workspace_a, AuditAction.SETTINGS_CHANGED)
    assert {"repository_url", "instances"} <= set(settings_changed.details["fields"])
    created = {e.target_type for e in events(people.workspace_a, AuditAction.CREATED)}
    assert created == {"project", "service"}


def test_the_log_filters_by_person_and_by_action(people, client_for):
    owner = client_for(people.owner, people.workspace_a)
    owner.post("/members/invite/", {"email": "new@a.example", "role": "member"})
    client_for(people.member, people.workspace_a).post("/members/leave/")
    by_owner = owner.get("/audit/", {"person": people.owner.email}).content.decode()
    assert 'data-action="member.invited"' in by_owner and 'data-action="member.left"' not in (
        by_owner)
    left = owner.get("/audit/", {"action": "member.left"}).content.decode()
    assert 'data-action="member.left"' in left and 'data-action="member.invited"' not in left
    assert owner.get("/audit/", {"action": "<script>"}).status_code == 200  # ignored


def test_a_workspaces_log_shows_only_its_own_events(people, client_for):
    client_for(people.outsider, people.workspace_b).post(
        "/members/invite/", {"email": "theirs@b.example", "role": "member"})
    page = client_for(people.owner, people.workspace_a).get("/audit/").content.decode()
    assert "theirs@b.example" not in page


def test_events_older_than_the_retention_are_forgotten(people):
    with override_settings(PAAS_AUDIT_DAYS=90):
        old = audit.record(AuditAction.STOPPED, workspace=people.workspace_a)
        recent = audit.record(AuditAction.STOPPED, workspace=people.workspace_a)
        AuditEvent.objects.filter(pk=old.pk).update(
            created_at=timezone.now() - timedelta(days=91))
        assert audit.prune() == 1
    assert list(AuditEvent.objects.filter(pk__in=[old.pk, recent.pk])) == [recent]


def test_stops_restarts_cancels_rollbacks_and_deletions_are_recorded(people, client_for,
                                                                    service):
    owner = client_for(people.owner, people.workspace_a)
    with tenant_context(people.workspace_a):
        earlier = Deployment.objects.create(service=service, number=1,
                                            status=Status.SUPERSEDED, release_kept=True,
                                            commit_sha="a" * 40)
        active = Deployment.objects.create(service=service, number=2, status=Status.ACTIVE,
                                           commit_sha="b" * 40)
        queued = Deployment.objects.create(service=service, number=3, status=Status.QUEUED)
        Service.objects.filter(pk=service.pk).update(active_deployment=active)
    owner.post(f"/services/{service.pk}/restart/")
    owner.post(f"/deployments/{queued.pk}/cancel/")
    owner.post(f"/deployments/{earlier.pk}/rollback/")
    owner.post(f"/services/{service.pk}/stop/")
    owner.post(f"/projects/{service.environment.project_id}/delete/")
    recorded = {event.action: event for event in events(people.workspace_a)}
    for action in (AuditAction.RESTARTED, AuditAction.CANCELLED, AuditAction.ROLLED_BACK,
                   AuditAction.STOPPED, AuditAction.DELETED):
        assert action in recorded, action
        assert recorded[action].actor == people.owner
    assert recorded[AuditAction.ROLLED_BACK].details["to"] == 1
    assert recorded[AuditAction.DELETED].target_type == "project"
