"""The deployments of a service as each role (and an attacker) sees them: the service page's
active deployment, buttons and list; Deploy, Redeploy, Restart, Stop, Cancel and Rollback (the
deployment page: test_deployment_page). No worker runs here: actions leave their rows queued,
and the broker's queue shows what was enqueued."""

from __future__ import annotations

import re
from datetime import timedelta

import dramatiq
import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from deployments.engine.releases import Manifest, create_release_dir, remove_release_dir
from deployments.models import Deployment, Status, Trigger
from deployments.tasks import this_host
from projects.models import Service
from projects.services import create_project, create_service

HX = {"HTTP_HX_REQUEST": "true"}
SHA = "3f2a9c41d0b7e6a5c4b3a291807f6e5d4c3b2a19"
OLD_SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


@pytest.fixture
def service(people) -> Service:
    with tenant_context(people.workspace_a):
        environment = create_project("Shop").environments.get()
        return create_service(environment, "web", repository_url="https://github.com/acme/web.git")


def make(people, service: Service, number: int, status: Status, **fields) -> Deployment:
    now = timezone.now()
    defaults = {"trigger": Trigger.MANUAL, "triggered_by": "owner@a.example"}
    if status != Status.QUEUED:
        defaults["started_at"] = now - timedelta(minutes=10, seconds=number * 10)
    if status not in (Status.QUEUED, Status.BUILDING, Status.DEPLOYING):
        defaults["finished_at"] = defaults["started_at"] + timedelta(seconds=83)
    with tenant_context(people.workspace_a):
        deployment = Deployment.objects.create(service=service, number=number, status=status,
                                               **{**defaults, **fields})
        if status == Status.ACTIVE:
            Service.objects.filter(pk=service.pk).update(active_deployment=deployment)
        return deployment


@pytest.fixture
def release(people):
    """A kept release for a deployment (on disk, and recorded as kept: what rollbacks are
    offered from); removed after."""
    made = []

    def keep(deployment: Deployment) -> Deployment:
        with tenant_context(people.workspace_a):
            path = create_release_dir(deployment)
            Manifest(runtime="node", app_dir=".", processes={"web": ["npm", "start"]}).write(path)
            Deployment.objects.filter(pk=deployment.pk).update(release_dir=str(path),
                                                               release_kept=True)
            made.append((path, deployment))
        return deployment

    yield keep
    with tenant_context(people.workspace_a):
        for path, deployment in made:
            remove_release_dir(path, deployment)


def work_sent(callbacks: list) -> list:
    """The commit callbacks that send work to a worker (the pages' live events, the
    status_changed signal of Deployment.publish_changed and log lines aside)."""
    return [callback for callback in callbacks
            if "publish_on_commit" not in callback.__qualname__
            and "publish_changed" not in callback.__qualname__
            and "store_and_publish" not in callback.__qualname__]


def deployments_of(people, service: Service) -> list[tuple]:
    with tenant_context(people.workspace_a):
        return list(Deployment.objects.filter(service=service).order_by("number").values_list(
            "number", "status", "trigger", "triggered_by", "commit_sha"))


def rows(html: str) -> list[tuple[str, str]]:
    """(number, status) of each row of the deployments list, top to bottom."""
    return re.findall(r'data-deployment="(\d+)" data-status="(\w+)"', html)


def row(html: str, number: int) -> str:
    match = re.search(rf'<li[^>]*data-deployment="{number}".*?</li>', html, re.S)
    assert match, f"no row #{number}"
    return match.group(0)


def button(html: str, action: str) -> str | None:
    match = re.search(rf'<button[^>]*data-action="{action}"[^>]*>', html)
    return match.group(0) if match else None


def section(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start:]


class Enqueued:
    """Messages this test put on the broker's queues (no worker takes them); removed after."""

    def __init__(self) -> None:
        self.broker = dramatiq.get_broker()
        self.seen = {queue: self._ids(queue) for queue in (this_host("build"),
                                                           this_host("deploy"))}

    def _key(self, queue: str) -> str:
        return f"{self.broker.namespace}:{queue}"

    def _ids(self, queue: str) -> set[bytes]:
        return set(self.broker.client.hkeys(f"{self._key(queue)}.msgs"))

    def messages(self, queue: str) -> list[dramatiq.Message]:
        new = self._ids(queue) - self.seen[queue]
        raw = [self.broker.client.hget(f"{self._key(queue)}.msgs", key) for key in new]
        return [dramatiq.Message.decode(data) for data in raw if data]

    def remove(self) -> None:
        for queue in self.seen:
            for message_id in self._ids(queue) - self.seen[queue]:
                self.broker.client.hdel(f"{self._key(queue)}.msgs", message_id)
                self.broker.client.lrem(self._key(queue), 0, message_id)


