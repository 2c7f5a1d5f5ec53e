"""Limits per service (README, Isolation): processes, open files, CPU priority and memory,
observed from inside the app and on the service's page."""

from __future__ import annotations

import subprocess

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from conftest import host_of
from deployments.engine import monitor
from deployments.models import Deployment, Status
from deployments.tests.engine import deploy, get, log_of, make_service, set_variable, settle
from deployments.tests.sample_apps import make_repo

SERVER = r'''
import json
import os
import resource
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

facts = {
    "open_files": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    "processes": resource.getrlimit(resource.RLIMIT_NPROC)[0],
    "nice": os.nice(0),
}
if os.environ.get("FORK_BOMB"):
    children = []
    try:
        while len(children) < 5000:
            child = os.fork()
            if child == 0:
                time.sleep(300)
                os._exit(0)
            children.append(child)
    except OSError as error:
        facts["fork_error"] = error.strerror
    facts["forked"] = len(children)
    for child in children:  # room again for the server's threads
        os.kill(child, 9)
        os.waitpid(child, 0)
hog = b"x" * int(os.environ.get("HOG_MB", "0")) * 2**20


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        data = json.dumps(facts).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''
APP = {"server.py": SERVER, "Procfile": "web: python3 server.py\n"}


def active(workspace, service, **variables) -> Deployment:
    for key, value in variables.items():
        set_variable(workspace, service, key, value)
    deployment = settle(workspace, deploy(workspace, service))
    assert deployment.status == Status.ACTIVE, log_of(workspace, deployment)
    return deployment


def test_a_process_runs_with_its_services_open_files_and_cpu_priority(ws, tmp_path):
    service = make_service(ws, make_repo(tmp_path, "limits", APP), max_open_files=321,
                           cpu_priority=7, max_processes=200)
    deployment = active(ws, service)
    _, facts = get(deployment.port)
    assert facts["open_files"] == 321
    assert facts["nice"] == 7
    assert facts["processes"] == 200


@pytest.mark.skipif(not settings.PAAS_ISOLATED,
                    reason="the process limit counts the processes of the workspace's own "
                           "user: needs isolation (root)")
def test_a_fork_bomb_stops_at_the_process_limit_and_the_host_stays_responsive(ws, tmp_path):
    service = make_service(ws, make_repo(tmp_path, "bomb", APP), max_processes=40)
    deployment = active(ws, service, FORK_BOMB="1")
    _, facts = get(deployment.port)
    assert facts["forked"] < 40
    assert facts["fork_error"] == "Resource temporarily unavailable"
    # The panel still starts processes, and serves.
    assert subprocess.run(["true"], check=False).returncode == 0
    assert get(deployment.port)[0] == 200


def test_a_process_past_its_memory_limit_is_restarted_with_the_reason_on_its_page(
        ws, tmp_path, client_for, committed_db):
    service = make_service(ws, make_repo(tmp_path, "hog", APP), memory_limit_mb=64)
    deployment = active(ws, service, HOG_MB="150")
    with tenant_context(ws):
        monitor.check_workspace()
        fresh = Deployment.objects.get(pk=deployment.pk)
    assert "over its 64 MB memory limit: restarted" in fresh.restart_reason
    assert fresh.status == Status.ACTIVE  # a restart the panel made is not a crash
    page = client_for(committed_db.owner, ws).get(f"/services/{service.pk}/",
                                                   HTTP_HOST=host_of(ws))
    assert "over its 64 MB memory limit: restarted" in page.content.decode()
    assert any("memory limit" in text for _, text in log_of(ws, fresh))
