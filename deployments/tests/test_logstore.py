"""The log store: lines in daily partitions by expiry, dropped whole; sequence numbers in
commit order without gaps; JSON lines with their level and attributes; long lines cut with a
marker; the size per service."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from deployments import logstore
from deployments.logstore import NewLine
from deployments.models import Deployment, LogLine, LogVolume
from deployments.tasks import drop_expired_logs
from projects.services import create_project, create_service
from tenants.models import Workspace
from tenants.services import create_workspace


@pytest.fixture
def service(workspace_a):
    with tenant_context(workspace_a):
        environment = create_project("Logs").environments.get()
        return create_service(environment, "api")


def deploy(service, number=1):
    return Deployment.objects.create(service=service, number=number)


def test_lines_land_in_the_partition_of_the_day_they_expire_and_go_with_it(
        workspace_a, service):
    written = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
    with tenant_context(workspace_a):
        deployment = deploy(service)
        logstore.append(deployment.pk, service.pk, 7, [
            NewLine("late", "stdout", timestamp=written),
            NewLine("next day", "stdout", timestamp=written + timedelta(hours=1)),
        ])
        logstore.append(deployment.pk, service.pk, 1, [NewLine("short", "stdout",
                                                              timestamp=written)])
        assert logstore.partitions() == [datetime(2026, 12, 4).date(),
                                         datetime(2026, 12, 10).date(),
                                         datetime(2026, 12, 11).date()]
        assert LogVolume.objects.filter(service=service).count() == 3

        dropped = logstore.drop_expired(today=datetime(2026, 12, 10).date())

        assert dropped == [datetime(2026, 12, 4).date(), datetime(2026, 12, 10).date()]
        assert list(LogLine.objects.values_list("text", flat=True)) == ["next day"]
        assert logstore.partitions() == [datetime(2026, 12, 11).date()]
        # The size left is that of the day still kept.
        assert list(LogVolume.objects.values_list("expires_on", "lines")) == [
            (datetime(2026, 12, 11).date(), 1)]
        with connection.cursor() as cursor:  # dropped, not emptied by a DELETE
            cursor.execute("SELECT to_regclass(%s)", ["deployments_logline_20261210"])
            assert cursor.fetchone() == (None,)


def test_a_new_workspace_gets_the_partitioned_table_from_the_template(committed_db):
    workspace = create_workspace("partitioned", "Partitioned", committed_db.outsider)
    try:
        with tenant_context(workspace):
            with connection.cursor() as cursor:
                cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass",
                               [f"{workspace.schema_name}.deployments_logline"])
                assert cursor.fetchone() == ("p",)  # partitioned, not a plain copy
            environment = create_project("P").environments.get()
            service = create_service(environment, "web")
            deployment = deploy(service)
            logstore.append(deployment.pk, service.pk, 7, [NewLine("hello", "stdout")])
            assert list(deployment.log_lines.values_list("sequence", "text")) == [(1, "hello")]
    finally:
        connection.set_schema_to_public()
        Workspace.objects.get(pk=workspace.pk).delete(force_drop=True)


def test_sequences_follow_one_another_across_writers(committed_db):
    """Two writers of one deployment at once (a build and the monitor): every number once,
    in commit order, none skipped."""
    workspace = committed_db.workspace_a
    with tenant_context(workspace):
        environment = create_project("Concurrent").environments.get()
        service = create_service(environment, "web")
        deployment = deploy(service)
    try:
        def write(name: str) -> None:
            with tenant_context(workspace):
                for batch in range(20):
                    logstore.append(deployment.pk, service.pk, 7,
                                    [NewLine(f"{name}-{batch}-{i}", "stdout") for i in range(5)])
            connection.close()

        threads = [threading.Thread(target=write, args=(name,)) for name in "ab"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with tenant_context(workspace):
            sequences = list(LogLine.objects.filter(deployment=deployment)
                             .order_by("sequence").values_list("sequence", flat=True))
            texts = set(LogLine.objects.filter(deployment=deployment)
                        .values_list("text", flat=True))
            assert sequences == list(range(1, 201))
            assert len(texts) == 200
            assert Deployment.objects.get(pk=deployment.pk).log_sequence == 200
    finally:
        with tenant_context(workspace):
            environment.project.delete()


def test_json_lines_keep_their_level_and_attributes(workspace_a, service):
    with tenant_context(workspace_a):
        deployment = deploy(service)
        lines = logstore.append(deployment.pk, service.pk, 7, [
            NewLine(json.dumps({"level": "WARN", "msg": "slow", "ms": 1200}), "stdout"),
            NewLine('{"severity": "error", "message": "boom"}', "stderr"),
            NewLine(json.dumps({"level": 50, "msg": "pino"}), "stdout"),
            NewLine("{not json}", "stdout"),
            NewLine("[1, 2]", "stdout"),
            NewLine("plain", "stdout"),
        ])
        stored = list(deployment.log_lines.order_by("sequence")
                      .values_list("level", "attributes"))
    assert stored == [
        ("warning", {"level": "WARN", "msg": "slow", "ms": 1200}),
        ("error", {"severity": "error", "message": "boom"}),
        ("error", {"level": 50, "msg": "pino"}),
        ("", None), ("", None), ("", None),
    ]
    assert [line.sequence for line in lines] == [1, 2, 3, 4, 5, 6]


def test_a_long_line_is_cut_with_a_marker_and_nul_is_dropped(workspace_a, service):
    with tenant_context(workspace_a):
        deployment = deploy(service)
        logstore.append(deployment.pk, service.pk, 7, [
            NewLine("é" * 10_000, "stdout"), NewLine("a\x00b", "stdout")])
        long, short = deployment.log_lines.order_by("sequence").values_list("text", flat=True)
    assert long.startswith("é" * 4096)
    assert long.endswith("… [line cut: 11808 more bytes]")
    assert len(long.split("…")[0].encode()) == logstore.MAX_LINE_BYTES
    assert short == "ab"


def test_the_size_of_a_service_log_is_counted_as_lines_go_in(workspace_a, service):
    with tenant_context(workspace_a):
        deployment = deploy(service)
        logstore.append(deployment.pk, service.pk, 7, [NewLine("12345", "stdout")] * 3)
        logstore.append(deployment.pk, service.pk, 7, [NewLine("é", "stdout")])
        assert logstore.volumes([service.pk]) == {service.pk: (4, 17)}
        assert logstore.volumes([service.pk + 1000]) == {}


def test_lines_of_a_deleted_deployment_are_not_stored(workspace_a, service):
    with tenant_context(workspace_a):
        deployment = deploy(service)
        deployment_id = deployment.pk
        deployment.delete()
        assert logstore.append(deployment_id, service.pk, 7, [NewLine("x", "stdout")]) == []
        assert not LogLine.objects.exists()


def test_expiry_is_counted_in_utc_days():
    moment = timezone.make_aware(datetime(2026, 12, 3, 23, 59), UTC)
    assert logstore.expiry_day(moment, 7).isoformat() == "2026-12-10"


def test_the_clock_drops_expired_partitions_in_every_workspace(committed_db):
    workspaces = [committed_db.workspace_a, committed_db.workspace_b]
    expired = timezone.now() - timedelta(days=8)
    projects = []
    try:
        for workspace in workspaces:
            with tenant_context(workspace):
                project = create_project("Old logs")
                projects.append(project)
                service = create_service(project.environments.get(), "web")
                deployment = deploy(service)
                logstore.append(deployment.pk, service.pk, 7, [
                    NewLine("expired", "stdout", timestamp=expired),
                    NewLine("kept", "stdout")])
        drop_expired_logs.fn()
        for workspace in workspaces:
            with tenant_context(workspace):
                assert list(LogLine.objects.values_list("text", flat=True)) == ["kept"]
                assert len(logstore.partitions()) == 1
    finally:
        for workspace, project in zip(workspaces, projects, strict=False):
            with tenant_context(workspace):
                project.delete()
