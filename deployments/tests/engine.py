"""Helpers of the engine's end-to-end tests: a real Dramatiq worker, services made from sample
repositories, waiting for a deployment to settle, and cleaning up what a test deployed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django_tenants.utils import tenant_context

from conftest import BASE_DIR, process_env
from deployments.engine import pm2
from deployments.models import Deployment, Status
from deployments.services import trigger_deployment
from deployments.tasks import this_host
from hosting.models import PortAllocation, Route
from projects.models import Project, Service, Variable
from projects.services import create_project, create_service
from tenants.models import Workspace

SETTLED = (*Status.FINAL, Status.ACTIVE)
# Workers refuse repository hosts on the panel's own network whatever the developer's
# environment says: the engine tests count on it. No Traefik polls the routes here (the
# development router reads them as they are used), so the drain is PAAS_DRAIN_SECONDS alone.
WORKER_ENV = {"PAAS_DRAIN_SECONDS": "1", "PAAS_TRAEFIK_POLL_SECONDS": "0",
              "PAAS_ALLOW_INTERNAL_REPO_HOSTS": "0"}


@contextmanager
def running_worker(queues: str = "", **env: str) -> Iterator[subprocess.Popen]:
    """A worker as `make run` starts one, on this host's queues and `default` (or `queues`,
    comma-separated)."""
    queues = queues or ",".join([*(this_host(kind) for kind in ("build", "deploy")), "default"])
    log_path = Path(BASE_DIR) / ".data" / "test-logs" / f"worker-{time.time_ns()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "2",
             "--queues", *queues.split(",")],
            cwd=BASE_DIR, env=process_env(**{**WORKER_ENV, **env}), stdout=log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(predicate: Callable[[], object], timeout: float = 60.0,
             interval: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return None


def settle(workspace: Workspace, deployment: Deployment, timeout: float = 90.0,
           statuses: tuple = SETTLED) -> Deployment:
    """Wait until the deployment reaches one of `statuses`; returns it fresh."""
    def reached() -> Deployment | None:
        with tenant_context(workspace):
            fresh = Deployment.objects.get(pk=deployment.pk)
        return fresh if fresh.status in statuses else None

    result = wait_for(reached, timeout)
    if result is None:
        with tenant_context(workspace):
            fresh = Deployment.objects.get(pk=deployment.pk)
            log = "\n".join(fresh.log_lines.values_list("text", flat=True))
        raise AssertionError(f"#{fresh.number} is still {fresh.status}; log:\n{log}")
    return result


def log_of(workspace: Workspace, deployment: Deployment) -> list[tuple[str, str]]:
    """(phase, text) of every stored line, in order."""
    with tenant_context(workspace):
        return list(deployment.log_lines.order_by("sequence").values_list("phase", "text"))


def get(port: int, path: str = "/", host: str | None = None,
        timeout: float = 5.0) -> tuple[int, object]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", "replace")


def make_service(workspace: Workspace, repository: str, name: str = "web",
                 **settings: object) -> Service:
    with tenant_context(workspace):
        project = create_project(f"Engine {name} {time.time_ns()}")
        return create_service(project.environments.get(), name, repository_url=repository,
                              **settings)


def remove_everything(workspace: Workspace) -> None:
    """What engine tests leave behind in the workspace: projects (and deployments), PM2
    processes, ports and routes."""
    prefix = f"{workspace.schema_name}."
    names = [info.name for info in pm2.jlist() if info.name.startswith(prefix)]
    if names:
        pm2.delete(names)
    PortAllocation.objects.filter(schema_name=workspace.schema_name).delete()
    Route.objects.filter(schema_name=workspace.schema_name).delete()
    with tenant_context(workspace):
        Service.objects.update(active_deployment=None)
        Project.objects.all().delete()


def processes_with_env(entry: str) -> list[int]:
    """Pids of the host's processes whose environment holds `entry` ("NAME=value")."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if entry.encode() in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def deploy(workspace: Workspace, service: Service, **kwargs: object) -> Deployment:
    """What the Deploy button does, as the workspace's owner."""
    with tenant_context(workspace):
        return trigger_deployment(service, triggered_by="owner@a.example", **kwargs)


def set_variable(workspace: Workspace, service: Service, key: str, value: str) -> None:
    with tenant_context(workspace):
        variable = (Variable.objects.filter(service=service, key=key).first()
                    or Variable(service=service, key=key))
        variable.set_value(value)
        variable.save()