@pytest.fixture
def enqueued():
    watcher = Enqueued()
    yield watcher
    watcher.remove()


# The service page ----------------------------------------------------------------------------


def test_the_service_page_shows_the_active_deployment_and_every_deployment(
        people, client_for, service, release):
    release(make(people, service, 1, Status.SUPERSEDED, commit_sha=OLD_SHA,
                 commit_message="First version"))
    make(people, service, 2, Status.ACTIVE, commit_sha=SHA, port=20123,
         commit_message="Fix the login form\n\nThe long body of the message.",
         commit_author="Ada <ada@example.com>")
    make(people, service, 3, Status.FAILED, commit_sha=SHA, error_reason="npm ci failed")
    make(people, service, 4, Status.BUILDING, trigger=Trigger.PUSH, triggered_by="")

    html = client_for(people.member, people.workspace_a).get(f"/services/{service.pk}/")
    html = html.content.decode()

    active = section(html, "active-deployment")
    active = active[:active.index('data-testid="deployment-rows"')]
    assert 'data-testid="active-number">#2<' in active
    assert SHA[:7] in active and "Fix the login form" in active
    assert "The long body" not in html  # the first line of a message only
    assert "http://web-team-a.apps.localhost:8080" in active
    assert "127.0.0.1:20123" in active

    assert rows(html) == [("4", "building"), ("3", "failed"), ("2", "active"),
                          ("1", "superseded")]
    assert "Push" in row(html, 4) and "1m 23s" in row(html, 3)
    # Once live, a deployment's end moves on (superseded, stopped): no phases, no duration.
    assert 'data-testid="duration">—<' in row(html, 1)
    assert OLD_SHA[:7] in row(html, 1) and "First version" in row(html, 1)
    # Cancel only on what is under way; Rollback only on the earlier kept success.
    assert [n for n in (1, 2, 3, 4) if button(row(html, n), "cancel")] == [4]
    assert [n for n in (1, 2, 3, 4) if button(row(html, n), "rollback")] == [1]
    # A deployment is under way: the service's socket sends the section as it moves (no
    # polling).
    assert "hx-trigger" not in section(html, "deployments")
    assert f'ws-connect="/ws/services/{service.pk}/"' in html


def test_buttons_say_why_they_are_disabled(people, client_for, service):
    with tenant_context(people.workspace_a):
        bare = Service.objects.create(environment=service.environment, name="api")
    owner = client_for(people.owner, people.workspace_a)
    html = owner.get(f"/services/{bare.pk}/").content.decode()
    for action in ("deploy", "redeploy"):
        assert "disabled" in button(html, action)
        assert 'title="Add a repository URL (or run paas up) to deploy"' in button(html, action)
    for action in ("restart", "stop"):
        assert 'title="Nothing is running"' in button(html, action)
    assert "Nothing is running." in html and "No deployments yet." in html

    html = owner.get(f"/services/{service.pk}/").content.decode()
    assert "disabled" not in button(html, "deploy")
    assert 'title="Deploy once before redeploying"' in button(html, "redeploy")
    assert "hx-trigger" not in html

    make(people, service, 1, Status.ACTIVE, commit_sha=SHA, port=20001)
    html = owner.get(f"/services/{service.pk}/").content.decode()
    for action in ("deploy", "redeploy", "restart", "stop"):
        assert "disabled" not in button(html, action), action
    assert f'action="/services/{service.pk}/redeploy/"' in html


def test_the_deployments_fragment_is_the_section_alone(people, client_for, service):
    make(people, service, 1, Status.QUEUED)
    client = client_for(people.member, people.workspace_a)
    fragment = client.get(f"/services/{service.pk}/deployments/", **HX).content.decode()
    assert "<html" not in fragment and fragment.strip().startswith("<section")
    assert rows(fragment) == [("1", "queued")]
    page = client.get(f"/services/{service.pk}/deployments/")
    assert page.status_code == 302 and page["Location"] == f"/services/{service.pk}/"


# Actions ------------------------------------------------------------------------------------


