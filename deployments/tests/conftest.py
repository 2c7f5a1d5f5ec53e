"""Fixtures of the deploy engine's tests: the run's own PM2 daemon and apps directory.

`make test` points PAAS_APPS_DIR (and so PAAS_PM2_HOME) at /tmp/paas-test-<pid>. At the end of
the session the daemon of that PM2 home is killed and the directory removed, only when it lies
under the temp directory: a run pointed at a real apps directory leaves it alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from deployments.engine import accounts, firewall, pm2
from deployments.tests.engine import remove_everything, running_worker


def apps_dir_is_temporary() -> bool:
    apps_dir = Path(settings.PAAS_APPS_DIR).resolve()
    temp = Path(tempfile.gettempdir()).resolve()
    return apps_dir.is_relative_to(temp) and apps_dir != temp


PORT_SLICE = 500


@pytest.fixture(scope="session", autouse=True)
def test_apps_dir() -> Iterator[Path]:
    """PAAS_APPS_DIR of the run; its PM2 daemon killed and the directory removed at the end.

    Test runs side by side on one host have a database each, so their port tables do not see
    each other: each run takes a slice of the port range of its own (and so do the workers it
    starts, through the environment)."""
    low, high = settings.PAAS_PORT_RANGE
    slices = max(1, (high - low + 1) // PORT_SLICE)
    if apps_dir_is_temporary() and slices > 1:
        start = low + (os.getpid() % slices) * PORT_SLICE
        settings.PAAS_PORT_RANGE = (start, start + PORT_SLICE - 1)
        os.environ["PAAS_PORT_RANGE"] = f"{start}-{start + PORT_SLICE - 1}"
    # The host firewall's rules for workspace users, in a table of the run's own.
    with_firewall = apps_dir_is_temporary() and firewall.load()
    yield Path(settings.PAAS_APPS_DIR)
    if with_firewall:
        firewall.unload()
    if not apps_dir_is_temporary():
        return
    try:
        pm2.kill_daemon()
    finally:
        shutil.rmtree(settings.PAAS_APPS_DIR, ignore_errors=True)
        for account in accounts.accounts_on_host():  # the run's own range (make test)
            accounts.remove(account)


@pytest.fixture
def pm2_prefix() -> Iterator[str]:
    """A process name prefix of the test's own; its processes are deleted after the test."""
    if not apps_dir_is_temporary():
        pytest.skip("PAAS_APPS_DIR is not a temporary directory: run the tests with `make test`")
    prefix = f"test{uuid.uuid4().hex[:10]}."
    yield prefix
    mine = [info.name for info in pm2.jlist() if info.name.startswith(prefix)]
    if mine:
        pm2.delete(mine)
    dump = Path(settings.PAAS_PM2_HOME) / "dump.pm2"
    if dump.exists() and f'"name": "{prefix}' in dump.read_text(errors="replace"):
        pm2.save()  # or a later resurrect would start this test's processes again


@pytest.fixture(scope="module")
def worker(django_db_setup: object) -> Iterator[object]:
    """A real Dramatiq worker (build, deploy, default queues) for the module's tests."""
    with running_worker() as process:
        yield process


@pytest.fixture
def ws(committed_db: object, worker: object) -> Iterator[object]:
    """Workspace A, with a worker; what the test deployed there is removed after it."""
    workspace = committed_db.workspace_a
    yield workspace
    remove_everything(workspace)
