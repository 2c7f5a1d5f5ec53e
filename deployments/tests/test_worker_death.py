"""A worker killed in the middle of a build: the monitor fails the deployment within its
heartbeat timeout and kills what is left of the build. In a module of its own: no other worker
may be running (it would pick the build up instead of the one that is killed)."""

import os
import signal
import time
from pathlib import Path

from django.test import override_settings
from django_tenants.utils import tenant_context

from deployments.models import Status
from deployments.services import trigger_deployment
from deployments.tasks import monitor_processes
from deployments.tests import sample_apps
from deployments.tests.engine import (
    log_of,
    make_service,
    processes_with_env,
    remove_everything,
    running_worker,
    wait_for,
)


def test_a_deployment_whose_worker_died_mid_build_is_failed_by_the_monitor(committed_db,
                                                                            tmp_path):
    ws = committed_db.workspace_a
    repo = sample_apps.make_repo(tmp_path, "orphan", sample_apps.NODE_APP)
    service = make_service(ws, repo, build_command="echo long build; sleep 300")
    try:
        with running_worker() as doomed:
            with tenant_context(ws):
                deployment = trigger_deployment(service, triggered_by="owner@a.example")
            assert wait_for(lambda: any("long build" in text
                                        for _, text in log_of(ws, deployment)), 60)
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
        with tenant_context(ws):
            deployment.refresh_from_db()
        build = [pid for pid in processes_with_env(f"PAAS_DEPLOYMENT_ID={deployment.pk}")
                 if os.getpgid(pid) == deployment.build_pgid]
        assert build, "the build outlived its worker: that is what the monitor is for"
        with override_settings(PAAS_HEARTBEAT_TIMEOUT_SECONDS=1):
            time.sleep(1.5)
            monitor_processes()
        with tenant_context(ws):
            deployment.refresh_from_db()
        assert deployment.status == Status.FAILED
        assert "stopped responding" in deployment.error_reason
        assert not Path(deployment.release_dir).exists()
        assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in build), 10)
    finally:
        remove_everything(ws)