def test_a_member_deploys_the_branch_head(committed_db, client_for, enqueued):
    """With real commits, as in production: the build is enqueued when the request's
    transaction commits, stamped with the workspace's schema."""
    people = committed_db
    with tenant_context(people.workspace_a):
        project = create_project("Committed shop")
        service = create_service(project.environments.get(), "web",
                                 repository_url="https://github.com/acme/web.git")
    try:
        member = client_for(people.member, people.workspace_a)
        response = member.post(f"/services/{service.pk}/deploy/")
        assert response.status_code == 302
        assert response["Location"] == f"/services/{service.pk}/"
        assert deployments_of(people, service) == [
            (1, "queued", "manual", "member@a.example", "")]
        with tenant_context(people.workspace_a):
            deployment = Deployment.objects.get(service=service)
        [message] = enqueued.messages(this_host("build"))
        assert (message.actor_name, message.args) == ("build_deployment", (deployment.pk,))
        assert message.options["schema_name"] == people.workspace_a.schema_name

        html = member.get(response["Location"]).content.decode()
        assert "Deployment #1 queued." in html
        assert rows(html) == [("1", "queued")]
    finally:
        with tenant_context(people.workspace_a):
            project.delete()


def test_deploy_with_htmx_answers_with_the_section(people, client_for, service,
                                                   django_capture_on_commit_callbacks):
    owner = client_for(people.owner, people.workspace_a)
    with django_capture_on_commit_callbacks() as callbacks:
        html = owner.post(f"/services/{service.pk}/deploy/", **HX).content.decode()
    assert len(work_sent(callbacks)) == 1  # the build, enqueued once the transaction commits
    assert "<html" not in html and 'id="deployments"' in html
    assert "Deployment #1 queued." in section(html, "deployments-notice")
    assert rows(html) == [("1", "queued")]
    assert button(row(html, 1), "cancel")


def test_deploy_without_a_repository_is_refused_with_the_reason(people, client_for, service):
    with tenant_context(people.workspace_a):
        Service.objects.filter(pk=service.pk).update(repository_url="")
    owner = client_for(people.owner, people.workspace_a)
    html = owner.post(f"/services/{service.pk}/deploy/", **HX).content.decode()
    notice = section(html, "deployments-notice")
    assert "data-error" in notice[:200] and "repository URL" in notice
    response = owner.post(f"/services/{service.pk}/deploy/", follow=True)
    assert "Add a repository URL" in response.content.decode()
    assert deployments_of(people, service) == []


def test_redeploy_rebuilds_the_running_commit(people, client_for, service,
                                              django_capture_on_commit_callbacks):
    active = make(people, service, 1, Status.ACTIVE, commit_sha=SHA, port=20002)
    with django_capture_on_commit_callbacks() as callbacks:
        html = client_for(people.member, people.workspace_a).post(
            f"/services/{service.pk}/redeploy/", **HX).content.decode()
    assert len(work_sent(callbacks)) == 1
    assert "Redeploy queued as deployment #2." in html
    assert deployments_of(people, service)[1] == (2, "queued", "manual", "member@a.example", SHA)
    with tenant_context(people.workspace_a):
        assert Deployment.objects.get(service=service, number=2).source_deployment_id == active.pk


def test_redeploy_with_nothing_deployed_is_refused(people, client_for, service):
    html = client_for(people.owner, people.workspace_a).post(
        f"/services/{service.pk}/redeploy/", **HX).content.decode()
    assert "Nothing has been deployed yet" in section(html, "deployments-notice")
    assert deployments_of(people, service) == []


def test_a_member_restarts_and_stops_the_service(people, client_for, service,
                                                 django_capture_on_commit_callbacks):
    active = make(people, service, 1, Status.ACTIVE, commit_sha=SHA, port=20003)
    member = client_for(people.member, people.workspace_a)
    with django_capture_on_commit_callbacks() as callbacks:
        html = member.post(f"/services/{service.pk}/restart/", **HX).content.decode()
    assert len(work_sent(callbacks)) == 1 and "Restarting web." in html

    html = member.post(f"/services/{service.pk}/stop/", **HX).content.decode()
    assert "Stopped web" in section(html, "deployments-notice")
    assert rows(html) == [("1", "removed")] and "Nothing is running." in html
    # The page's header follows, out of band.
    assert re.search(r'id="service-status"[^>]*hx-swap-oob="true">.*Not deployed', html, re.S)
    with tenant_context(people.workspace_a):
        active.refresh_from_db()
        assert active.status == Status.REMOVED
        assert Service.objects.get(pk=service.pk).active_deployment is None

    response = member.post(f"/services/{service.pk}/restart/", follow=True)
    assert "no active deployment" in response.content.decode()


