"""Generated domains (issue 9): each service's own, reserved when it is created, kept while it
exists, freed when it is deleted; never the same for two services, whatever their names.

What a user sees (the service page's domain) and what the router does with it (the routing
table read through devrouter.app.Routes, as the development router reads it). Deployments
go live here the way the engine's switch makes them live (routes.point), without a worker.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from deployments import routes
from deployments.models import Deployment, Status
from devrouter.app import Routes
from hosting.models import Route
from projects.domains import public_domain
from projects.models import Environment, Service
from projects.services import create_project, create_service
from projects.tasks import remove_project
from tenants.models import Workspace
from tenants.services import create_workspace

DOMAIN = re.compile(r'data-testid="service-domain">\s*<p[^>]*>([^<]+)</p>')
SUFFIXED = r"-[a-z0-9]{5}\.apps\.localhost"


@dataclass
class Panel:
    """A workspace's pages, as its owner uses them."""

    client: Client
    workspace: Workspace

    def new_environment(self, project: str = "Shop") -> Environment:
        with tenant_context(self.workspace):
            return create_project(project).environments.get()

    def add_service(self, name: str, environment: Environment | None = None) -> Service:
        """The "New service" form (in a new project's production when none is given)."""
        environment = environment or self.new_environment(f"Project {name} {time.time_ns()}")
        response = self.client.post(f"/environments/{environment.pk}/services/new/",
                                    {"name": name})
        assert response.status_code == 302, response.content.decode()
        with tenant_context(self.workspace):
            return Service.objects.get(environment=environment, name=name)

    def domain_of(self, service: Service) -> str:
        """The domain the service page shows."""
        page = self.client.get(f"/services/{service.pk}/").content.decode()
        return DOMAIN.search(page).group(1).strip()

    def stop(self, service: Service) -> None:
        """The Stop button."""
        assert self.client.post(f"/services/{service.pk}/stop/").status_code == 302

    def go_live(self, service: Service, number: int, port: int) -> Deployment:
        """A deployment that goes live on `port`, as the engine's switch makes it."""
        with tenant_context(self.workspace):
            deployment = Deployment.objects.create(service=service, number=number, port=port,
                                                   status=Status.ACTIVE)
            Deployment.objects.filter(service=service, status=Status.ACTIVE).exclude(
                pk=deployment.pk).update(status=Status.SUPERSEDED)
            Service.objects.filter(pk=service.pk).update(active_deployment=deployment)
            routes.point(Service.objects.get(pk=service.pk), deployment, [port])
            return deployment


def routed_to(domain: str) -> tuple[str, ...] | None:
    """Where the router sends a request for `domain` (None: it answers 404)."""
    target = async_to_sync(Routes().get)(domain, fresh=True)
    return target.upstreams if target is not None else None


@pytest.fixture
def panel_of(client_for):
    """panel_of(workspace, user): the workspace's pages as `user` (its owner) uses them."""
    return lambda workspace, user: Panel(client_for(user, workspace), workspace)


@pytest.fixture
def team_a(people, panel_of) -> Panel:
    return panel_of(people.workspace_a, people.owner)


@pytest.fixture
def look_alikes(people, panel_of):
    """Workspace `api-seca` (an attacker's) with service `zalpha`, made first; then workspace
    `seca` (its owner's) with service `zalpha-api`: both read `zalpha-api-seca`."""
    attacker = panel_of(create_workspace("api-seca", "Api Seca", people.outsider),
                        people.outsider)
    owner = panel_of(create_workspace("seca", "Seca", people.owner), people.owner)
    return attacker, attacker.add_service("zalpha"), owner, owner.add_service("zalpha-api")


def test_look_alike_names_in_two_workspaces_get_two_domains(look_alikes):
    attacker, zalpha, owner, zalpha_api = look_alikes
    theirs, mine = attacker.domain_of(zalpha), owner.domain_of(zalpha_api)

    assert theirs == "zalpha-api-seca.apps.localhost"  # made first: the readable name
    assert re.fullmatch("zalpha-api-seca" + SUFFIXED, mine)
    # Each is served at its own domain, by its own deployment.
    attacker.go_live(zalpha, 1, 41001)
    owner.go_live(zalpha_api, 1, 42001)
    assert routed_to(theirs) == ("127.0.0.1:41001",)
    assert routed_to(mine) == ("127.0.0.1:42001",)
    # What the app is told its domain is (PAAS_PUBLIC_DOMAIN) is the same.
    with tenant_context(owner.workspace):
        assert public_domain(Service.objects.get(pk=zalpha_api.pk)) == mine


def test_stopping_never_lets_the_look_alike_take_the_domain(look_alikes):
    attacker, zalpha, owner, zalpha_api = look_alikes
    theirs, mine = attacker.domain_of(zalpha), owner.domain_of(zalpha_api)
    attacker.go_live(zalpha, 1, 41001)
    owner.go_live(zalpha_api, 1, 42001)

    owner.stop(zalpha_api)
    assert routed_to(mine) is None  # stopped: nothing serves there
    attacker.go_live(zalpha, 2, 41002)  # the attacker deploys again
    assert routed_to(mine) is None
    assert routed_to(theirs) == ("127.0.0.1:41002",)

    # The owner's next deploy is not blocked, and serves at the domain it had.
    owner.go_live(zalpha_api, 2, 42002)
    assert owner.domain_of(zalpha_api) == mine
    assert routed_to(mine) == ("127.0.0.1:42002",)

    # The other way round: the attacker stops; the owner's domain is untouched.
    attacker.stop(zalpha)
    owner.go_live(zalpha_api, 3, 42003)
    assert routed_to(theirs) is None
    assert routed_to(mine) == ("127.0.0.1:42003",)


