"""The worker's side of a build, piece by piece with real processes, Redis and PostgreSQL:
the build timeout, cancel, the host's build slots, the log writer and release pruning."""

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from deployments.engine import releases
from deployments.engine.runner import Cancelled, Control, TimedOut, build_slot
from deployments.logs import LogWriter, logs_group, secret_values
from deployments.models import Deployment, LogLine, Phase, Status
from deployments.tests.engine import processes_with_env
from projects.services import create_project, create_service


@pytest.fixture
def service(workspace_a):
    with tenant_context(workspace_a):
        project = create_project("Runner")
        yield create_service(project.environments.get(), "web")


def new_deployment(service, number=1, **fields):
    return Deployment.objects.create(service=service, number=number, **fields)


def test_a_build_past_its_timeout_is_killed_with_its_children(workspace_a, service, tmp_path):
    with tenant_context(workspace_a):
        deployment = new_deployment(service)
        marker = f"PAAS_DEPLOYMENT_ID={deployment.pk}-timeout-{time.time_ns()}"
        with LogWriter(deployment) as log:
            control = Control(deployment, log)
            control.deadline = time.monotonic() + 1  # as start_deadline does, in seconds
            started = time.monotonic()
            with pytest.raises(TimedOut):
                control.run(["/bin/sh", "-c", "echo started; sleep 60 & sleep 60"],
                            {"PATH": "/usr/bin:/bin", "MARKER": marker}, tmp_path,
                            phase=Phase.BUILD)
        assert time.monotonic() - started < 30
        assert [text for text in deployment.log_lines.values_list("text", flat=True)] == [
            "started"]
    # Both sleeps (the shell's background child too) are gone.
    time.sleep(0.5)
    assert not processes_with_env(f"MARKER={marker}")


def test_a_cancel_request_stops_the_running_command(workspace_a, service, tmp_path):
    with tenant_context(workspace_a):
        deployment = new_deployment(service, status=Status.BUILDING)
        with LogWriter(deployment) as log:
            control = Control(deployment, log)
            # What "Cancel" does from the web process while the build runs.
            Deployment.objects.filter(pk=deployment.pk).update(cancel_requested=True)
            started = time.monotonic()
            with pytest.raises(Cancelled):
                control.run(["sleep", "60"], {"PATH": "/usr/bin:/bin"}, tmp_path,
                            phase=Phase.BUILD)
            assert time.monotonic() - started < 10


def test_the_host_runs_at_most_the_configured_number_of_builds(workspace_a, service):
    with tenant_context(workspace_a), override_settings(PAAS_MAX_CONCURRENT_BUILDS=1):
        first, second = new_deployment(service, 1), new_deployment(service, 2)
        with LogWriter(first) as log_one, LogWriter(second) as log_two:
            holder, waiter = Control(first, log_one), Control(second, log_two)
            order: list[str] = []
            with build_slot(holder):
                order.append("first builds")

                def second_build() -> None:
                    with build_slot(waiter):
                        order.append("second builds")

                # The second would beat its heartbeat from its thread: no database there.
                waiter.beat = lambda force=False: None
                thread = threading.Thread(target=second_build)
                thread.start()
                time.sleep(1.2)
                assert order == ["first builds"], "a second build ran beside the first"
                order.append("first done")
            thread.join(10)
            assert order == ["first builds", "first done", "second builds"]
        # The waiting build said why it waited (stored when its writer closed).
        assert LogLine.objects.filter(
            deployment=second, text__startswith="Waiting for a build slot").exists()


def test_log_lines_are_stored_in_order_masked_and_published(
        workspace_a, service, django_capture_on_commit_callbacks):
    layer = get_channel_layer()
    with tenant_context(workspace_a):
        deployment = new_deployment(service)
        group = logs_group(connection.schema_name, deployment.pk)
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(group, channel)
        secrets = secret_values({"API_TOKEN": "tok-123456", "SHORT": "on",
                                 "PAAS_PUBLIC_DOMAIN": "web-team-a.apps.localhost"})
        # Published once the lines commit.
        with django_capture_on_commit_callbacks(execute=True), \
                LogWriter(deployment, secrets=secrets) as log:
            log.write("one\ntwo with tok-123456", phase=Phase.BUILD)
            log.write("on web-team-a.apps.localhost", phase=Phase.SWITCH)
        lines = list(deployment.log_lines.values_list("sequence", "phase", "text"))
        message = async_to_sync(layer.receive)(channel)
        async_to_sync(layer.group_discard)(group, channel)
    assert lines == [(1, "build", "one"), (2, "build", "two with *****"),
                     (3, "switch", "on web-team-a.apps.localhost")]
    assert message["type"] == "log.lines"
    assert [line["text"] for line in message["lines"]] == [text for _, _, text in lines]
    assert "tok-123456" not in json.dumps(message)


@pytest.fixture
def apps_dir(settings) -> Iterator[Path]:
    """An apps directory of the test's own, which workspace users may go through (tmp_path
    is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="paas-apps-", dir="/tmp"))
    path.chmod(0o711)
    settings.PAAS_APPS_DIR = path / "apps"
    yield settings.PAAS_APPS_DIR
    shutil.rmtree(path, ignore_errors=True)


def test_pruning_keeps_the_newest_releases_and_only_what_the_panel_made(workspace_a, service,
                                                                       settings, apps_dir):
    settings.PAAS_RELEASES_KEPT = 2
    with tenant_context(workspace_a):
        made = []
        for number in range(1, 5):
            deployment = new_deployment(service, number, status=Status.SUPERSEDED)
            path = releases.create_release_dir(deployment)
            deployment.release_dir = str(path)
            deployment.save()
            made.append(deployment)
        active = made[-1]
        Deployment.objects.filter(pk=active.pk).update(status=Status.ACTIVE)
        # A rollback shares the directory of #3: the newest two distinct releases are #4, #3.
        new_deployment(service, 5, status=Status.SUPERSEDED, release_dir=made[2].release_dir)
        # Something that is not a release, where a release of #1 could be.
        stranger = Path(made[0].release_dir).parent / "not-ours"
        stranger.mkdir()
        (stranger / "data").write_text("keep me")
        # A failed deployment whose directory claims to be another's: not removed either.
        forged = new_deployment(service, 6, status=Status.FAILED,
                                release_dir=str(stranger))

        logs = {d.number: releases.log_dir_for(d) for d in made}
        removed = releases.prune_releases(service.pk)

    assert sorted(removed) == [1, 2]
    assert not Path(made[0].release_dir).exists() and not Path(made[1].release_dir).exists()
    assert Path(made[2].release_dir).exists() and Path(made[3].release_dir).exists()
    assert (stranger / "data").read_text() == "keep me"
    assert forged.release_dir == str(stranger)
    # The output files of the processes of the releases that went, too.
    assert [number for number, path in sorted(logs.items()) if path.exists()] == [3, 4]
