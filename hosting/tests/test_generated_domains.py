"""The reservation of generated domains (hosting.models.GeneratedDomain): the unique
constraint decides between two reservations of one label, and the migration that reserved
the domains of existing services keeps each clashing name for the older service."""

from __future__ import annotations

import importlib
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from hosting.models import GeneratedDomain, GeneratedDomainQuerySet, Route
from projects.domains import public_domain
from projects.models import Service
from projects.services import create_project
from tenants.models import Workspace
from tenants.services import create_workspace

migration = importlib.import_module("hosting.migrations.0003_reserve_existing_domains")


def test_a_label_taken_meanwhile_is_refused_by_the_database_and_another_given(
        db, monkeypatch):
    GeneratedDomain.objects.create(label="web-team-a", schema_name="ws_team_b", service_id=7)
    # The check before the insert misses it, as it would a reservation not yet committed.
    monkeypatch.setattr(GeneratedDomainQuerySet, "exists", lambda self: False)

    label = GeneratedDomain.objects.reserve("ws_team_a", 1, "web-team-a")

    assert re.fullmatch(r"web-team-a-[a-z0-9]{5}", label)
    assert GeneratedDomain.objects.label_for("ws_team_b", 7) == "web-team-a"
    # The refused insert was rolled back to its savepoint: the transaction goes on, and a
    # second reservation of the service keeps its label.
    assert GeneratedDomain.objects.reserve("ws_team_a", 1, "web-team-a") == label


def old_service(workspace: Workspace, project: str, name: str, age: timedelta) -> Service:
    """A service as it was before domains were reserved, made `age` ago."""
    with tenant_context(workspace):
        service = Service.objects.create(
            environment=create_project(project).environments.get(), name=name)
        Service.objects.filter(pk=service.pk).update(created_at=timezone.now() - age)
        return service


def domain_of(workspace: Workspace, service: Service) -> str:
    with tenant_context(workspace):
        return public_domain(Service.objects.get(pk=service.pk))


@pytest.fixture
def clashing(people):
    """Existing services whose names clash, the newer made first: `zalpha-api` in `seca` (a
    day old) and `zalpha` in `api-seca` (a week old); two `web` in team-a; and the route of
    the newer look-alike on the name both had."""
    seca = create_workspace("seca", "Seca", people.owner)
    api_seca = create_workspace("api-seca", "Api Seca", people.outsider)
    services = {
        "newer": (seca, old_service(seca, "P", "zalpha-api", timedelta(days=1))),
        "older": (api_seca, old_service(api_seca, "P", "zalpha", timedelta(days=7))),
        "shop": (people.workspace_a, old_service(people.workspace_a, "Shop", "web",
                                                 timedelta(hours=1))),
        "blog": (people.workspace_a, old_service(people.workspace_a, "Blog", "web",
                                                 timedelta(hours=2))),
    }
    Route.objects.create(hostname="zalpha-api-seca.apps.localhost", upstream="127.0.0.1:42001",
                         schema_name=seca.schema_name, service_id=services["newer"][1].pk,
                         deployment_id=1)
    return services


def run_migration() -> None:
    connection.set_schema_to_public()
    migration.reserve_existing_domains(apps, SimpleNamespace(connection=connection))


def test_the_migration_keeps_each_clashing_name_for_the_older_service(clashing):
    run_migration()

    assert domain_of(*clashing["older"]) == "zalpha-api-seca.apps.localhost"
    newer = domain_of(*clashing["newer"])
    assert re.fullmatch(r"zalpha-api-seca-[a-z0-9]{5}\.apps\.localhost", newer)
    assert domain_of(*clashing["blog"]) == "web-team-a.apps.localhost"  # the older web
    assert re.fullmatch(r"web-team-a-[a-z0-9]{5}\.apps\.localhost", domain_of(*clashing["shop"]))
    # The look-alike's app no longer serves on the older service's name: its route moved to
    # its own.
    assert list(Route.objects.filter(hostname__startswith="zalpha-api-seca")
                .values_list("hostname", "upstream")) == [(newer, "127.0.0.1:42001")]


def test_the_migration_reads_every_workspace_and_skips_schemas_without_services(clashing):
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "ws_bare"')
    for slug, schema in (("bare", "ws_bare"), ("gone", "ws_gone")):  # empty; no schema at all
        workspace = Workspace(slug=slug, name=slug, schema_name=schema)
        workspace.auto_create_schema = False
        workspace.save()
    held = GeneratedDomain.objects.create(label="held-elsewhere", schema_name="ws_team_a",
                                          service_id=clashing["shop"][1].pk)

    run_migration()
    run_migration()  # again: nothing changes

    assert GeneratedDomain.objects.get(pk=held.pk).label == "held-elsewhere"  # kept
    assert GeneratedDomain.objects.filter(
        schema_name__in=["ws_seca", "ws_api_seca", "ws_team_a"]).count() == 4
    assert not GeneratedDomain.objects.filter(schema_name__in=["ws_bare", "ws_gone"]).exists()