def test_two_projects_web_services_get_two_domains(team_a):
    shop, blog = team_a.add_service("web"), team_a.add_service("web")

    shop_domain, blog_domain = team_a.domain_of(shop), team_a.domain_of(blog)
    assert shop_domain == "web-team-a.apps.localhost"
    assert re.fullmatch("web-team-a" + SUFFIXED, blog_domain)
    team_a.go_live(shop, 1, 41001)
    team_a.go_live(blog, 1, 41002)
    assert routed_to(shop_domain) == ("127.0.0.1:41001",)
    assert routed_to(blog_domain) == ("127.0.0.1:41002",)


def test_the_domain_stays_through_failures_and_renames(team_a):
    web = team_a.add_service("web")
    with tenant_context(team_a.workspace):
        Deployment.objects.create(service=web, number=1, status=Status.FAILED)
        Service.objects.filter(pk=web.pk).update(name="storefront")  # e.g. in the admin
    assert team_a.domain_of(web) == "web-team-a.apps.localhost"
    # A new `web` cannot have it while the renamed service exists.
    assert team_a.domain_of(team_a.add_service("web")) != "web-team-a.apps.localhost"


def test_deleting_the_service_or_its_project_frees_the_domain(team_a):
    web = team_a.add_service("web")
    assert team_a.domain_of(web) == "web-team-a.apps.localhost"
    team_a.go_live(web, 1, 41001)

    with tenant_context(team_a.workspace):  # "Delete project", as its actor does it
        project = web.environment.project
        project.mark_deleting()
        remove_project(project.pk)
    assert routed_to("web-team-a.apps.localhost") is None
    again = team_a.add_service("web")
    assert team_a.domain_of(again) == "web-team-a.apps.localhost"

    with tenant_context(team_a.workspace):  # the service alone
        Service.objects.get(pk=again.pk).delete()
    assert team_a.domain_of(team_a.add_service("web")) == "web-team-a.apps.localhost"


def test_deleting_a_workspace_frees_its_domains(look_alikes):
    attacker, zalpha, owner, zalpha_api = look_alikes
    kept = owner.domain_of(zalpha_api)
    attacker.go_live(zalpha, 1, 41001)

    with connection.cursor() as cursor:  # the test's rows are not committed: check them now,
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # or DROP SCHEMA refuses
    attacker.workspace.delete()
    assert routed_to("zalpha-api-seca.apps.localhost") is None
    # The owner's service keeps the domain it has; a new one may have the readable name.
    assert owner.domain_of(zalpha_api) == kept
    newer = owner.add_service("zalpha-api")
    assert owner.domain_of(newer) == "zalpha-api-seca.apps.localhost"


def test_long_names_stay_within_one_dns_label(team_a):
    fits = "f" * (63 - len("-team-a"))
    assert team_a.domain_of(team_a.add_service(fits)) == f"{fits}-team-a.apps.localhost"

    long = "l" * 63  # `<63 characters>-team-a` would be 70
    labels = [team_a.domain_of(team_a.add_service(long)).removesuffix(".apps.localhost")
              for _ in range(2)]
    assert labels[0] != labels[1]
    for label in labels:
        assert len(label) <= 63
        assert re.fullmatch(r"l{57}-[a-z0-9]{5}", label)


def test_a_service_made_without_a_reservation_gets_one_when_first_used(workspace_a):
    with tenant_context(workspace_a):
        older = Service.objects.create(environment=create_project("Old").environments.get(),
                                       name="legacy")  # as an older code path did
        assert public_domain(older) == "legacy-team-a.apps.localhost"
        # It holds it now: a look-alike made later gets another.
        twin = create_service(create_project("Twin").environments.get(), "legacy")
        assert public_domain(Service.objects.get(pk=older.pk)) == "legacy-team-a.apps.localhost"
        assert public_domain(twin) != "legacy-team-a.apps.localhost"


def test_other_environments_name_theirs(workspace_a):
    with tenant_context(workspace_a):
        staging = Environment.objects.create(project=create_project("Staged"), name="staging")
        assert public_domain(create_service(staging, "web")) == (
            "web-staging-team-a.apps.localhost")


def test_a_route_left_on_the_domain_by_a_service_gone_does_not_block_its_owner(team_a):
    Route.objects.create(hostname="web-team-a.apps.localhost", upstream="127.0.0.1:49999",
                         schema_name="ws_deleted_long_ago", service_id=9)
    web = team_a.add_service("web")
    assert team_a.domain_of(web) == "web-team-a.apps.localhost"

    team_a.go_live(web, 1, 41001)
    assert routed_to("web-team-a.apps.localhost") == ("127.0.0.1:41001",)
