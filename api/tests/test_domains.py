"""A service's custom domains through the API (`services/{id}/domains/`): the settings
page's checks, each refusal named under `hostname` with nothing written; the DNS check
through the tests' fake resolver; the service's `domains` lists them after its own."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from api.tests.conftest import error_of
from hosting.models import CustomDomain, Route
from hosting.tests.fake_dns import cname
from projects.custom_domains import TAKEN, add_domain
from projects.services import create_project, create_service
from tenants.models import AuditAction, AuditEvent


def url(objects, tail: str = "") -> str:
    return f"/api/v1/services/{objects.service.pk}/domains/{tail}"


def refused_hostname(response) -> list[str]:
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid" and set(error["fields"]) == {"hostname"}, error
    return error["fields"]["hostname"]


def test_add_list_check_and_remove(people, objects, caller, fake_dns):
    client = caller("admin_token")
    created = client.call("POST", url(objects), {"hostname": "Shop.Example.com"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["hostname"] == "shop.example.com" and body["status"] == "pending"
    assert body["records"] == [{"type": "CNAME", "name": "shop.example.com",
                                "value": "web-team-a.apps.localhost"}]
    assert AuditEvent.objects.filter(action=AuditAction.DOMAIN_ADDED).exists()

    listed = caller("member_token").call("GET", url(objects)).json()
    assert [d["hostname"] for d in listed["results"]] == ["shop.example.com"]
    service = client.call("GET", f"/api/v1/services/{objects.service.pk}/").json()
    assert service["domains"] == ["web-team-a.apps.localhost", "shop.example.com"]

    fake_dns["shop.example.com"] = cname("shop.example.com", "web-team-a.apps.localhost")
    checked = client.call("POST", url(objects, "SHOP.example.com/check/"))
    assert checked.status_code == 200, checked.content
    assert checked.json()["status"] == "verified" and checked.json()["checked_at"]

    assert client.call("DELETE", url(objects, "shop.example.com/")).status_code == 204
    assert not CustomDomain.objects.exists()
    gone = client.call("DELETE", url(objects, "shop.example.com/"))
    assert gone.status_code == 404 and error_of(gone)["code"] == "not_found"
    assert client.call("POST", url(objects, "not a name/check/")).status_code == 404


@pytest.mark.parametrize("hostname", [
    "x" * 300 + ".com", "bad_label.example.com", "203.0.113.7", "shop.example.com`",
    "a.example.com||b.example.com", "shop.example.com)", "shop.example.com\nHost(`x`)",
    "*.example.com", "panel.localhost", "team-b.panel.localhost",
    "web-team-b.apps.localhost", "", ["shop.example.com"], 42, None,
])
def test_a_bad_hostname_is_refused_naming_the_field(people, objects, caller, hostname):
    response = caller("owner_token").call("POST", url(objects), {"hostname": hostname})
    assert refused_hostname(response)
    assert not CustomDomain.objects.exists()


def test_unknown_fields_are_refused(people, objects, caller):
    response = caller("owner_token").call("POST", url(objects),
                                          {"hostname": "shop.example.com", "status": "verified"})
    assert response.status_code == 400
    assert "status" in error_of(response)["fields"]
    assert not CustomDomain.objects.exists()


def test_a_domain_of_another_workspace_is_refused(people, objects, caller):
    with tenant_context(people.workspace_b):
        theirs = create_service(create_project("Theirs").environments.get(), "web")
        add_domain(theirs, "shop.example.com")
    response = caller("owner_token").call("POST", url(objects), {"hostname": "shop.example.com"})
    assert refused_hostname(response) == [TAKEN]
    assert CustomDomain.objects.get().schema_name == people.workspace_b.schema_name
    # Nor can it be seen, checked or removed from here.
    client = caller("owner_token")
    assert client.call("DELETE", url(objects, "shop.example.com/")).status_code == 404
    assert client.call("GET", url(objects)).json()["results"] == []


def test_a_domain_added_to_a_live_service_routes_at_once(people, objects, caller):
    Route.objects.create(hostname="web-team-a.apps.localhost", upstream="127.0.0.1:41001",
                         schema_name=people.workspace_a.schema_name,
                         service_id=objects.service.pk, deployment_id=objects.deployment.pk)
    client = caller("owner_token")
    assert client.call("POST", url(objects), {"hostname": "shop.example.com"}).status_code == 201
    route = Route.objects.get(hostname="shop.example.com")
    assert (route.upstream, route.deployment_id) == ("127.0.0.1:41001", objects.deployment.pk)
    assert client.call("DELETE", url(objects, "shop.example.com/")).status_code == 204
    assert not Route.objects.filter(hostname="shop.example.com").exists()
    assert Route.objects.filter(hostname="web-team-a.apps.localhost").exists()
