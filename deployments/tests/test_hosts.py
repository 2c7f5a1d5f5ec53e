"""Several hosts against one database and one Redis: each service's deployments are built and
run by its own host's worker only, on that host's queues, and routed at that host's address."""

import os
import shutil
from pathlib import Path

import redis
from django.conf import settings
from django.test import override_settings
from django_tenants.utils import tenant_context

from deployments.engine import monitor, pm2
from deployments.models import Deployment, Status
from deployments.tests import sample_apps
from deployments.tests.engine import (
    deploy,
    get,
    make_service,
    remove_everything,
    running_worker,
    settle,
)
from hosting.models import Host, Route, host_queue

HOSTS = {"alpha": "127.0.0.1", "beta": "127.0.0.2"}


def apps_dir_of(host_name: str) -> Path:
    """Each host its own apps directory and PM2 daemon (a short path: PM2's sockets)."""
    return Path("/tmp") / f"paas-host-{host_name}-{os.getpid()}"


def pm2_of(host_name: str) -> override_settings:
    return override_settings(PAAS_APPS_DIR=apps_dir_of(host_name),
                             PAAS_PM2_HOME=apps_dir_of(host_name) / "pm2")


def test_each_deployment_is_built_and_run_by_its_own_hosts_worker(committed_db, tmp_path):
    workspace = committed_db.workspace_a
    repo = sample_apps.make_repo(tmp_path, "hosts", sample_apps.NODE_APP)
    services = {name: make_service(workspace, repo, name=f"web-{name}", host_name=name)
                for name in HOSTS}
    workers = [running_worker(
        ",".join(host_queue(kind, name) for kind in ("build", "deploy", "monitor")),
        PAAS_HOST_NAME=name, PAAS_HOST_ADDRESS=address,
        PAAS_APPS_DIR=str(apps_dir_of(name)), PAAS_ALLOW_LOCAL_REPOS="1",
    ) for name, address in HOSTS.items()]
    try:
        for worker in workers:
            worker.__enter__()
        queued = {name: deploy(workspace, service) for name, service in services.items()}
        done = {name: settle(workspace, deployment, timeout=150)
                for name, deployment in queued.items()}

        for name, deployment in done.items():
            assert deployment.status == Status.ACTIVE
            assert (deployment.host_name, deployment.worker_host) == (name, name)
            assert Path(deployment.release_dir).is_relative_to(apps_dir_of(name))
            assert get(deployment.port)[0] == 200
            route = Route.objects.get(schema_name=workspace.schema_name,
                                      service_id=services[name].pk)
            assert route.upstream == f"{HOSTS[name]}:{deployment.port}"
            # Its processes run under its own host's PM2, and under no other's.
            for other in HOSTS:
                with pm2_of(other):
                    ids = {info.env_deployment_id for info in pm2.jlist()}
                assert (str(deployment.pk) in ids) == (other == name), (name, other)
        # Both workers registered their machine at start.
        assert dict(Host.objects.filter(name__in=HOSTS).values_list("name", "address")) == HOSTS

        # A redeploy of beta's service stays on beta.
        again = settle(workspace, deploy(workspace, services["beta"]), timeout=150)
        assert (again.status, again.worker_host) == (Status.ACTIVE, "beta")
        with tenant_context(workspace):
            assert Deployment.objects.get(pk=done["beta"].pk).status == Status.SUPERSEDED
    finally:
        for worker in workers:
            worker.__exit__(None, None, None)
        for name in HOSTS:
            with pm2_of(name):
                pm2.kill_daemon()
            shutil.rmtree(apps_dir_of(name), ignore_errors=True)
        remove_everything(workspace)
        Host.objects.filter(name__in=HOSTS).delete()


def test_the_monitor_lock_is_per_host(committed_db):
    """A pass running on one host does not hold up another host's (its lock is its own, and
    not the monitor queue's Redis key)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        with override_settings(PAAS_HOST_NAME="alpha", PAAS_PM2_HOME=apps_dir_of("alpha")):
            assert not monitor.monitor_lock_key().endswith(":monitor")
            held = client.lock(monitor.monitor_lock_key(), timeout=30)
            assert held.acquire(blocking=False)
            monitor.run()  # alpha's pass is under way elsewhere: this one does nothing
            assert not Host.objects.filter(name="alpha").exists()
        with override_settings(PAAS_HOST_NAME="beta", PAAS_PM2_HOME=apps_dir_of("beta")):
            monitor.run()  # beta's pass runs (and records that beta was seen)
            assert Host.objects.get(name="beta").seen_at is not None
        held.release()
    finally:
        Host.objects.filter(name__in=HOSTS).delete()
        shutil.rmtree(apps_dir_of("beta"), ignore_errors=True)
