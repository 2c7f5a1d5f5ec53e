"""Isolation, tried as an attacker with a workspace of their own would (README, Isolation).

Workspace B runs an app with a secret; workspace A deploys an app, and a build command, that
try to read B's environment, PM2's dump and logs, the panel's secrets, to use the panel's
PostgreSQL, Redis and PM2 socket, to write into B's release and to signal B's process. Every
attempt fails, and the same attempt against A's own resources succeeds.

These tests need the panel to run as root (CI does); elsewhere they are skipped, saying so.
The network attempts also need nftables (`make test` installs it when it runs as root).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from deployments.engine import accounts, firewall, monitor
from deployments.models import Deployment, Status
from deployments.tests.engine import (
    deploy,
    get,
    log_of,
    make_service,
    remove_everything,
    set_variable,
    settle,
)
from deployments.tests.probe_app import PROBE_APP
from deployments.tests.sample_apps import PYTHON_APP, make_repo
from hosting.models import Host

pytestmark = pytest.mark.skipif(
    not settings.PAAS_ISOLATED,
    reason="isolation needs the panel to run as root (CI does): skipped here",
)
SECRET = "b-secret-value-4242"


def refused(result: str) -> bool:
    return result != "ok" and bool(
        re.search(r"PermissionError|ConnectionRefused|ConnectionReset|refused|Errno 1\b", result)
    )


def log_text(workspace, deployment: Deployment) -> str:
    return "\n".join(text for _, text in log_of(workspace, deployment))


def log_path(workspace, deployment: Deployment) -> Path:
    return (settings.PAAS_APPS_DIR / "logs" / workspace.schema_name
            / str(deployment.service_id) / str(deployment.pk) / "web-0.out.log")


def panel_services() -> list[list]:
    database = settings.DATABASES["default"]
    host, port = database.get("HOST") or "/var/run/postgresql", int(database.get("PORT") or 5432)
    postgres = ({"path": f"{host}/.s.PGSQL.{port}"} if host.startswith("/")
                else {"host": host, "port": port})
    parts = urlsplit(settings.REDIS_URL)
    redis = ({"path": parts.path} if parts.scheme == "unix"
             else {"host": parts.hostname, "port": parts.port or 6379})
    return [["panel postgres", "postgres", postgres], ["panel redis", "redis", redis]]


@pytest.fixture
def victim(committed_db, worker, tmp_path_factory):
    """Workspace B's app, active, with a secret variable."""
    workspace = committed_db.workspace_b
    repo = make_repo(tmp_path_factory.mktemp("victim"), "victim", PYTHON_APP)
    service = make_service(workspace, repo, name="victim")
    set_variable(workspace, service, "VICTIM_SECRET", SECRET)
    deployment = settle(workspace, deploy(workspace, service))
    assert deployment.status == Status.ACTIVE, log_text(workspace, deployment)
    _, body = get(deployment.port)
    yield workspace, deployment, body["pid"]
    remove_everything(workspace)


def attacks_on(victim) -> list[list]:
    workspace, deployment, pid = victim
    release = Path(deployment.release_dir)
    secrets = settings.PAAS_DATA_DIR / "secrets"
    secret_file = next(iter(sorted(secrets.glob("*"))), secrets)
    return [
        ["B's environment", "read", f"/proc/{pid}/environ"],
        ["B's release", "list", str(release / "src")],
        ["B's release, written", "write", str(release / "src" / "server.py")],
        ["B's manifest, written", "write", str(release / "manifest.json")],
        ["B's log", "read", str(log_path(workspace, deployment))],
        ["B's process, signalled", "signal", pid],
        ["PM2's dump", "read", str(settings.PAAS_PM2_HOME / "dump.pm2")],
        ["PM2's logs", "list", str(settings.PAAS_PM2_HOME / "logs")],
        ["PM2's socket", "unix", str(settings.PAAS_PM2_HOME / "rpc.sock")],
        ["the panel's secrets", "read" if secret_file.is_file() else "list", str(secret_file)],
        ["B's temporary files", "list", str(accounts.account_for(
            workspace.schema_name, workspace.pk).home / "tmp")],
        ["the panel's environment", "read", f"/proc/{os.getpid()}/environ"],
        ["PM2's environment", "read", f"/proc/{pm2_daemon_pid()}/environ"],
    ]


