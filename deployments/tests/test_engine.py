"""The deploy engine end to end: a real worker builds sample apps from local bare repositories,
runs them under the test run's own PM2 and health-checks them over real HTTP."""

from pathlib import Path

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from deployments.engine import pm2
from deployments.models import Deployment, Phase, Status
from deployments.tests import sample_apps
from deployments.tests.engine import (
    deploy,
    get,
    log_of,
    make_service,
    processes_with_env,
    set_variable,
    settle,
    wait_for,
)
from hosting.models import PortAllocation, Route
from projects.environments import copy_environment
from projects.models import Service
from projects.services import delete_environment, delete_project

SECRET = "s3cr3t-value-that-must-not-leak"


@pytest.fixture
def repos(tmp_path):
    return tmp_path


def test_a_node_app_is_built_started_health_checked_and_routed(ws, repos):
    repo = sample_apps.make_repo(repos, "node", sample_apps.NODE_APP)
    service = make_service(ws, repo, build_command='echo "token is $API_TOKEN"')
    set_variable(ws, service, "API_TOKEN", SECRET)

    deployment = settle(ws, deploy(ws, service))

    assert deployment.status == Status.ACTIVE, deployment.error_reason
    assert deployment.commit_sha == sample_apps.head(repo)
    assert deployment.commit_message.startswith("Initial commit")
    assert deployment.runtime == "node"
    status, body = get(deployment.port)
    assert status == 200 and body["deployment"] == str(deployment.pk)
    with tenant_context(ws):
        service.refresh_from_db()
        assert service.active_deployment_id == deployment.pk
        route = Route.objects.get(schema_name=ws.schema_name, service_id=service.pk)
    assert route.upstream == f"127.0.0.1:{deployment.port}"
    assert route.hostname == f"web-{ws.slug}.apps.localhost"
    assert PortAllocation.objects.filter(port=deployment.port, deployment_id=deployment.pk,
                                         schema_name=ws.schema_name).exists()
    # The app sees its variables and the platform's, never the panel's own environment.
    status, names = get(deployment.port, "/env")
    assert {"API_TOKEN", "PORT", "PAAS_SERVICE_NAME", "PAAS_DEPLOYMENT_ID",
            "PAAS_GIT_COMMIT_SHA", "PAAS_PUBLIC_DOMAIN"} <= set(names)
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PAAS_ENCRYPTION_KEYS",
                "DJANGO_SETTINGS_MODULE"} & set(names)

    log = log_of(ws, deployment)
    phases = [phase for phase, _ in log]
    for phase in (Phase.FETCH, Phase.BUILD, Phase.RELEASE, Phase.START, Phase.HEALTH,
                  Phase.SWITCH):
        assert phase in phases, f"no {phase} line in the log"
    text = "\n".join(line for _, line in log)
    assert "npm ci" in text and "token is *****" in text, text
    assert SECRET not in text
    assert set(deployment.timings) >= {"fetch", "build", "start", "health", "switch", "total"}


@pytest.mark.parametrize("app, runtime, path, expect", [
    (sample_apps.PYTHON_APP, "python", "/health", "version"),
    (sample_apps.STATIC_SITE, "static", "/", "Hello from a static site"),
])
def test_python_and_static_apps_serve(ws, repos, app, runtime, path, expect):
    repo = sample_apps.make_repo(repos, runtime, app)
    service = make_service(ws, repo, healthcheck_path=path)
    deployment = settle(ws, deploy(ws, service))
    assert deployment.status == Status.ACTIVE, deployment.error_reason
    assert deployment.runtime == runtime
    status, body = get(deployment.port, path)
    assert status == 200 and expect in str(body)
    assert get(deployment.port, "/.git/config")[0] == 404, "the repository is served"


def test_a_procfile_app_runs_its_worker_process_beside_web(ws, repos):
    repo = sample_apps.make_repo(repos, "procfile", sample_apps.PROCFILE_APP)
    service = make_service(ws, repo)
    deployment = settle(ws, deploy(ws, service))
    assert deployment.status == Status.ACTIVE, deployment.error_reason
    assert set(deployment.processes) == {"web", "worker"}
    mine = {info.name.split(".")[-2]: info for info in pm2.jlist()
            if info.env_deployment_id == str(deployment.pk)}
    assert set(mine) == {"web", "worker"}
    assert all(info.status == "online" for info in mine.values())
    assert all(ws.schema_name in name and f".d{deployment.number}." in name
               for name in (info.name for info in mine.values()))
    assert get(deployment.port, "/hello.txt")[0] == 200


