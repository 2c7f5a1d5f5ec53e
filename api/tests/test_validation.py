"""Bodies are checked by the pages' own forms (each refused value named in `fields`),
unknown fields are refused, and lists page, order and filter as documented."""

from __future__ import annotations

import uuid

import pytest
from django_tenants.utils import tenant_context

from api.tests.conftest import error_of
from api.throttling import TokenRateThrottle
from deployments.logstore import NewLine, append
from deployments.models import Deployment, Status
from projects.models import Project, Service
from projects.services import create_project


def refused_fields(response) -> dict:
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid"
    return error["fields"]


@pytest.mark.parametrize(("method", "path", "data", "field"), [
    ("POST", "/api/v1/projects/", {"name": "<script>"}, "name"),
    ("POST", "/api/v1/projects/", {"name": "Shop"}, "name"),  # taken
    ("POST", "/api/v1/projects/", {"name": "x" * 101}, "name"),
    ("PATCH", "/api/v1/projects/{p}/", {"name": "  "}, "name"),
    ("PATCH", "/api/v1/", {"name": ""}, "name"),
    ("POST", "/api/v1/projects/{p}/environments/", {"name": "Not A Label", "copy_of": "{e}"},
     "name"),
    ("POST", "/api/v1/projects/{p}/environments/", {"name": "pr-12", "copy_of": "{e}"}, "name"),
    ("POST", "/api/v1/projects/{p}/environments/", {"name": "staging", "copy_of": 999999},
     "copy_of"),
    ("POST", "/api/v1/services/", {"environment": "{e}", "name": "web"}, "name"),  # taken
    ("POST", "/api/v1/services/", {"environment": "{e}", "name": "-bad-"}, "name"),
    ("POST", "/api/v1/services/", {"environment": "{e}", "name": "api",
                                   "repository_url": "ftp://evil/x"}, "repository_url"),
    ("POST", "/api/v1/services/", {"environment": "{e}", "name": "api",
                                   "branch": "--upload-pack=touch /tmp/x"}, "branch"),
    ("POST", "/api/v1/services/", {"environment": 999999, "name": "api"}, "environment"),
    ("POST", "/api/v1/services/", {"environment": "1", "name": "api"}, "environment"),
    ("PATCH", "/api/v1/services/{s}/", {"instances": 99}, "instances"),
    ("PATCH", "/api/v1/services/{s}/", {"instances": "many"}, "instances"),
    ("PATCH", "/api/v1/services/{s}/", {"root_directory": "../../etc"}, "root_directory"),
    ("PATCH", "/api/v1/services/{s}/", {"healthcheck_path": "http://evil/"},
     "healthcheck_path"),
    ("PATCH", "/api/v1/services/{s}/", {"memory_limit_mb": 10 ** 9}, "memory_limit_mb"),
    ("PATCH", "/api/v1/services/{s}/", {"restart_policy": "sometimes"}, "restart_policy"),
    ("PATCH", "/api/v1/services/{s}/", {"start_command": ["rm", "-rf"]}, "start_command"),
    ("POST", "/api/v1/deployments/", {"service": 999999}, "service"),
    ("POST", "/api/v1/deployments/", {"service": True}, "service"),
])
def test_a_hostile_value_is_refused_naming_its_field(people, objects, caller, method, path,
                                                     data, field):
    ids = {"p": objects.project.pk, "e": objects.environment.pk, "s": objects.service.pk}
    body = {key: ids[value[1:-1]] if isinstance(value, str) and value in ("{e}", "{s}")
            else value for key, value in data.items()}
    response = caller("owner_token").call(method, path.format(**ids), body)
    assert field in refused_fields(response)


def test_refused_settings_change_nothing(people, objects, caller):
    response = caller("owner_token").call("PATCH", f"/api/v1/services/{objects.service.pk}/",
                                          {"instances": 3, "root_directory": "/abs"})
    assert set(refused_fields(response)) == {"root_directory"}
    with tenant_context(people.workspace_a):
        assert Service.objects.get(pk=objects.service.pk).instances == 1


def test_settings_change_what_is_sent_and_keep_the_rest(people, objects, caller):
    response = caller("admin_token").call("PATCH", f"/api/v1/services/{objects.service.pk}/",
                                          {"instances": 3, "auto_rollback": False})
    assert response.status_code == 200, response.content
    assert response.json()["instances"] == 3 and response.json()["auto_rollback"] is False
    assert response.json()["repository_url"] == "https://example.com/shop.git"
    assert response.json()["domains"][0].endswith(".apps.localhost")


def test_a_workspace_patch_without_a_name_keeps_it(people, caller):
    """Found by schemathesis: the schema makes `name` optional in a PATCH of the workspace,
    but `{}` was 400 ("This field is required"); now what is not sent is kept, as for
    projects and services. An empty name is still refused."""
    owner = caller("owner_token")
    response = owner.call("PATCH", "/api/v1/", {})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Team A"
    assert "name" in refused_fields(owner.call("PATCH", "/api/v1/", {"name": ""}))


@pytest.mark.parametrize(("path", "data"), [
    ("/api/v1/projects/", {"name": "Blog", "deleting": True}),
    ("/api/v1/services/", {"environment": 1, "name": "api", "domains": ["x.com"]}),
    ("/api/v1/deployments/", {"service": 1, "commit_sha": "abc"}),
])
def test_unknown_fields_are_refused_by_name(people, objects, caller, path, data):
    fields = refused_fields(caller("owner_token").call("POST", path, data))
    unknown = set(data) - {"name", "environment", "service"}
    assert unknown <= set(fields)
    assert all("Unknown field" in fields[name][0] for name in unknown)