def pm2_daemon_pid() -> int:
    return int((settings.PAAS_PM2_HOME / "pm2.pid").read_text())


def reachable_services() -> list[list]:
    """The panel's services, where an attempt is meaningful here: behind Unix sockets (file
    modes), or over TCP when the firewall is loaded."""
    services = panel_services()
    if firewall.loaded():
        return services
    return [service for service in services if "path" in service[2]]


def test_a_build_of_one_workspace_reaches_nothing_of_another_or_of_the_panel(
        committed_db, worker, victim, tmp_path):
    workspace = committed_db.workspace_a
    attacks = attacks_on(victim) + reachable_services()
    own = [["own environment", "read", "/proc/self/environ"],
           ["own checkout, written", "write", "built-by-the-build"]]
    repo = make_repo(tmp_path, "attacker-build", PROBE_APP)
    service = make_service(workspace, repo, name="attacker-build",
                           build_command="python3 probe.py once")
    set_variable(workspace, service, "PROBES", json.dumps(attacks + own))
    try:
        deployment = settle(workspace, deploy(workspace, service))
        lines = [text for _, text in log_of(workspace, deployment) if text.startswith("PROBE ")]
        assert lines, log_of(workspace, deployment)
        results = json.loads(lines[0].removeprefix("PROBE "))
        assert {label: result for label, result in results.items()
                if label.startswith("own")} == {"own environment": "ok",
                                                "own checkout, written": "ok"}
        got_through = {label: result for label, result in results.items()
                       if not label.startswith("own") and not refused(result)}
        assert got_through == {}
        assert SECRET not in "\n".join(text for _, text in log_of(workspace, deployment))
    finally:
        remove_everything(workspace)


def probe(port: int, attempts: list[list]) -> dict[str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", method="POST",
                                     data=json.dumps(attempts).encode())
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture
def attacker(committed_db, worker, tmp_path):
    """Workspace A's probe app, active."""
    workspace = committed_db.workspace_a
    repo = make_repo(tmp_path, "attacker", PROBE_APP)
    service = make_service(workspace, repo, name="attacker")
    deployment = settle(workspace, deploy(workspace, service))
    assert deployment.status == Status.ACTIVE, log_text(workspace, deployment)
    _, body = get(deployment.port)
    yield workspace, deployment, body
    remove_everything(workspace)


def test_an_app_of_one_workspace_reaches_nothing_of_another_or_of_the_panel(victim, attacker):
    workspace, deployment, body = attacker
    assert body["uid"] != 0 and body["uid"] != victim[0].pk + settings.PAAS_WORKSPACE_UIDS[0]
    own = [["own environment", "read", "/proc/self/environ"],
           ["own checkout", "list", "."],
           ["own temporary directory, written", "write",
            str(accounts.account_for(workspace.schema_name, workspace.pk).home / "tmp" / "x")],
           ["own checkout, written", "write", "written-by-the-app"],
           ["own log", "read", str(log_path(workspace, deployment))],
           ["own process, signalled", "signal", body["pid"]]]
    results = probe(deployment.port, attacks_on(victim) + own)
    assert {label: result for label, result in results.items() if label.startswith("own")} == {
        label: "ok" for label, *_ in own}
    assert {label: result for label, result in results.items()
            if not label.startswith("own") and not refused(result)} == {}