def test_a_failed_build_leaves_the_active_deployment_serving(ws, repos):
    repo = sample_apps.make_repo(repos, "good", sample_apps.NODE_APP)
    service = make_service(ws, repo)
    good = settle(ws, deploy(ws, service))
    assert good.status == Status.ACTIVE
    sample_apps.commit(repo, sample_apps.FAILING_BUILD, "Break the build")

    bad = settle(ws, deploy(ws, service))

    assert bad.status == Status.FAILED
    assert "npm run build" in bad.error_reason and "exited with status 1" in bad.error_reason
    assert any("failing on purpose" in text for _, text in log_of(ws, bad))
    assert not Path(bad.release_dir).exists(), "the failed release was left on disk"
    assert get(good.port)[1]["deployment"] == str(good.pk)
    with tenant_context(ws):
        service.refresh_from_db()
        assert service.active_deployment_id == good.pk
        assert Deployment.objects.get(pk=good.pk).status == Status.ACTIVE


def test_an_app_that_never_listens_fails_its_health_check_and_is_removed(ws, repos):
    repo = sample_apps.make_repo(repos, "mute", sample_apps.NEVER_LISTENS)
    service = make_service(ws, repo, healthcheck_timeout=3, start_command=(
        'echo "connecting with $API_TOKEN"; echo "started, but never listening"; '
        "exec sleep 86400"))
    set_variable(ws, service, "API_TOKEN", SECRET)

    deployment = settle(ws, deploy(ws, service))

    assert deployment.status == Status.FAILED
    assert deployment.error_reason.startswith("Health check failed")
    assert "never listening" in deployment.error_reason  # the last lines of its output
    # Members read the reason: a value the app printed is masked there as in the log.
    assert "connecting with *****" in deployment.error_reason
    assert SECRET not in deployment.error_reason
    assert SECRET not in "\n".join(text for _, text in log_of(ws, deployment))
    assert not [info for info in pm2.jlist() if info.env_deployment_id == str(deployment.pk)]
    assert not PortAllocation.objects.filter(schema_name=ws.schema_name,
                                             deployment_id=deployment.pk).exists()
    with tenant_context(ws):
        service.refresh_from_db()
        assert service.active_deployment_id is None


def test_a_repository_url_the_database_holds_but_the_engine_refuses(ws, repos, settings):
    service = make_service(ws, "ext::sh -c touch% /tmp/pwned")
    deployment = settle(ws, deploy(ws, service))
    assert deployment.status == Status.FAILED
    assert "repository" in deployment.error_reason.lower()
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize("url, shown", [
    ("https://0x7f000001/x.git", "127.0.0.1 is a loopback address"),
    ("https://0251.0376.0251.0376/latest/meta-data", "169.254.169.254 is the cloud metadata"),
    ("https://[::ffff:7f00:1]/x.git", "a loopback address (127.0.0.1 inside an IPv6 address)"),
])
def test_an_internal_host_an_older_version_stored_is_refused_at_fetch_time(ws, repos, url,
                                                                           shown):
    service = make_service(ws, "https://github.com/acme/web.git")
    with tenant_context(ws):  # what an older version's check let through
        Service.objects.filter(pk=service.pk).update(repository_url=url)
        service.refresh_from_db()
    deployment = settle(ws, deploy(ws, service))
    assert deployment.status == Status.FAILED
    assert deployment.error_reason.startswith("Invalid repository URL: "), deployment.error_reason
    assert shown in deployment.error_reason and "public URL" in deployment.error_reason
    assert not any(text.startswith("Cloning") for _, text in log_of(ws, deployment))


def test_redeploy_switches_to_the_new_release_and_stops_the_old_one(ws, repos):
    repo = sample_apps.make_repo(repos, "versions", sample_apps.NODE_APP)
    service = make_service(ws, repo)
    first = settle(ws, deploy(ws, service))
    set_variable(ws, service, "VERSION", "v2")

    second = settle(ws, deploy(ws, service))

    assert second.status == Status.ACTIVE
    assert get(second.port)[1]["version"] == "v2"
    with tenant_context(ws):
        assert Deployment.objects.get(pk=first.pk).status == Status.SUPERSEDED
    route = Route.objects.get(schema_name=ws.schema_name, service_id=service.pk)
    assert route.upstream == f"127.0.0.1:{second.port}" and route.deployment_id == second.pk
    # After the drain period the old process is gone and its port is free.
    assert wait_for(lambda: not [i for i in pm2.jlist()
                                 if i.env_deployment_id == str(first.pk)], 20)
    assert wait_for(lambda: not PortAllocation.objects.filter(
        schema_name=ws.schema_name, deployment_id=first.pk).exists(), 10)


def test_cancel_during_a_build_stops_it(ws, repos):
    from deployments.services import cancel_deployment

    repo = sample_apps.make_repo(repos, "slow", sample_apps.NODE_APP)
    service = make_service(ws, repo, build_command="echo building slowly; sleep 120")
    deployment = deploy(ws, service)
    assert wait_for(lambda: any("building slowly" in text for _, text in log_of(ws, deployment)))

    with tenant_context(ws):
        cancel_deployment(Deployment.objects.get(pk=deployment.pk), by="owner@a.example")
    deployment = settle(ws, deployment, timeout=20)

    assert deployment.status == Status.CANCELLED
    assert not Path(deployment.release_dir).exists()
    # The build's process group is gone: no `sleep 120` of this deployment remains.
    assert wait_for(lambda: not processes_with_env(f"PAAS_DEPLOYMENT_ID={deployment.pk}"), 10)