def test_a_body_that_is_no_object_is_refused(people, caller):
    response = caller("owner_token").call("POST", "/api/v1/projects/", ["Blog"])
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


@pytest.fixture
def many_projects(people):
    with tenant_context(people.workspace_a):
        for number in range(12):
            create_project(f"Project {number:02}")


def test_pagination_limit_offset_and_has_more(people, many_projects, caller):
    client = caller("member_token")
    first = client.call("GET", "/api/v1/projects/?limit=5").json()
    assert [p["name"] for p in first["results"]] == [f"Project {n:02}" for n in range(5)]
    assert first["has_more"] is True and first["next_offset"] == 5
    last = client.call("GET", "/api/v1/projects/?limit=5&offset=10").json()
    assert len(last["results"]) == 2 and last["has_more"] is False
    assert "next_offset" not in last


def test_limit_is_capped_and_bad_numbers_refused(people, many_projects, caller):
    client = caller("member_token")
    assert client.call("GET", "/api/v1/projects/?limit=100000").json()["limit"] == 1000
    assert client.call("GET", "/api/v1/projects/").json()["limit"] == 100
    assert client.call("GET", f"/api/v1/projects/?limit={10 ** 20}").json()["limit"] == 1000
    for query in ("limit=0", "limit=-1", "limit=ten", "offset=-5", f"offset={10 ** 29}"):
        response = client.call("GET", f"/api/v1/projects/?{query}")
        assert query.split("=")[0] in refused_fields(response)


def test_ordering_by_the_whitelist_only(people, many_projects, caller):
    client = caller("member_token")
    names = [p["name"] for p in
             client.call("GET", "/api/v1/projects/?ordering=-name&limit=3").json()["results"]]
    assert names == ["Project 11", "Project 10", "Project 09"]
    for field in ("deleting", "description", "name,secret", "environments__services"):
        response = client.call("GET", f"/api/v1/projects/?ordering={field}")
        assert "ordering" in refused_fields(response)


def test_deployments_filter_by_status_service_and_environment(people, objects, caller):
    with tenant_context(people.workspace_a):
        Deployment.objects.create(service=objects.service, number=2, status=Status.FAILED)
        other = create_project("Other").environments.get()
    client = caller("member_token")
    failed = client.call("GET", "/api/v1/deployments/?status=failed").json()["results"]
    assert [d["number"] for d in failed] == [2]
    mine = client.call("GET", f"/api/v1/deployments/?service={objects.service.pk}"
                              "&ordering=number").json()["results"]
    assert [d["number"] for d in mine] == [1, 2]
    assert client.call("GET", f"/api/v1/deployments/?environment={other.pk}").json()[
        "results"] == []
    assert "status" in refused_fields(client.call("GET", "/api/v1/deployments/?status=nope"))
    assert "service" in refused_fields(client.call("GET", "/api/v1/deployments/?service=x"))


def test_logs_after_a_sequence(people, objects, caller):
    with tenant_context(people.workspace_a):
        append(objects.deployment.pk, objects.service.pk, 7,
               [NewLine(f"line {n}", "build") for n in range(1, 6)])
    client = caller("member_token")
    url = f"/api/v1/deployments/{objects.deployment.pk}/logs/"
    page = client.call("GET", f"{url}?after=1&limit=2").json()
    assert [line["text"] for line in page["lines"]] == ["line 2", "line 3"]
    assert page["has_more"] is True and page["last_sequence"] == 3
    rest = client.call("GET", f"{url}?after={page['last_sequence']}").json()
    assert [line["text"] for line in rest["lines"]] == ["line 4", "line 5"]
    assert rest["has_more"] is False and rest["last_sequence"] == 5
    assert "after" in refused_fields(client.call("GET", f"{url}?after=x"))


def test_project_delete_is_asynchronous_as_on_the_page(people, objects, caller):
    response = caller("owner_token").call("DELETE", f"/api/v1/projects/{objects.project.pk}/")
    assert response.status_code == 202
    with tenant_context(people.workspace_a):
        assert Project.objects.get(pk=objects.project.pk).deleting
    assert caller("owner_token").call(
        "GET", f"/api/v1/projects/{objects.project.pk}/").status_code == 404


def test_writes_are_audited_as_on_the_pages(people, objects, caller):
    caller("member_token").call("POST", "/api/v1/deployments/", {"service": objects.service.pk})
    event = people.workspace_a.audit.filter(action="deployment.deployed").first()
    assert event is not None and event.actor == people.member


def test_throttled_per_token(people, caller, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "3/minute"})
    # Token ids start again with each test database; the counts of earlier runs stay in Redis.
    monkeypatch.setattr(TokenRateThrottle, "cache_format",
                        f"throttle_{uuid.uuid4().hex}_%(scope)s_%(ident)s")
    client, other = caller("owner_token"), caller("owner_token")
    statuses = [client.call("GET", "/api/v1/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.call("GET", "/api/v1/")
    assert error_of(response)["code"] == "throttled" and response["Retry-After"]
    assert other.call("GET", "/api/v1/").status_code == 200  # another token: its own count
