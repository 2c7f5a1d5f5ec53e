"""Database connections: the pool (PAAS_DB_POOL_SIZE) lends each request, consumer call and
message a connection, and a connection back in the pool never keeps a workspace's schema for
its next user; the web server under 60 requests at once answers them all with a bounded
number of connections, pooled or (without the pool) kept in its reused threads."""

from __future__ import annotations

import http.client
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from conftest import free_port, start_panel
from projects.models import Project
from projects.services import create_project

CONCURRENT = 60


def current_schemas() -> tuple[list[str], int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schemas(false), pg_backend_pid()")
        schemas, pid = cursor.fetchone()
    return schemas, pid


def test_the_pool_is_on_and_keeps_no_connection_in_a_thread():
    database = settings.DATABASES["default"]
    assert database["OPTIONS"]["pool"]["max_size"] == settings.PAAS_DB_POOL_SIZE > 0
    assert database["CONN_MAX_AGE"] == 0


def test_a_pooled_connection_never_answers_in_the_schema_of_its_last_user(committed_db):
    people = committed_db
    pids = []
    for turn in range(3 * settings.PAAS_DB_POOL_SIZE):
        workspace = people.workspace_a if turn % 2 else people.workspace_b
        connection.set_tenant(workspace)
        schemas, pid = current_schemas()
        assert schemas == [workspace.schema_name, "public"]
        pids.append(pid)
        connection.close()  # back to the pool, its session's search_path the workspace's
        connection.set_schema_to_public()
        schemas, pid = current_schemas()
        assert schemas == ["public"]
        pids.append(pid)
        connection.close()
    # The same sessions served both workspaces and the public schema in turn.
    assert len(set(pids)) < len(pids)


@dataclass
class Visitor:
    host: str
    cookie: str
    own: str
    other: str


@pytest.fixture
def two_teams(committed_db) -> Iterator[tuple[Visitor, Visitor]]:
    """A project of each workspace, and the session of a member of each."""
    people = committed_db
    names = {}
    for workspace in (people.workspace_a, people.workspace_b):
        with tenant_context(workspace):
            names[workspace.pk] = create_project(f"Pool {uuid.uuid4().hex[:8]}").name
    connection.set_schema_to_public()
    visitors = []
    for user, workspace, other in ((people.owner, people.workspace_a, people.workspace_b),
                                   (people.outsider, people.workspace_b, people.workspace_a)):
        client = Client()
        client.force_login(user)
        visitors.append(Visitor(workspace.hostname, client.cookies["sessionid"].value,
                                names[workspace.pk], names[other.pk]))
    yield visitors[0], visitors[1]
    for workspace in (people.workspace_a, people.workspace_b):
        with tenant_context(workspace):
            Project.objects.filter(name=names[workspace.pk]).delete()
    connection.set_schema_to_public()


def home_page(port: int, visitor: Visitor) -> tuple[int, str]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        client.request("GET", "/", headers={"Host": f"{visitor.host}:{port}",
                                            "Cookie": f"sessionid={visitor.cookie}"})
        response = client.getresponse()
        return response.status, response.read().decode()
    finally:
        client.close()


def server_connections(application: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                       [application])
        return cursor.fetchone()[0]


def burst(port: int, visitors: tuple[Visitor, Visitor], application: str) -> int:
    """CONCURRENT home pages at once, half of each workspace: each must be its own
    workspace's; the most connections the server had meanwhile."""
    most = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal most
        try:
            while not done.wait(0.02):
                most = max(most, server_connections(application))
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(CONCURRENT) as pool:
            answers = list(pool.map(lambda n: (visitors[n % 2], home_page(port, visitors[n % 2])),
                                    range(CONCURRENT)))
    finally:
        done.set()
        watcher.join()
    assert [status for _, (status, _) in answers] == [200] * CONCURRENT
    for visitor, (_, page) in answers:
        assert visitor.own in page
        assert visitor.other not in page
    return max(most, server_connections(application))


def test_sixty_requests_at_once_share_the_pool(two_teams):
    application = f"pool-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    process = start_panel(port, PAAS_DB_POOL_SIZE="3", PGAPPNAME=application)
    try:
        most = burst(port, two_teams, application)
    finally:
        process.terminate()
        process.wait(10)
    assert 1 <= most <= 3


def test_without_the_pool_kept_connections_are_reused_not_piled_up(two_teams):
    """PAAS_DB_POOL_SIZE=0 and connections kept a minute: each request's thread keeps its
    connection, and the next requests reuse the threads (before, every request had a new
    thread, and the connections of the gone ones stayed open until garbage-collected)."""
    application = f"kept-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    process = start_panel(port, PAAS_DB_POOL_SIZE="0", PAAS_DB_CONN_MAX_AGE="60",
                          PGAPPNAME=application)
    try:
        most = [burst(port, two_teams, application) for _ in range(3)]
    finally:
        process.terminate()
        process.wait(10)
    # At most one connection per request at once, however many requests came.
    assert max(most) <= CONCURRENT
