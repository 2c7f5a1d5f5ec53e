"""The worker and the clock as `make run` starts them (honcho, the Procfile's own lines): the
clock's schedule reaches the monitor, and monitor passes keep completing."""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from django_tenants.utils import tenant_context

from conftest import BASE_DIR, process_env
from deployments.engine.monitor import QUEUED_TIMEOUT
from deployments.models import Deployment, Status
from deployments.tests.engine import make_service, remove_everything, wait_for

# The clock ticks at the start of each minute, then the monitor runs every 15 s.
FIRST_PASS_TIMEOUT = 90
NEXT_PASS_TIMEOUT = 40


def stale_queued_deployment(workspace, service) -> Deployment:
    """A deployment whose message was lost: the monitor fails it on its next pass."""
    with tenant_context(workspace):
        number = service.deployments.count() + 1
        deployment = Deployment.objects.create(service=service, number=number)
        Deployment.objects.filter(pk=deployment.pk).update(
            created_at=timezone.now() - QUEUED_TIMEOUT - timedelta(minutes=1))
    return deployment


def status_of(workspace, deployment: Deployment) -> str:
    with tenant_context(workspace):
        return Deployment.objects.get(pk=deployment.pk).status


def test_monitor_passes_complete_under_the_procfile_worker_and_clock(committed_db, tmp_path):
    workspace = committed_db.workspace_a
    service = make_service(workspace, "https://example.com/app.git", name="scheduled")
    log_path = Path(tmp_path) / "honcho.log"
    with open(log_path, "w") as log:
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", str(BASE_DIR / "Procfile"),
             "--no-colour", "worker", "clock"],
            cwd=BASE_DIR, env=process_env(PATH=f"{Path(sys.executable).parent}{os.pathsep}"
                                          f"{os.environ['PATH']}"),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        first = stale_queued_deployment(workspace, service)
        assert wait_for(lambda: status_of(workspace, first) == Status.FAILED,
                        FIRST_PASS_TIMEOUT, interval=0.5), log_path.read_text()[-3000:]
        second = stale_queued_deployment(workspace, service)
        assert wait_for(lambda: status_of(workspace, second) == Status.FAILED,
                        NEXT_PASS_TIMEOUT, interval=0.5), log_path.read_text()[-3000:]
        with tenant_context(workspace):
            reason = Deployment.objects.get(pk=second.pk).error_reason
        assert "No worker picked this deployment up" in reason
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
        remove_everything(workspace)
    output = log_path.read_text()
    assert "WRONGTYPE" not in output
    assert "Traceback" not in output, output[-3000:]
