"""The list of services: each with its domains, in as many queries for 12 services as for 2
(their generated domains are read with one query for the page, not one each)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from api.tests.conftest import token_client
from api.tokens import create_token
from projects.domains import public_domain
from projects.models import Service
from projects.services import create_service


def listed(client) -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/services/")
    assert response.status_code == 200, response.content[:300]
    return response.json(), len(queries)


def test_service_list_domains_in_queries_that_do_not_grow(people, objects):
    a = people.workspace_a
    client = token_client(a, create_token(a, people.owner, "list", 30)[1])
    with tenant_context(a):
        create_service(objects.environment, "api", custom_domains=["api.example.com"])
    client.get("/api/v1/services/")  # the token's last use written: not counted below
    answer, queries_for_two = listed(client)
    with tenant_context(a):
        for number in range(10):
            create_service(objects.environment, f"worker-{number}")
    answer, queries_for_twelve = listed(client)

    assert queries_for_twelve == queries_for_two
    with tenant_context(a):
        expected = {service.name: [public_domain(service), *service.custom_domains]
                    for service in Service.objects.all()}
    assert len(answer["results"]) == 12
    assert {row["name"]: row["domains"] for row in answer["results"]} == expected
    assert expected["api"][1] == "api.example.com"
