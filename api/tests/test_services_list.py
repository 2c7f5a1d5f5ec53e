"""The list of services: each with its domains, in as many queries for 12 services as for 2
(their generated and custom domains are read with one query each for the page, not one each);
each service as ModelSerializer would write it (ServiceSerializer writes it by hand)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context
from rest_framework import serializers

from api.serializers import ServiceSerializer
from api.tests.conftest import token_client
from api.tokens import create_token
from api.views_services import api_services
from hosting.models import CustomDomain
from projects.domains import public_domain
from projects.models import RestartPolicy, Service
from projects.services import create_service


def add_domain(workspace, service, hostname: str) -> None:
    CustomDomain.objects.create(hostname=hostname, schema_name=workspace.schema_name,
                                service_id=service.pk)


def listed(client) -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/services/")
    assert response.status_code == 200, response.content[:300]
    return response.json(), len(queries)


def test_service_list_domains_in_queries_that_do_not_grow(people, objects):
    a = people.workspace_a
    client = token_client(a, create_token(a, people.owner, "list", 30)[1])
    with tenant_context(a):
        api = create_service(objects.environment, "api")
    add_domain(a, api, "api.example.com")
    client.get("/api/v1/services/")  # the token's last use written: not counted below
    answer, queries_for_two = listed(client)
    with tenant_context(a):
        workers = [create_service(objects.environment, f"worker-{number}")
                   for number in range(10)]
    for worker in workers[::3]:  # some with two domains, the others with none
        add_domain(a, worker, f"{worker.name}.example.com")
        add_domain(a, worker, f"b-{worker.name}.example.org")
    answer, queries_for_twelve = listed(client)

    assert queries_for_twelve == queries_for_two
    with tenant_context(a):
        expected = {service.name: [public_domain(service), *CustomDomain.objects.hostnames_of(
            a.schema_name, service.pk)] for service in Service.objects.all()}
    assert len(answer["results"]) == 12
    assert {row["name"]: row["domains"] for row in answer["results"]} == expected
    assert expected["api"][1:] == ["api.example.com"]
    assert expected["worker-0"][1:] == ["b-worker-0.example.org", "worker-0.example.com"]


def test_service_written_as_model_serializer_writes_it(people, objects):
    with tenant_context(people.workspace_a):
        api = create_service(objects.environment, "api",
                             github_repository="shop/api", build_command="make", instances=3,
                             restart_policy=RestartPolicy.ALWAYS, auto_rollback=False,
                             log_retention_days=30, healthcheck_path="/health")
        add_domain(people.workspace_a, api, "api.example.com")
        objects.service.active_deployment = objects.deployment
        objects.service.save(update_fields=["active_deployment"])
        services = list(api_services())
        serializer = ServiceSerializer()
        for service in services:
            by_hand = serializer.to_representation(service)
            generic = serializers.ModelSerializer.to_representation(serializer, service)
            assert list(by_hand.items()) == list(generic.items())
    assert {service.active_deployment_id for service in services} == {None, objects.deployment.pk}