def test_cancel_a_queued_deployment_but_not_a_finished_one(people, client_for, service):
    queued = make(people, service, 2, Status.QUEUED)
    failed = make(people, service, 1, Status.FAILED, error_reason="boom")
    owner = client_for(people.owner, people.workspace_a)
    html = owner.post(f"/deployments/{queued.pk}/cancel/", **HX).content.decode()
    assert "Cancelling deployment #2." in html
    assert rows(html) == [("2", "cancelled"), ("1", "failed")]

    html = owner.post(f"/deployments/{failed.pk}/cancel/", **HX).content.decode()
    assert "only queued, building or deploying" in section(html, "deployments-notice")
    assert [row[1] for row in deployments_of(people, service)] == ["failed", "cancelled"]


def test_rollback_starts_an_earlier_release_again(people, client_for, service, release,
                                                  django_capture_on_commit_callbacks):
    earlier = release(make(people, service, 1, Status.SUPERSEDED, commit_sha=OLD_SHA))
    make(people, service, 2, Status.ACTIVE, commit_sha=SHA, port=20004)
    failed = make(people, service, 3, Status.FAILED, commit_sha=SHA)
    member = client_for(people.member, people.workspace_a)
    with django_capture_on_commit_callbacks() as callbacks:
        response = member.post(f"/deployments/{earlier.pk}/rollback/")
    assert len(work_sent(callbacks)) == 1
    with tenant_context(people.workspace_a):
        new = Deployment.objects.get(service=service, number=4)
        earlier.refresh_from_db()
    assert response["Location"] == f"/deployments/{new.pk}/"
    assert (new.status, new.trigger, new.triggered_by, new.commit_sha) == (
        "queued", "rollback", "member@a.example", OLD_SHA)
    assert new.source_deployment_id == earlier.pk and new.release_dir == earlier.release_dir

    page = member.get(response["Location"]).content.decode()
    assert "Rolling back to #1 as deployment #4." in page
    assert re.search(r"Rollback\s+of\s+<a[^>]*>#1</a>", page)

    html = member.post(f"/deployments/{failed.pk}/rollback/", **HX).content.decode()
    assert "cannot be rolled back to" in section(html, "deployments-notice")
    assert len(deployments_of(people, service)) == 4


def test_actions_are_posts(people, client_for, service):
    deployment = make(people, service, 1, Status.QUEUED)
    owner = client_for(people.owner, people.workspace_a)
    for url in (f"/services/{service.pk}/deploy/", f"/services/{service.pk}/redeploy/",
                f"/services/{service.pk}/restart/", f"/services/{service.pk}/stop/",
                f"/deployments/{deployment.pk}/cancel/",
                f"/deployments/{deployment.pk}/rollback/"):
        assert owner.get(url).status_code == 405, url
    assert deployments_of(people, service) == [(1, "queued", "manual", "owner@a.example", "")]


def test_outsiders_get_404_for_every_page_and_action(people, client_for, service, release):
    active = make(people, service, 1, Status.ACTIVE, commit_sha=SHA, port=20005)
    queued = make(people, service, 2, Status.QUEUED)
    earlier = release(make(people, service, 3, Status.SUPERSEDED, commit_sha=OLD_SHA))
    before = deployments_of(people, service)
    gets = [f"/services/{service.pk}/deployments/", f"/deployments/{active.pk}/"]
    posts = [f"/services/{service.pk}/{action}/"
             for action in ("deploy", "redeploy", "restart", "stop")]
    posts += [f"/deployments/{queued.pk}/cancel/", f"/deployments/{earlier.pk}/rollback/"]
    with tenant_context(people.workspace_b):  # the ids mean nothing in workspace B
        assert not Deployment.objects.exists() and not Service.objects.exists()
    for client in (client_for(people.outsider, people.workspace_a),
                   client_for(people.outsider, people.workspace_b)):
        for url in gets:
            assert client.get(url, **HX).status_code == 404, url
        for url in posts:
            assert client.post(url, **HX).status_code == 404, url
            assert client.post(url).status_code == 404, url
    assert deployments_of(people, service) == before
    with tenant_context(people.workspace_a):
        assert Service.objects.get(pk=service.pk).active_deployment_id == active.pk
