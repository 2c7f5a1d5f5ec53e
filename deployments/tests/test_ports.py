"""Host ports for deployments (deployments/ports.py): the public PortAllocation table."""

import socket
import threading

import pytest
from django.db import connection, connections
from django_tenants.utils import tenant_context

from deployments.engine import ports
from hosting.models import PortAllocation


def test_ports_are_unique_across_workspaces_and_released_per_deployment(people):
    with tenant_context(people.workspace_a):  # a tenant connection reaches the public table
        web_a = ports.allocate(people.workspace_a.schema_name, 7, "a.web.0")
        worker_a = ports.allocate(people.workspace_a.schema_name, 7, "a.web.1")
    with tenant_context(people.workspace_b):  # same deployment id, other workspace
        web_b = ports.allocate(people.workspace_b.schema_name, 7, "b.web.0")

    assert len({web_a, worker_a, web_b}) == 3
    assert ports.ports_of(people.workspace_a.schema_name, 7) == sorted([web_a, worker_a])
    assert ports.ports_of(people.workspace_b.schema_name, 7) == [web_b]

    assert ports.release(people.workspace_a.schema_name, 7) == 2
    assert ports.ports_of(people.workspace_a.schema_name, 7) == []
    assert ports.ports_of(people.workspace_b.schema_name, 7) == [web_b]
    assert ports.release(people.workspace_a.schema_name, 7) == 0
    # the lowest free port is given again
    assert ports.allocate(people.workspace_a.schema_name, 8, "a.web.0") == min(web_a, worker_a)


def test_a_port_something_listens_on_is_skipped(people):
    schema = people.workspace_a.schema_name
    lowest = ports.allocate(schema, 9, "probe")
    ports.release(schema, 9)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", lowest))
        listener.listen()
        given = ports.allocate(schema, 10, "web")
    assert given != lowest
    assert ports.free_on_host(given)


def test_an_exhausted_range_is_a_clear_error(people, settings):
    schema = people.workspace_a.schema_name
    allocated = ports.allocate(schema, 11, "web")
    settings.PAAS_PORT_RANGE = (allocated, allocated)
    with pytest.raises(ports.NoFreePort, match="PAAS_PORT_RANGE"):
        ports.allocate(schema, 12, "web")

    with socket.socket() as listener:  # no row, but the host uses it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        settings.PAAS_PORT_RANGE = (busy, busy)
        with pytest.raises(ports.NoFreePort):
            ports.allocate(schema, 12, "web")


def test_concurrent_allocations_never_share_a_port(committed_db):
    schema = committed_db.workspace_a.schema_name
    given: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def allocate_many(deployment_id: int) -> None:
        try:
            start.wait()
            for index in range(5):
                given.append(ports.allocate(schema, deployment_id, f"web.{index}"))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=allocate_many, args=(900_000 + n,)) for n in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors
        assert len(given) == 20
        assert len(set(given)) == 20
    finally:
        connection.set_schema_to_public()
        PortAllocation.objects.filter(schema_name=schema,
                                      deployment_id__gte=900_000).delete()
