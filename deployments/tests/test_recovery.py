"""What users of every peer complain about, checked end to end with a real worker and PM2:
downtime during a switch, rollbacks that deploy the wrong thing or rebuild, crash loops shown
as green, workers and daemons that die mid-way."""

import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from conftest import BASE_DIR, free_port, process_env
from deployments.engine import monitor, pm2
from deployments.models import Deployment, Phase, ProcessSample, Status, Trigger
from deployments.services import rollback
from deployments.tasks import monitor_processes
from deployments.tests import sample_apps
from deployments.tests.engine import (
    deploy,
    get,
    log_of,
    make_service,
    remove_everything,
    set_variable,
    settle,
    wait_for,
)


@pytest.fixture
def router():
    """The development router in front of the apps, as `make run` starts it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "devrouter.app:application", "--host",
         "127.0.0.1", "--port", str(port), "--no-access-log"],
        cwd=BASE_DIR, env=process_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    assert wait_for(lambda: _answers(port, host="nothing.apps.localhost", expect=404), 20)
    yield port
    process.terminate()
    process.wait(10)


def test_a_redeploy_under_continuous_polling_fails_no_request(ws, tmp_path, router):
    repo = sample_apps.make_repo(tmp_path, "zero", sample_apps.NODE_APP)
    service = make_service(ws, repo)
    first = settle(ws, deploy(ws, service))
    host = f"web-{ws.slug}.apps.localhost"
    assert get(router, host=host)[1]["deployment"] == str(first.pk)
    set_variable(ws, service, "VERSION", "v2")

    results: list[object] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                status, body = get(router, host=host, timeout=5)
                results.append(body.get("version") if status == 200 else status)
            except OSError as error:
                results.append(repr(error))

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        second = settle(ws, deploy(ws, service))
        assert second.status == Status.ACTIVE
        # Past the drain: the old process is stopped while the poller goes on.
        assert wait_for(lambda: not [i for i in pm2.jlist()
                                     if i.env_deployment_id == str(first.pk)], 20)
        time.sleep(0.5)
    finally:
        stop.set()
        poller.join()
    failures = [r for r in results if r not in ("v1", "v2")]
    assert failures == [], f"{len(failures)} of {len(results)} requests failed: {failures[:5]}"
    assert results[0] == "v1" and results[-1] == "v2"


def test_rollback_reuses_the_release_and_variables_without_a_rebuild(ws, tmp_path):
    repo = sample_apps.make_repo(tmp_path, "roll", sample_apps.NODE_APP)
    service = make_service(ws, repo)
    first = settle(ws, deploy(ws, service))
    set_variable(ws, service, "VERSION", "v2")
    sample_apps.commit(repo, {"CHANGELOG": "second\n"}, "Second commit")
    second = settle(ws, deploy(ws, service))
    assert get(second.port)[1]["version"] == "v2"

    with tenant_context(ws):
        back = rollback(Deployment.objects.get(pk=first.pk), triggered_by="owner@a.example")
    back = settle(ws, back)

    assert back.status == Status.ACTIVE and back.trigger == Trigger.ROLLBACK, back.error_reason
    assert back.release_dir == first.release_dir and back.commit_sha == first.commit_sha
    status, body = get(back.port)
    assert body["version"] == "v1", "the rollback ran with today's variables, not the release's"
    phases = {phase for phase, _ in log_of(ws, back)}
    assert Phase.FETCH not in phases and Phase.BUILD not in phases, "the rollback rebuilt"
    with tenant_context(ws):
        assert Deployment.objects.get(pk=second.pk).status == Status.SUPERSEDED


def test_a_crash_looping_release_is_marked_crashed_and_rolled_back(ws, tmp_path):
    repo = sample_apps.make_repo(tmp_path, "crashy", sample_apps.NODE_APP)
    service = make_service(ws, repo, restart_policy="always")
    good = settle(ws, deploy(ws, service))
    sample_apps.commit(repo, sample_apps.CRASH_LOOP, "Crash three seconds after start")
    set_variable(ws, service, "VERSION", "v2")
    bad = settle(ws, deploy(ws, service))
    assert bad.status == Status.ACTIVE, "it passes its health check before it crashes"

    def crashed() -> bool:
        with override_settings(PAAS_CRASH_RESTARTS=2):
            monitor_processes()
        with tenant_context(ws):
            return Deployment.objects.get(pk=bad.pk).status == Status.CRASHED

    assert wait_for(crashed, 60, interval=1)
    with tenant_context(ws):
        bad.refresh_from_db()
        rollback_deployment = Deployment.objects.filter(
            service=service, trigger=Trigger.ROLLBACK).get()
    assert "restarted" in bad.error_reason
    assert rollback_deployment.source_deployment_id == good.pk
    rollback_deployment = settle(ws, rollback_deployment)
    assert rollback_deployment.status == Status.ACTIVE
    assert get(rollback_deployment.port)[1]["version"] == "v1"
    assert any("Automatic rollback" in text for _, text in log_of(ws, rollback_deployment))
    assert any("Rolling back automatically" in text for _, text in log_of(ws, bad))

    # Should the rollback crash too, the engine does not roll back again and again.
    with tenant_context(ws):
        assert monitor.handle_crash(Deployment.objects.select_related("service").get(
            pk=rollback_deployment.pk), "crashed in a test") == []
        assert Deployment.objects.filter(service=service).count() == 3
        assert Deployment.objects.get(pk=rollback_deployment.pk).status == Status.CRASHED
    assert any("not rolling back again" in text for _, text in log_of(ws, rollback_deployment))


def test_the_monitor_resurrects_a_dead_pm2_daemon(ws, tmp_path):
    repo = sample_apps.make_repo(tmp_path, "phoenix", sample_apps.NODE_APP)
    service = make_service(ws, repo)
    deployment = settle(ws, deploy(ws, service))
    assert get(deployment.port)[0] == 200

    pm2.kill_daemon()
    assert not pm2.daemon_running()
    with pytest.raises(OSError):
        get(deployment.port, timeout=2)

    monitor_processes()

    assert wait_for(lambda: _answers(deployment.port), 20)
    assert get(deployment.port)[1]["deployment"] == str(deployment.pk)
    monitor_processes()  # a pass with the daemon up records what it runs
    with tenant_context(ws):
        assert Deployment.objects.get(pk=deployment.pk).status == Status.ACTIVE
        samples = list(deployment.samples.all())
    assert any(s.status == "online" and s.memory_bytes > 0 for s in samples)


def _answers(port: int, host: str | None = None, expect: int = 200) -> bool:
    try:
        return get(port, host=host, timeout=2)[0] == expect
    except OSError:
        return False



def test_restarts_a_user_asked_for_are_not_a_crash_loop(ws, tmp_path):
    from deployments.services import restart_service

    repo = sample_apps.make_repo(tmp_path, "restarts", sample_apps.NODE_APP)
    service = make_service(ws, repo)
    deployment = settle(ws, deploy(ws, service))
    for _ in range(4):
        with tenant_context(ws):
            service.refresh_from_db()
            restart_service(service, by="member@a.example")
        done = len([t for _, t in log_of(ws, deployment) if t.startswith("Restarted")]) + 1
        assert wait_for(lambda d=done: len([t for _, t in log_of(ws, deployment)
                                            if t.startswith("Restarted")]) >= d, 20)
    assert [i.restarts for i in pm2.jlist() if i.env_deployment_id == str(deployment.pk)] == [4]

    with override_settings(PAAS_CRASH_RESTARTS=2):
        monitor_processes()

    with tenant_context(ws):
        assert Deployment.objects.get(pk=deployment.pk).status == Status.ACTIVE


def test_a_deployment_no_worker_picked_up_is_failed_in_the_end(committed_db, tmp_path):
    ws = committed_db.workspace_a
    service = make_service(ws, "https://github.com/acme/web.git")
    try:
        with tenant_context(ws):
            # Its message was lost: nothing will ever build it.
            deployment = Deployment.objects.create(service=service, number=1)
            Deployment.objects.filter(pk=deployment.pk).update(
                created_at=timezone.now() - monitor.QUEUED_TIMEOUT - timedelta(seconds=1))
        monitor_processes()
        with tenant_context(ws):
            deployment.refresh_from_db()
        assert deployment.status == Status.FAILED
        assert "No worker picked this deployment up" in deployment.error_reason
    finally:
        remove_everything(ws)


def test_the_monitor_keeps_a_week_of_samples(committed_db):
    ws = committed_db.workspace_a
    service = make_service(ws, "https://github.com/acme/web.git")
    try:
        with tenant_context(ws):
            deployment = Deployment.objects.create(service=service, number=1,
                                                   status=Status.SUPERSEDED)
            now = timezone.now()
            for age in (timedelta(days=8), timedelta(days=6)):
                ProcessSample.objects.create(deployment=deployment, process_name="p",
                                             status="online", sampled_at=now - age)
        monitor_processes()
        with tenant_context(ws):
            ages = [now - sample.sampled_at for sample in deployment.samples.all()]
        assert ages == [timedelta(days=6)]
    finally:
        remove_everything(ws)