def test_an_app_reaches_its_own_ports_but_not_another_workspaces_nor_the_panels_services(
        victim, attacker):
    if not firewall.loaded():
        pytest.skip("no nftables here: `make test` as root installs it")
    workspace, deployment, _ = attacker
    _, victim_deployment, _ = victim
    results = probe(deployment.port, [
        ["own port", "tcp", ["127.0.0.1", deployment.port]],
        ["B's port", "tcp", ["127.0.0.1", victim_deployment.port]],
        ["B's port, on the host's address", "tcp", [settings.PAAS_HOST_ADDRESS,
                                                     victim_deployment.port]],
        *panel_services(),
    ])
    assert results.pop("own port") == "ok"
    assert {label: result for label, result in results.items() if not refused(result)} == {}
    with tenant_context(workspace):  # and the panel itself still reaches B's app
        assert get(victim_deployment.port)[0] == 200


@pytest.fixture
def outside_machine() -> Iterator[tuple[str, str, str]]:
    """Another machine on a network of this host's: a network namespace on a veth pair.
    Yields (its namespace, this host's address on the network, the other machine's)."""
    name, link = f"paas{os.getpid()}", f"pv{os.getpid() % 100000}"
    here, there = "10.199.7.1", "10.199.7.2"
    commands = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", f"{link}h", "type", "veth", "peer", "name", f"{link}n"],
        ["ip", "link", "set", f"{link}n", "netns", name],
        ["ip", "addr", "add", f"{here}/30", "dev", f"{link}h"],
        ["ip", "link", "set", f"{link}h", "up"],
        ["ip", "netns", "exec", name, "ip", "addr", "add", f"{there}/30", "dev", f"{link}n"],
        ["ip", "netns", "exec", name, "ip", "link", "set", f"{link}n", "up"],
    ]
    try:
        for argv in commands:
            if subprocess.run(argv, capture_output=True, check=False).returncode != 0:
                pytest.skip(f"network namespaces are not available here ({argv[:3]})")
        yield name, here, there
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", f"{link}h"], capture_output=True, check=False)


def connects_from(namespace: str, address: str, port: int) -> bool:
    script = (f"import socket; socket.create_connection(({address!r}, {port}), timeout=2)")
    return subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", script],
                          capture_output=True, check=False).returncode == 0


def test_an_apps_port_answers_this_host_and_the_routers_but_no_other_machine(
        db, outside_machine):
    if not firewall.loaded():
        pytest.skip("no nftables here: `make test` as root installs it")
    namespace, here, there = outside_machine
    port = settings.PAAS_PORT_RANGE[1]  # an app's port (the last of the run's range)
    with socket.create_server((here, port), backlog=8):  # the kernel completes handshakes
        assert not connects_from(namespace, here, port)  # not a router: dropped
        assert socket.create_connection((here, port), timeout=2)  # this host: allowed
        Host.objects.create(name="router-elsewhere", address=there)
        assert firewall.sync()
        assert connects_from(namespace, here, port)  # a registered host's router
        Host.objects.filter(name="router-elsewhere").delete()
        assert firewall.sync()


def test_a_workspace_users_are_made_on_first_use_and_removed_once_it_is_gone(db, workspace_a):
    first, last = settings.PAAS_WORKSPACE_UIDS
    gone = accounts.Account(name=f"{settings.PAAS_WORKSPACE_USER_PREFIX}{last}", uid=last,
                            schema_name="ws_gone_long_ago")
    accounts.ensure(gone)
    live = accounts.account_for(workspace_a.schema_name, workspace_a.pk)
    accounts.ensure(live)
    assert pwd.getpwnam(gone.name).pw_uid == last
    assert gone.home.is_dir() and gone.home.stat().st_uid == last
    assert oct(gone.home.stat().st_mode & 0o777) == "0o700"
    monitor._remove_stray_accounts({workspace_a.schema_name: workspace_a.pk})
    with pytest.raises(KeyError):
        pwd.getpwnam(gone.name)
    assert not gone.home.exists()
    assert pwd.getpwnam(live.name).pw_uid == first + workspace_a.pk