def test_restart_and_stop(ws, repos):
    from deployments.services import restart_service, stop_service

    repo = sample_apps.make_repo(repos, "lifecycle", sample_apps.NODE_APP)
    service = make_service(ws, repo)
    deployment = settle(ws, deploy(ws, service))
    pid = get(deployment.port)[1]["pid"]

    with tenant_context(ws):
        service.refresh_from_db()
        restart_service(service, by="member@a.example")
    assert wait_for(lambda: _pid_or_none(deployment.port) not in (None, pid), 20)
    assert any("Restart requested by member@a.example" in text
               for _, text in log_of(ws, deployment))

    with tenant_context(ws):
        service.refresh_from_db()
        stop_service(service, by="member@a.example")
        service.refresh_from_db()
        assert service.active_deployment_id is None
        assert Deployment.objects.get(pk=deployment.pk).status == Status.REMOVED
    assert not Route.objects.filter(schema_name=ws.schema_name, service_id=service.pk).exists()
    assert wait_for(lambda: _pid_or_none(deployment.port) is None, 20), "still serving"
    assert wait_for(lambda: not PortAllocation.objects.filter(
        schema_name=ws.schema_name, deployment_id=deployment.pk).exists(), 10)
    assert Path(deployment.release_dir).exists(), "a stopped release stays for a rollback"


def _pid_or_none(port):
    try:
        return get(port, timeout=2)[1]["pid"]
    except OSError:
        return None


@pytest.mark.parametrize("field, value, expect", [
    ("branch", "--upload-pack=touch /tmp/pwned-branch", "branch"),
    ("healthcheck_path", "/health\nX-Injected: 1", "healthcheck"),
    ("root_directory", "../../..", "root directory"),
    ("start_command", "node server.js\nrm -rf /", "command"),
])
def test_settings_the_database_holds_are_checked_again_by_the_worker(ws, repos, field, value,
                                                                     expect):
    repo = sample_apps.make_repo(repos, "recheck", sample_apps.NODE_APP)
    service = make_service(ws, repo)
    with tenant_context(ws):  # what an older version (or a bad migration) may have stored
        type(service).objects.filter(pk=service.pk).update(**{field: value})
        service.refresh_from_db()
    deployment = settle(ws, deploy(ws, service))
    assert deployment.status == Status.FAILED
    assert expect in deployment.error_reason.lower(), deployment.error_reason
    assert not [info for info in pm2.jlist() if info.env_deployment_id == str(deployment.pk)]
    assert not Path("/tmp/pwned-branch").exists()


def removed_from_its_host(ws, service: Service, deployment: Deployment) -> bool:
    """The service's rows are gone, its route too, and (by the host's worker, once the rows
    are gone) its port, its PM2 process and its release directory."""
    with tenant_context(ws):
        if Service.objects.filter(pk=service.pk).exists():
            return False
    return not (Route.objects.filter(schema_name=ws.schema_name, service_id=service.pk).exists()
                or PortAllocation.objects.filter(schema_name=ws.schema_name,
                                                 deployment_id=deployment.pk).exists()
                or [i for i in pm2.jlist() if i.env_deployment_id == str(deployment.pk)
                    and i.name.startswith(f"{ws.schema_name}.")]
                or Path(deployment.release_dir).exists())


def test_deleting_a_project_removes_what_its_services_run(ws, repos):
    repo = sample_apps.make_repo(repos, "doomed", sample_apps.NODE_APP)
    service = make_service(ws, repo)
    deployment = settle(ws, deploy(ws, service))
    assert get(deployment.port)[0] == 200
    with tenant_context(ws), transaction.atomic():
        delete_project(service.environment.project)

    assert wait_for(lambda: removed_from_its_host(ws, service, deployment), 30)
    # The name is free again: a new service of that name deploys and gets the domain.
    again = make_service(ws, sample_apps.make_repo(repos, "again", sample_apps.NODE_APP))
    assert settle(ws, deploy(ws, again)).status == Status.ACTIVE


def test_deleting_an_environment_removes_what_its_services_run(ws, repos):
    """Staging (a copy of production) deployed, then deleted: its service stops serving and
    is cleaned up; production's is untouched."""
    production = make_service(ws, sample_apps.make_repo(repos, "envs", sample_apps.NODE_APP))
    with tenant_context(ws):
        staging = copy_environment(production.environment, "staging")
        copied = Service.objects.get(environment=staging)
    deployment = settle(ws, deploy(ws, copied))
    assert get(deployment.port)[0] == 200
    with tenant_context(ws):
        delete_environment(staging)

    assert wait_for(lambda: removed_from_its_host(ws, copied, deployment), 30)
    with tenant_context(ws):
        assert Service.objects.filter(pk=production.pk).exists()
