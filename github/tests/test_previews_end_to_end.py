"""A pull request's preview end to end: a real worker builds the head branch of a local bare
repository and PM2 runs it; closing the pull request removes the process."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from deployments.engine import pm2
from deployments.models import Status
from deployments.tests import conftest as engine_fixtures
from deployments.tests import sample_apps
from deployments.tests.engine import get, make_service, settle, wait_for
from github.models import Outcome
from github.previews import handle_pull_request
from github.tests.test_previews import payload
from hosting.models import PortAllocation

# The deploy engine's fixtures: the run's PM2 home, a real worker, workspace A cleaned after.
test_apps_dir = engine_fixtures.test_apps_dir
worker, ws = engine_fixtures.worker, engine_fixtures.ws


def pointed_at(body: dict, repo: str, sha: str) -> dict:
    """The payload with its repository fields pointing at the local bare repository."""
    for repository in (body["repository"], body["pull_request"]["base"]["repo"],
                       body["pull_request"]["head"]["repo"]):
        for key in ("clone_url", "html_url", "ssh_url", "git_url"):
            repository[key] = repo
    body["pull_request"]["base"]["ref"] = "main"
    body["pull_request"]["head"]["sha"] = sha
    return body


def test_opening_deploys_a_preview_and_closing_removes_it(ws, tmp_path):
    repo = sample_apps.make_repo(tmp_path, "site", sample_apps.NODE_APP)
    sha = sample_apps.commit(repo, {"README.md": "changes\n"}, "Change the README",
                             branch="main")
    # The pull request's head branch: one more commit than main.
    sample_apps._git(["branch", "changes", sha], tmp_path / "site.git")
    head = sample_apps.commit(repo, {"CHANGES.md": "new\n"}, "On the PR branch",
                              branch="changes")
    production = make_service(ws, repo, branch="main")

    with tenant_context(ws):
        handled = handle_pull_request(pointed_at(payload("opened"), repo, head))
    assert handled.outcome == Outcome.PREVIEW and len(handled.deployments) == 1
    deployment = settle(ws, handled.deployments[0])
    assert deployment.status == Status.ACTIVE, deployment.error_reason
    assert deployment.commit_sha == head and deployment.service_id != production.pk
    status, body = get(deployment.port)
    assert status == 200 and body["deployment"] == str(deployment.pk)

    with tenant_context(ws):
        closed = handle_pull_request(pointed_at(payload("closed"), repo, head))
    assert closed.outcome == Outcome.PREVIEW

    def gone() -> bool:
        return not ([info for info in pm2.jlist() if info.env_deployment_id == str(deployment.pk)]
                    or PortAllocation.objects.filter(deployment_id=deployment.pk,
                                                     schema_name=ws.schema_name).exists())

    assert wait_for(gone, 30)
