"""Fixtures shared by every app's tests (DESIGN.md §10).

The test database is migrated once per run, with the workspace template schema, and gets two
committed workspaces: A (an owner, an admin and a member) and B (owned by an outsider to A).
Ordinary tests run inside a transaction that is rolled back, schemas included: PostgreSQL DDL
is transactional. Tests that need other processes to see their data (a worker, a web server)
use `committed_db` and remove what they create.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from playwright.sync_api import Page, expect, sync_playwright

from hosting.tests.fake_dns import PATH as FAKE_RESOLVER
from hosting.tests.fake_dns import FakeResolver
from tenants.models import Membership, User, Workspace
from tenants.roles import Role
from tenants.services import create_workspace

BASE_DIR = Path(__file__).resolve().parent
PASSWORD = "correct horse battery staple"
# Test data from outside the project (its README says where each file comes from).
FIXTURES = BASE_DIR / "tests" / "fixtures"
# The browser tests drive Debian's Chromium (`make test` installs it when it can).
CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@contextmanager
def chromium_page(timeout_ms: int, height: int = 900) -> Iterator[Page]:
    """A page of a headless Chromium (CHROMIUM), its timeouts and expect's set; the browser is
    closed afterwards (`page.context.browser` opens more pages)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": height})
            page.set_default_timeout(timeout_ms)
            expect.set_options(timeout=timeout_ms)
            yield page
        finally:
            browser.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests without a browser are an error of the set-up, never a silent skip."""
    wants_browser = any(item.get_closest_marker("browser") for item in items)
    if wants_browser and not os.access(CHROMIUM, os.X_OK):
        raise pytest.UsageError(
            f"The browser tests need Chromium at {CHROMIUM}: run `make test` as root on "
            "Debian (it installs the chromium package), `sudo apt-get install chromium`, or "
            "set CHROMIUM to a Chromium binary; `-m 'not browser'` runs the others."
        )


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict:
    """No test queries DNS: the custom domains' checks ask FakeResolver, whose zone (this
    fixture's value: name → hosting.dns.Answer) a test fills."""
    monkeypatch.setattr(settings, "PAAS_DNS_RESOLVER", FAKE_RESOLVER)
    FakeResolver.zone, FakeResolver.asked = {}, []
    return FakeResolver.zone


@dataclass
class People:
    owner: User
    admin: User
    member: User
    outsider: User
    workspace_a: Workspace
    workspace_b: Workspace


@pytest.fixture(scope="session")
def django_db_setup(
    django_test_environment: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[People]:
    """The test database, for every test: also those with real commits (`committed_db`),
    which pytest-django would not count because they use no `db` fixture."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        databases = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        call_command("migrate_template", verbosity=0)
        owner = User.objects.create_user("owner@a.example", PASSWORD, name="Olive Owner")
        admin = User.objects.create_user("admin@a.example", PASSWORD, name="Adam Admin")
        member = User.objects.create_user("member@a.example", PASSWORD, name="Mia Member")
        outsider = User.objects.create_user("outsider@b.example", PASSWORD, name="Otto Outsider")
        workspace_a = create_workspace("team-a", "Team A", owner)
        Membership.objects.create(workspace=workspace_a, user=admin, role=Role.ADMIN)
        Membership.objects.create(workspace=workspace_a, user=member, role=Role.MEMBER)
        workspace_b = create_workspace("team-b", "Team B", outsider)
    yield People(owner, admin, member, outsider, workspace_a, workspace_b)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        with connection.cursor() as cursor:  # sessions left by threads and killed processes
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        teardown_databases(databases, verbosity=0)


@pytest.fixture
def people(django_db_setup: People, db: None) -> People:
    return django_db_setup


@pytest.fixture
def workspace_a(people: People) -> Workspace:
    return people.workspace_a


@pytest.fixture
def workspace_b(people: People) -> Workspace:
    return people.workspace_b


def host_of(workspace: Workspace | None) -> str:
    return workspace.hostname if workspace is not None else settings.PAAS_DOMAIN


@pytest.fixture
def client_for() -> callable:
    """client_for(user, workspace): a test client logged in as user, on that workspace's host."""

    def make(user: User | None, workspace: Workspace | None = None) -> Client:
        client = Client(HTTP_HOST=host_of(workspace))
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def committed_db(
    django_db_setup: People, django_db_blocker: pytest.FixtureRequest
) -> Iterator[People]:
    """Real commits, for tests whose other processes must see the data. Clean up after."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        yield django_db_setup
        connection.set_schema_to_public()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """DATABASE_URL of the test database, for processes the tests start."""
    params = connection.settings_dict
    from urllib.parse import quote

    host = quote(params["HOST"] or "", safe="")
    port = f":{params['PORT']}" if params.get("PORT") else ""
    password = f":{quote(params['PASSWORD'], safe='')}" if params.get("PASSWORD") else ""
    return f"postgres://{params['USER']}{password}@{host}{port}/{params['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": test_database_url(), "PYTHONUNBUFFERED": "1",
                "PAAS_DNS_RESOLVER": FAKE_RESOLVER,
                "PAAS_HOST_NAME": settings.PAAS_HOST_NAME, **extra})
    return env


def start_panel(port: int, app: str = "config.asgi:application", **env: str) -> subprocess.Popen:
    """The panel (`app`) under uvicorn (HTTP and WebSocket) on `port`, once it accepts
    connections, with `env` added to its environment; its output goes to .data/test-logs/."""
    log_path = settings.PAAS_DATA_DIR / "test-logs" / f"uvicorn-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--host",
             "127.0.0.1", "--port", str(port)],
            cwd=BASE_DIR, env=process_env(**env), stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError as error:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {log_path.read_text()}") from error
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"uvicorn did not start: {log_path.read_text()}")


@pytest.fixture
def panel_server(committed_db: People) -> Iterator[str]:
    """The panel under uvicorn on a free port; yields its root URL."""
    port = free_port()
    process = start_panel(port)
    try:
        yield f"http://{settings.PAAS_DOMAIN}:{port}"
    finally:
        process.terminate()
        process.wait(10)
