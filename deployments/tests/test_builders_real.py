"""Real installs and starts of the sample apps through their detected build plans: real git,
npm, venv, pip and HTTP, offline. Each test takes from a fraction of a second to a few seconds."""

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from conftest import free_port
from deployments.engine.builders import cache_env, detect
from deployments.engine.source import fetch
from deployments.tests import sample_apps
from deployments.tests.sample_apps import (
    CRASH_LOOP,
    FAILING_BUILD,
    NEVER_LISTENS,
    NODE_APP,
    PROCFILE_APP,
    PYTHON_APP,
    STATIC_SITE,
)


@pytest.fixture
def sample(tmp_path):
    """sample(files) -> (app directory fetched from a bare repository, its plan)."""
    def make(files):
        repo = sample_apps.make_repo(tmp_path / "repos", "sample", files)
        checkout = tmp_path / "src"
        with override_settings(PAAS_ALLOW_LOCAL_REPOS=True):
            fetch(repo, "main", checkout, log=lambda line: None)
        return checkout, detect(checkout)

    return make


def app_env(plan, home: Path, **extra) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    path = os.pathsep.join([*plan.path_prefix, settings.PAAS_APP_PATH])
    return {"PATH": path, "HOME": str(home), "LC_ALL": "C.UTF-8", **plan.env, **extra}


OFFLINE = {"npm_config_offline": "true", "PIP_NO_INDEX": "1"}  # proof that no download is needed


def run_steps(plan, env) -> list[subprocess.CompletedProcess]:
    env = {**env, **OFFLINE}
    results = []
    for step in plan.steps:
        result = subprocess.run(step.argv, cwd=step.cwd, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=300)
        results.append(result)
        if result.returncode != 0:
            break
    return results


class Started:
    def __init__(self, argv, cwd, env):
        self.port = int(env["PORT"])
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)

    def get(self, path, timeout=30.0):
        """The first answer to GET path once the server listens (None if it never does)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                    return r.status, r.read().decode()
            except OSError:
                time.sleep(0.1)
        return None

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)
        self.process.wait(10)


@pytest.fixture
def start():
    started = []

    def run(argv, cwd, env):
        started.append(Started(argv, cwd, env))
        return started[-1]

    yield run
    for server in started:
        server.stop()


def test_real_node_sample_installs_offline_and_serves(sample, start, tmp_path):
    app, plan = sample(NODE_APP)
    env = app_env(plan, tmp_path / "home", **cache_env(tmp_path / "cache"))
    results = run_steps(plan, env)
    assert [r.returncode for r in results] == [0], results[-1].stdout + results[-1].stderr

    server = start(plan.processes["web"], app,
                   app_env(plan, tmp_path / "home", PORT=str(free_port()), PAAS_DEPLOYMENT_ID="7"))
    status, body = server.get("/health")
    assert status == 200
    answer = json.loads(body)
    assert answer["deployment"] == "7" and answer["version"] == "v1" and answer["pid"] > 0
    names = json.loads(server.get("/env")[1])
    assert "PAAS_DEPLOYMENT_ID" in names and "SECRET_KEY" not in names


def test_real_python_sample_installs_into_its_venv_and_serves(sample, start, tmp_path):
    app, plan = sample(PYTHON_APP)
    env = app_env(plan, tmp_path / "home", **cache_env(tmp_path / "cache"))
    results = run_steps(plan, env)
    assert [r.returncode for r in results] == [0, 0], results[-1].stdout + results[-1].stderr
    assert (app / ".venv" / "bin" / "python").exists()

    server = start(plan.processes["web"], app,
                   app_env(plan, tmp_path / "home", PORT=str(free_port()), VERSION="v2"))
    status, body = server.get("/")
    assert status == 200
    answer = json.loads(body)
    assert answer["version"] == "v2" and answer["venv"] is True


def test_real_static_site_is_served(sample, start, tmp_path):
    app, plan = sample(STATIC_SITE)
    server = start(plan.processes["web"], app,
                   app_env(plan, tmp_path / "home", PORT=str(free_port())))
    status, body = server.get("/")
    assert status == 200 and "Hello from a static site" in body
    assert server.get("/style.css")[0] == 200


def test_real_procfile_sample_serves_and_its_worker_works(sample, start, tmp_path):
    app, plan = sample(PROCFILE_APP)
    env = app_env(plan, tmp_path / "home", PORT=str(free_port()))
    assert start(plan.processes["web"], app, env).get("/health") == (200, "ok\n")
    worker = start(plan.processes["worker"], app, env)
    assert worker.process.stdout.readline() == "worker tick\n"


def test_real_failing_build_fails_with_its_message(sample, tmp_path):
    _, plan = sample(FAILING_BUILD)
    results = run_steps(plan, app_env(plan, tmp_path / "home", **cache_env(tmp_path / "cache")))
    assert [r.returncode != 0 for r in results] == [False, True]
    assert "sample build: failing on purpose" in results[-1].stdout


def test_real_crash_loop_sample_serves_then_exits_with_an_error(sample, start, tmp_path):
    app, plan = sample(CRASH_LOOP)
    server = start(plan.processes["web"], app,
                   app_env(plan, tmp_path / "home", PORT=str(free_port())))
    assert server.get("/health")[0] == 200
    assert server.process.wait(30) == 1


def test_real_never_listening_sample_runs_without_listening(sample, start, tmp_path):
    app, plan = sample(NEVER_LISTENS)
    server = start(plan.processes["web"], app,
                   app_env(plan, tmp_path / "home", PORT=str(free_port())))
    assert server.process.stdout.readline() == "started, but never listening\n"
    assert server.process.poll() is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
