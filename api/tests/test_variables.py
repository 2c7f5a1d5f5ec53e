"""Variables through the API, as on the editor: members see keys only, owners and admins see
values when they ask (each reveal recorded), writes apply at once through the editor's
checks, and no value ever appears in an error or a member's answer."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from api.tests.conftest import error_of
from projects.models import StagedChange, VariableReveal
from projects.variables import current_values, set_now, stage

SECRET = "s3cr3t-value-xyz"


@pytest.fixture
def variables(people, objects):
    with tenant_context(people.workspace_a):
        set_now(objects.service, {"DATABASE_URL": SECRET, "PORT_NAME": "web"}, people.owner)
        set_now(objects.environment, {"SHARED_TOKEN": SECRET}, people.owner)
    return objects


def url(objects, suffix: str = "", shared: bool = False) -> str:
    if shared:
        return f"/api/v1/environments/{objects.environment.pk}/variables/{suffix}"
    return f"/api/v1/services/{objects.service.pk}/variables/{suffix}"


def values_of(people, owner) -> dict[str, str]:
    with tenant_context(people.workspace_a):
        return current_values(owner)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("name", ["member", "member_token", "admin_token", "owner"])
def test_listings_show_keys_and_never_values_unless_revealed(people, variables, caller, name,
                                                             shared):
    response = caller(name).call("GET", url(variables, shared=shared))
    assert response.status_code == 200, response.content
    assert SECRET.encode() not in response.content
    keys = [row["key"] for row in response.json()["results"]]
    assert keys == (["SHARED_TOKEN"] if shared else ["DATABASE_URL", "PORT_NAME"])
    assert all("value" not in row for row in response.json()["results"])
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("name", ["member", "member_token"])
def test_members_cannot_reveal(people, variables, caller, name):
    response = caller(name).call("GET", url(variables, "?reveal=true"))
    assert response.status_code == 403
    assert SECRET.encode() not in response.content
    assert error_of(response)["code"] == "permission_denied"
    with tenant_context(people.workspace_a):
        assert not VariableReveal.objects.exists()


def test_a_reveal_shows_values_and_is_recorded_per_key(people, variables, caller):
    response = caller("admin_token").call("GET", url(variables, "?reveal=true&limit=1"))
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"key": "DATABASE_URL", "updated_at": response.json()["results"][0]["updated_at"],
         "value": SECRET}]
    assert "no-store" in response["Cache-Control"]
    with tenant_context(people.workspace_a):
        reveals = list(VariableReveal.objects.values_list("key", "user_email"))
    assert reveals == [("DATABASE_URL", people.admin.email)]
    event = people.workspace_a.audit.get(action="variable.revealed")
    assert event.actor == people.admin and event.details == {"key": "DATABASE_URL"}
    assert SECRET not in str(event.details)
    assert "reveal" in error_of(caller("owner").call("GET", url(variables, "?reveal=maybe"))
                                )["fields"]


@pytest.mark.parametrize("shared", [False, True])
def test_put_and_delete_apply_at_once_and_are_audited_by_key(people, variables, caller, shared):
    client = caller("admin_token")
    owner = variables.environment if shared else variables.service
    response = client.call("PUT", url(variables, "NEW_KEY/", shared), {"value": "v\r\n2"})
    assert response.status_code == 200, response.content
    assert response.json() == {"set": ["NEW_KEY"], "deleted": [], "applied": 1}
    assert values_of(people, owner)["NEW_KEY"] == "v\n2"  # as the editor's form keeps it
    gone = client.call("DELETE", url(variables, "NEW_KEY/", shared))
    assert gone.json() == {"set": [], "deleted": ["NEW_KEY"], "applied": 1}
    assert "NEW_KEY" not in values_of(people, owner)
    events = people.workspace_a.audit.filter(action="variable.changed").order_by("pk")
    assert [e.details for e in events][-2:] == [{"set": ["NEW_KEY"], "deleted": []},
                                                {"set": [], "deleted": ["NEW_KEY"]}]
    assert client.call("DELETE", url(variables, "NEW_KEY/", shared)).status_code == 404


def test_bulk_sets_and_deletes_together_leaving_others_staged_changes(people, variables,
                                                                      caller):
    with tenant_context(people.workspace_a):
        stage(variables.service, "DRAFT", "staged on the page", people.admin)
    response = caller("owner_token").call("PATCH", url(variables), {
        "A_KEY": "1", "PORT_NAME": None, "DATABASE_URL": SECRET})
    assert response.status_code == 200, response.content
    assert response.json() == {"set": ["A_KEY", "DATABASE_URL"], "deleted": ["PORT_NAME"],
                               "applied": 2}  # DATABASE_URL is unchanged
    assert values_of(people, variables.service) == {"A_KEY": "1", "DATABASE_URL": SECRET}
    with tenant_context(people.workspace_a):
        assert list(StagedChange.objects.values_list("key", flat=True)) == ["DRAFT"]


@pytest.mark.parametrize(("method", "suffix", "data", "field"), [
    ("PUT", "1BAD/", {"value": SECRET}, "key"),
    ("PUT", "BAD-KEY/", {"value": SECRET}, "key"),
    ("PUT", "PAAS_PUBLIC_URL/", {"value": SECRET}, "key"),  # reserved by the platform
    ("PUT", "NUL/", {"value": SECRET + "\0"}, "value"),
    ("PUT", "BIG/", {"value": SECRET * 4000}, "value"),
    ("PUT", "OK/", {"value": 5}, "value"),
    ("PUT", "OK/", {}, "value"),
    ("PUT", "OK/", {"value": SECRET, "secret": SECRET}, "secret"),
    ("DELETE", "NOT-VALID/", None, "key"),
    ("PATCH", "", {"GOOD": "x", "BAD-KEY": SECRET}, "BAD-KEY"),
    ("PATCH", "", {"GOOD": "x", "NUMBER": 5}, "NUMBER"),
    ("PATCH", "", {"GOOD": "x", "NUL": SECRET + "\0"}, "NUL"),
    ("PATCH", "", {"PAAS_PUBLIC_URL": SECRET}, "PAAS_PUBLIC_URL"),
])
def test_refused_keys_and_values_are_named_never_quoted(people, variables, caller, caplog,
                                                        method, suffix, data, field):
    response = caller("owner_token").call(method, url(variables, suffix), data)
    assert SECRET not in caplog.text  # nor in the request log
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid" and field in error["fields"]
    assert SECRET.encode() not in response.content
    assert values_of(people, variables.service) == {"DATABASE_URL": SECRET, "PORT_NAME": "web"}


def test_a_reserved_key_may_be_deleted(people, variables, caller):
    response = caller("owner_token").call("PATCH", url(variables), {"PAAS_PUBLIC_URL": None})
    assert response.status_code == 200
    assert response.json()["applied"] == 0


def test_bulk_needs_an_object_of_keys(people, variables, caller):
    for body in ([], {}, "x"):
        response = caller("owner_token").call("PATCH", url(variables), body)
        assert response.status_code == 400 and error_of(response)["code"] == "invalid"


def test_resolved_values_are_what_a_deployment_gets_and_recorded(people, variables, caller):
    with tenant_context(people.workspace_a):
        set_now(variables.service, {"FROM_SHARED": "${{ shared.SHARED_TOKEN }}"}, people.owner)
    response = caller("owner_token").call("GET", url(variables, "resolved/"))
    assert response.status_code == 200, response.content
    values = response.json()["variables"]
    assert values["FROM_SHARED"] == SECRET and values["DATABASE_URL"] == SECRET
    assert values["PAAS_SERVICE_NAME"] == "web"
    with tenant_context(people.workspace_a):
        assert VariableReveal.objects.get().key == "*"
    assert people.workspace_a.audit.filter(action="variable.revealed").count() == 1


def test_an_unresolvable_reference_is_409_naming_the_variable(people, variables, caller):
    with tenant_context(people.workspace_a):
        set_now(variables.service, {"BROKEN": "${{ shared.MISSING }}"}, people.owner)
    response = caller("owner_token").call("GET", url(variables, "resolved/"))
    assert response.status_code == 409
    assert "BROKEN" in error_of(response)["message"]
    assert SECRET.encode() not in response.content


def test_a_variable_named_resolved_is_still_reachable(people, variables, caller):
    client = caller("owner_token")
    assert client.call("PUT", url(variables, "resolved/"), {"value": "x"}).status_code == 200
    assert values_of(people, variables.service)["resolved"] == "x"
    assert client.call("DELETE", url(variables, "resolved/")).status_code == 200


def test_another_workspaces_owner_is_404(people, variables, caller):
    response = caller("owner_token").call("GET", "/api/v1/services/999999/variables/")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
