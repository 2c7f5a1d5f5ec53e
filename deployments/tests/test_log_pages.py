"""The log pages over HTTP: a deployment's log and its filters, a service's Logs tab (runtime
lines only, the size stored), an environment's explorer with its time range, the downloads,
and what a bad filter or another workspace's id gets."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from deployments import logstore
from deployments.logstore import NewLine
from deployments.models import Deployment, Status
from projects.services import create_project, create_service

HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "log"}


def texts(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", text) for text in
            re.findall(r"data-log-text>(.*?)</span></div>", html, re.S)]


@pytest.fixture
def shop(people):
    """Workspace A: a web and a worker service, one deployment each, with lines."""
    with tenant_context(people.workspace_a):
        environment = create_project("Shop").environments.get()
        web = create_service(environment, "web")
        worker = create_service(environment, "worker")
        deployment = Deployment.objects.create(service=web, number=1, status=Status.ACTIVE)
        other = Deployment.objects.create(service=worker, number=1, status=Status.ACTIVE)
        old = timezone.now() - timedelta(hours=3)
        logstore.append(deployment.pk, web.pk, 7, [
            NewLine("Cloning the repository", "build", "fetch"),
            NewLine("\x1b[32mnpm ci\x1b[0m", "build", "build"),
            NewLine('{"level": "error", "msg": "payment failed"}', "stderr", "runtime", old),
            NewLine('{"level": "info", "msg": "served /"}', "stdout", "runtime"),
            NewLine("<script>alert(1)</script>", "stdout", "runtime"),
        ])
        logstore.append(other.pk, worker.pk, 7, [NewLine("worker tick", "stdout", "runtime")])
    return {"environment": environment, "web": web, "worker": worker,
            "deployment": deployment, "other": other}


def test_the_deployment_page_filters_its_log(people, client_for, shop):
    client = client_for(people.member, people.workspace_a)
    page = f"/deployments/{shop['deployment'].pk}/"
    html = client.get(page).content.decode()
    assert texts(html) == ["Cloning the repository", "npm ci", "payment failed", "served /",
                           "&lt;script&gt;alert(1)&lt;/script&gt;"]
    assert "<script>alert(1)" not in html
    assert texts(client.get(page, {"q": "@level:error"}).content.decode()) == ["payment failed"]
    assert texts(client.get(page, {"stream": "build"}).content.decode()) == [
        "Cloning the repository", "npm ci"]
    assert texts(client.get(page, {"q": "npm OR served"}).content.decode()) == [
        "npm ci", "served /"]
    # The filter form asks for the log section alone.
    section = client.get(page, {"q": "-@stream:build"}, **HX).content.decode()
    assert section.strip().startswith('<section id="log"') and "<html" not in section
    assert len(texts(section)) == 3


@pytest.mark.parametrize(("query", "error"), [
    ({"q": '"unclosed'}, "Unclosed quote"),
    ({"q": "@level:"}, "Filter:"),
    ({"q": "x" * 501}, "Filter:"),
    ({"q": "(a"}, "Filter:"),
    ({"stream": "passwords"}, "Unknown stream"),
])
def test_a_bad_filter_is_one_line_above_an_empty_log(people, client_for, shop, query, error):
    response = client_for(people.member, people.workspace_a).get(
        f"/deployments/{shop['deployment'].pk}/", query)
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'data-testid="log-filter-error">[^<]*' + re.escape(error), html)
    assert texts(html) == [] and "ws-connect" not in html.split('id="log"')[1]


def test_the_logs_tab_has_runtime_lines_of_the_service_only(people, client_for, shop):
    client = client_for(people.member, people.workspace_a)
    html = client.get(f"/services/{shop['web'].pk}/logs/").content.decode()
    assert texts(html) == ["payment failed", "served /", "&lt;script&gt;alert(1)&lt;/script&gt;"]
    assert f'ws-connect="/ws/services/{shop["web"].pk}/"' in html
    assert ">#1</a>" in html and ">web #1</a>" not in html
    assert re.search(r'data-testid="log-size">5 lines stored · 1\d\d\xa0bytes · kept 7 days',
                     html)
    errors = client.get(f"/services/{shop['web'].pk}/logs/", {"stream": "stderr"})
    assert texts(errors.content.decode()) == ["payment failed"]
    assert "build" not in dict(re.findall(r'<option value="(\w*)"[^>]*>([^<]*)<',
                                          html.split('data-testid="log-stream"')[1])[:3])


def test_the_explorer_has_every_service_of_the_environment_in_a_time_range(
        people, client_for, shop):
    client = client_for(people.member, people.workspace_a)
    page = f"/environments/{shop['environment'].pk}/logs/"
    html = client.get(page).content.decode()
    assert texts(html) == ["payment failed", "served /", "&lt;script&gt;alert(1)&lt;/script&gt;",
                           "worker tick"]
    assert 'ws-connect="/ws/environments/' in html
    assert ">worker #1</a>" in html and ">web #1</a>" in html  # several services: named
    recent = client.get(page, {"range": "1h"}).content.decode()
    assert "payment failed" not in texts(recent) and "worker tick" in texts(recent)
    until = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    past = client.get(page, {"until": until}).content.decode()
    assert texts(past) == ["payment failed"]
    assert "ws-connect" not in past.split('id="log"')[1]  # a past range is not live
    for query in ({"since": "yesterday"}, {"range": "1y"},
                  {"since": "2026-12-03T10:00", "until": "2026-12-02T10:00"}):
        response = client.get(page, query)
        assert response.status_code == 200 and 'data-testid="log-filter-error"' in \
            response.content.decode()


# The test client is synchronous; the panel serves the download asynchronously (under ASGI,
# as the browser test fetches it).
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_downloads_have_every_line_as_text(people, client_for, shop):
    client = client_for(people.member, people.workspace_a)
    response = client.get(f"/deployments/{shop['deployment'].pk}/log.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="web-1.log"'
    lines = b"".join(response).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        '[stderr] {"level": "error", "msg": "payment failed"}',
        "[build] Cloning the repository", "[build] npm ci",
        '[stdout] {"level": "info", "msg": "served /"}', "[stdout] <script>alert(1)</script>",
    ]  # in time order: the error line was written three hours earlier
    runtime = client.get(f"/services/{shop['web'].pk}/logs.txt")
    text = b"".join(runtime).decode()
    assert "npm ci" not in text and "payment failed" in text and "worker tick" not in text


def test_other_workspaces_and_outsiders_get_nothing(people, client_for, shop):
    outsider = client_for(people.outsider, people.workspace_a)
    other_workspace = client_for(people.outsider, people.workspace_b)
    deployment = shop["deployment"].pk
    urls = [f"/deployments/{deployment}/", f"/deployments/{deployment}/log.txt",
            f"/services/{shop['web'].pk}/logs/", f"/services/{shop['web'].pk}/logs.txt",
            f"/environments/{shop['environment'].pk}/logs/"]
    for url in urls:
        assert outsider.get(url).status_code == 404, url
        # Workspace B has no such objects: ids are looked up in its own schema only.
        assert other_workspace.get(url).status_code == 404, url
