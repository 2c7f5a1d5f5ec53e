"""The `paas` CLI as a user runs it, against the panel under uvicorn and a real worker: log
in, link, `up` the sample Node app until it answers, status, logs, another `up`, rollback,
and API errors as one line with a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django_tenants.utils import tenant_context

from api.tokens import create_token
from conftest import BASE_DIR, free_port, start_panel
from deployments.models import Deployment, Status
from deployments.tests import conftest as engine_fixtures
from deployments.tests import sample_apps
from deployments.tests.engine import get
from projects.services import create_project, create_service

test_apps_dir = engine_fixtures.test_apps_dir  # the run's PM2 home and apps directory
worker = engine_fixtures.worker
ws = engine_fixtures.ws


@pytest.fixture
def panel(ws):
    port = free_port()
    process = start_panel(port)
    try:
        yield f"http://{ws.hostname}:{port}"
    finally:
        process.terminate()
        process.wait(10)


def paas(directory, home, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("PAAS_") or key == "PAAS_CONNECT_ADDRESS"}
    environment.update({"XDG_CONFIG_HOME": str(home), "NO_COLOR": "1",
                        "PYTHONPATH": str(BASE_DIR), **(env or {})})
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=directory, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)


def test_login_link_up_status_logs_rollback(ws, committed_db, panel, tmp_path):
    with tenant_context(ws):
        project = create_project("CLI journey")
        create_service(project.environments.get(), "web")
    _, token = create_token(ws, committed_db.owner, "cli", 7)
    app, home = tmp_path / "app", tmp_path / "config"
    app.mkdir()
    for name, text in sample_apps.NODE_APP.items():
        (app / name).write_text(text)
    (app / ".gitignore").write_text("*.log\n")
    (app / "debug.log").write_text("not uploaded")

    logged = paas(app, home, "login", panel, "--token", token)
    assert logged.returncode == 0, logged.stderr
    assert token not in logged.stdout + logged.stderr
    assert oct((home / "paas" / "config.json").stat().st_mode & 0o777) == "0o600"

    linked = paas(app, home, "link", "--project", "CLI journey", "--service", "web")
    assert linked.returncode == 0, linked.stderr
    assert json.loads((app / ".paas.json").read_text())["service_name"] == "web"

    first = paas(app, home, "up")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "npm ci" in first.stdout and "is live" in first.stdout
    status = json.loads(paas(app, home, "status", "--json").stdout)
    active = status["active_deployment"]
    assert active["status"] == "active" and active["trigger"] == "cli"
    with tenant_context(ws):
        deployment = Deployment.objects.get(pk=active["id"])
        assert deployment.source_archive.files == len(sample_apps.NODE_APP) + 1  # .gitignore
    assert get(deployment.port)[1]["deployment"] == str(deployment.pk)

    build = paas(app, home, "logs", "--build", "--json")
    assert build.returncode == 0, build.stderr
    assert any("npm ci" in json.loads(line)["text"] for line in build.stdout.splitlines())
    assert paas(app, home, "logs", "--since", "1h").returncode == 0

    second = paas(app, home, "up", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["status"] == "active"

    back = paas(app, home, "rollback", f"#{active['number']}")
    assert back.returncode == 0, back.stdout + back.stderr
    with tenant_context(ws):
        latest = Deployment.objects.filter(service__name="web",
                                           service__environment__project=project).first()
        assert latest.status == Status.ACTIVE and latest.trigger == "rollback"

    refused = paas(app, home, "logs", "--deployment", "999999")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "deployment" in refused.stderr
    bad_token = paas(app, home, "status", env={"PAAS_TOKEN": "paas_nope"})
    assert bad_token.returncode == 1 and bad_token.stderr.startswith("error: 401 ")
    assert bad_token.stderr.count("\n") == 1 and "paas_nope" not in bad_token.stderr


def test_variables_and_run(ws, committed_db, panel, tmp_path):
    with tenant_context(ws):
        project = create_project("CLI variables")
        create_service(project.environments.get(), "web")
    _, owner = create_token(ws, committed_db.owner, "cli", 7)
    _, member = create_token(ws, committed_db.member, "cli", 7)
    home = tmp_path / "config"
    assert paas(tmp_path, home, "login", panel, "--token", owner).returncode == 0
    assert paas(tmp_path, home, "link", "--project", "CLI variables").returncode == 0
    assert paas(tmp_path, home, "variables", "set", "GREETING=hello world").returncode == 0
    listed = json.loads(paas(tmp_path, home, "variables", "--json").stdout)
    assert "GREETING" in listed
    ran = paas(tmp_path, home, "run", "--", sys.executable, "-c",
               "import os; print(os.environ['GREETING'])")
    assert ran.returncode == 0 and ran.stdout == "hello world\n"
    refused = paas(tmp_path, home, "run", "--", "true", env={"PAAS_TOKEN": member})
    assert refused.returncode == 1 and refused.stderr.startswith("error: 403 ")
    assert paas(tmp_path, home, "variables", "unset", "GREETING").returncode == 0
    assert "GREETING" not in json.loads(paas(tmp_path, home, "variables", "--json").stdout)


def test_deploy_a_repository_and_open_the_service(ws, committed_db, panel, tmp_path):
    """`paas deploy` builds the branch head of a service with a repository and follows it
    until live; `--detach --json` only queues; an upload-only service says how it deploys;
    `paas open` hands the service's domain to the browser ($BROWSER)."""
    repository = sample_apps.make_repo(tmp_path / "repos", "cli-deploy", sample_apps.NODE_APP)
    with tenant_context(ws):
        project = create_project("CLI deploy")
        environment = project.environments.get()
        create_service(environment, "api", repository_url=repository)
        create_service(environment, "uploads")
    _, token = create_token(ws, committed_db.member, "cli", 7)  # members deploy
    home = tmp_path / "config"
    assert paas(tmp_path, home, "login", panel, "--token", token).returncode == 0
    assert paas(tmp_path, home, "link", "--project", "CLI deploy", "--service", "api") \
        .returncode == 0

    deployed = paas(tmp_path, home, "deploy")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "npm ci" in deployed.stdout and "#1 is live." in deployed.stdout
    queued = paas(tmp_path, home, "deploy", "--detach", "--json")
    assert queued.returncode == 0, queued.stderr
    second = json.loads(queued.stdout)
    assert second["number"] == 2 and second["status"] in ("queued", "building")

    opened_file = tmp_path / "opened"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened_file}\n')
    browser.chmod(0o755)
    opened = paas(tmp_path, home, "open", env={"BROWSER": str(browser)})
    assert opened.returncode == 0, opened.stderr
    url = opened.stdout.strip()
    assert url.startswith("http://api-") and ".apps.localhost" in url
    assert opened_file.read_text() == url
    assert paas(tmp_path, home, "open", "--print").stdout.strip() == url

    assert paas(tmp_path, home, "link", "--project", "CLI deploy", "--service", "uploads") \
        .returncode == 0
    refused = paas(tmp_path, home, "deploy")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: 409 ") and "repository URL" in refused.stderr
