"""End to end: an actor in a real Dramatiq worker runs in the enqueuing workspace's schema,
and its event reaches a member's open page over a real WebSocket (uvicorn + Channels)."""

import asyncio
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import websockets
from django.db import transaction
from django.test import Client
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from conftest import BASE_DIR, chromium_page, process_env
from deployments.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from projects.models import Project
from projects.services import delete_project
from tenants.models import Workspace


def wait_for(predicate, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture(scope="module")
def worker(django_db_setup):
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "1",
         "--queues", "default"],
        cwd=BASE_DIR, env=process_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def session_cookie(user) -> str:
    client = Client(HTTP_HOST="panel.localhost")
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_actor_runs_in_the_schema_that_enqueued_it(committed_db, worker):
    people = committed_db
    with tenant_context(people.workspace_a):
        in_a = Project.objects.create(name="Doomed", deleting=False)
    with tenant_context(people.workspace_b):
        in_b = Project.objects.create(name="Doomed", deleting=True)  # same name, other schema
    try:
        with tenant_context(people.workspace_a), transaction.atomic():
            delete_project(in_a)  # enqueues on commit, stamped with workspace A's schema

        def gone_from_a():
            with tenant_context(people.workspace_a):
                return not Project.objects.filter(pk=in_a.pk).exists()

        assert wait_for(gone_from_a), "the worker did not remove the project from workspace A"
        with tenant_context(people.workspace_b):
            assert Project.objects.filter(pk=in_b.pk).exists(), "workspace B was touched"
    finally:
        for workspace in (people.workspace_a, people.workspace_b):
            with tenant_context(workspace):
                Project.objects.filter(name="Doomed").delete()


async def open_socket(server_url: str, host: str, cookie: str | None):
    port = urlsplit(server_url).port
    sock = socket.create_connection(("127.0.0.1", port))
    headers = {"Origin": f"http://{host}:{port}"}
    if cookie:
        headers["Cookie"] = f"sessionid={cookie}"
    return await websockets.connect(
        f"ws://{host}:{port}/ws/events/", sock=sock, additional_headers=headers
    )


def test_removal_reaches_an_open_page_over_a_real_websocket(committed_db, worker, panel_server):
    people = committed_db
    with tenant_context(people.workspace_a):
        keep = Project.objects.create(name="Keeper")
        doomed = Project.objects.create(name="Live doomed")
    cookie = session_cookie(people.member)

    async def scenario():
        async with await open_socket(panel_server, people.workspace_a.hostname, cookie) as ws:
            await asyncio.sleep(0.3)  # joined the group
            await asyncio.to_thread(_delete_in_workspace, people.workspace_a, doomed.pk)
            return await asyncio.wait_for(ws.recv(), timeout=30)

    try:
        html = asyncio.run(scenario())
        assert 'id="project-list"' in html and 'hx-swap-oob="outerHTML"' in html
        assert "Keeper" in html
        assert "Live doomed" not in html
    finally:
        with tenant_context(people.workspace_a):
            Project.objects.filter(pk__in=[keep.pk, doomed.pk]).delete()


def test_actors_of_a_suspended_workspace_do_not_run(committed_db, worker):
    people = committed_db
    with tenant_context(people.workspace_a):
        in_a = Project.objects.create(name="Suspended doomed")
    with tenant_context(people.workspace_b):
        in_b = Project.objects.create(name="Active doomed")
    Workspace.objects.filter(pk=people.workspace_a.pk).update(suspended=True)
    try:
        _delete_in_workspace(people.workspace_a, in_a.pk)
        _delete_in_workspace(people.workspace_b, in_b.pk)  # queued after A's, one thread

        def b_done():
            with tenant_context(people.workspace_b):
                return not Project.objects.filter(pk=in_b.pk).exists()

        assert wait_for(b_done)
        with tenant_context(people.workspace_a):
            assert Project.objects.filter(pk=in_a.pk, deleting=True).exists()
    finally:
        Workspace.objects.filter(pk=people.workspace_a.pk).update(suspended=False)
        with tenant_context(people.workspace_a):
            Project.objects.filter(pk=in_a.pk).delete()


def _delete_in_workspace(workspace, project_id):
    from django.db import connection

    try:
        with tenant_context(workspace), transaction.atomic():
            delete_project(Project.objects.get(pk=project_id))
    finally:
        connection.close()


def test_websocket_is_refused_to_outsiders_anonymous_visitors_and_unknown_hosts(
    committed_db, panel_server
):
    people = committed_db

    cookies = {user: session_cookie(user) for user in (people.member, people.outsider)}

    async def outcome(host, user):
        cookie = cookies[user] if user else None
        try:
            async with await open_socket(panel_server, host, cookie) as ws:
                await asyncio.wait_for(ws.recv(), timeout=1)
        except TimeoutError:
            return "open"
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except websockets.InvalidStatus as refused:
            return refused.response.status_code
        return "open"

    host_a = people.workspace_a.hostname
    assert asyncio.run(outcome(host_a, people.member)) == "open"
    assert asyncio.run(outcome(people.workspace_b.hostname, people.outsider)) == "open"
    assert asyncio.run(outcome(host_a, people.outsider)) == CLOSE_NOT_FOUND
    assert asyncio.run(outcome(host_a, None)) == CLOSE_UNAUTHENTICATED
    assert asyncio.run(outcome("nope.panel.localhost", people.member)) == CLOSE_NOT_FOUND
    assert asyncio.run(outcome("panel.localhost", people.member)) == CLOSE_NOT_FOUND
    assert asyncio.run(outcome("evil.example.com", people.member)) == 403  # origin refused


@pytest.mark.browser
def test_an_open_page_updates_its_project_list_live_in_a_browser(committed_db, worker,
                                                                  panel_server):
    """htmx's ws extension applies the pushed fragment: no reload, the project disappears."""
    from tenants.tests.test_browser import TIMEOUT_MS, in_thread

    people = committed_db
    with tenant_context(people.workspace_a):
        keep = Project.objects.create(name="Stays listed")
        doomed = Project.objects.create(name="Goes away live")
    port = urlsplit(panel_server).port
    cookie = session_cookie(people.member)

    def journey():
        with chromium_page(TIMEOUT_MS) as page:
            page.context.add_cookies([{"name": "sessionid", "value": cookie,
                                       "domain": ".panel.localhost", "path": "/"}])
            page.goto(f"http://{people.workspace_a.hostname}:{port}/")
            listing = page.get_by_test_id("project-list")
            expect(listing).to_contain_text("Goes away live")
            page.wait_for_function("() => document.querySelector('[ws-connect]')"
                                   " && htmx && true")
            page.wait_for_timeout(500)  # the socket joins its group
            # Playwright runs an event loop in this thread: the ORM goes to another one.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(_delete_in_workspace, people.workspace_a, doomed.pk).result()
            expect(listing).not_to_contain_text("Goes away live", timeout=30_000)
            expect(page.get_by_test_id("project-list")).to_contain_text("Stays listed")

    try:
        in_thread(journey)
    finally:
        with tenant_context(people.workspace_a):
            Project.objects.filter(pk__in=[keep.pk, doomed.pk]).delete()
