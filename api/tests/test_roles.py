"""Every endpoint and method, for each kind of caller: what tenants.roles allows passes; a
member without the right gets 403, an outsider 404, and anonymous callers and tokens that are
not valid here (another workspace's, expired, revoked) 401, always in the one error format."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from api.models import ApiToken
from api.tests.conftest import CALLERS, ROLE_OF, error_of, session_client, token_client
from api.tokens import create_token
from github.models import WebhookDelivery
from projects.custom_domains import add_domain
from projects.services import create_project
from projects.variables import set_now
from tenants.invitations import invite
from tenants.roles import Action, can

# (method, path, body, the Action it needs); {p}, {e}, {s}, {d}: the objects' ids.
ENDPOINTS = [
    ("GET", "/api/v1/", None, Action.VIEW),
    ("PATCH", "/api/v1/", {"name": "Team A renamed"}, Action.EDIT_WORKSPACE),
    ("GET", "/api/v1/schema/", None, Action.VIEW),
    ("GET", "/api/v1/projects/", None, Action.VIEW),
    ("POST", "/api/v1/projects/", {"name": "Blog"}, Action.CREATE_PROJECT),
    ("GET", "/api/v1/projects/{p}/", None, Action.VIEW),
    ("PATCH", "/api/v1/projects/{p}/", {"description": "The shop"}, Action.EDIT_PROJECT),
    ("DELETE", "/api/v1/projects/{p}/", None, Action.DELETE_PROJECT),
    ("GET", "/api/v1/projects/{p}/environments/", None, Action.VIEW),
    ("POST", "/api/v1/projects/{p}/environments/", {"name": "staging", "copy_of": "{e}"},
     Action.EDIT_PROJECT),
    ("GET", "/api/v1/environments/{e}/", None, Action.VIEW),
    ("DELETE", "/api/v1/environments/{e}/", None, Action.EDIT_PROJECT),  # the last: 409
    ("GET", "/api/v1/services/", None, Action.VIEW),
    ("POST", "/api/v1/services/", {"environment": "{e}", "name": "worker"},
     Action.EDIT_SERVICE),
    ("GET", "/api/v1/services/{s}/", None, Action.VIEW),
    ("PATCH", "/api/v1/services/{s}/", {"instances": 2}, Action.EDIT_SERVICE),
    ("DELETE", "/api/v1/services/{s}/", None, Action.EDIT_SERVICE),
    ("GET", "/api/v1/services/{s}/domains/", None, Action.VIEW),
    ("POST", "/api/v1/services/{s}/domains/", {"hostname": "new.example.com"},
     Action.EDIT_SERVICE),
    ("POST", "/api/v1/services/{s}/domains/shop.example.com/check/", None, Action.EDIT_SERVICE),
    ("DELETE", "/api/v1/services/{s}/domains/shop.example.com/", None, Action.EDIT_SERVICE),
    ("GET", "/api/v1/deployments/", None, Action.VIEW),
    ("POST", "/api/v1/deployments/", {"service": "{s}"}, Action.DEPLOY),
    ("GET", "/api/v1/deployments/{d}/", None, Action.VIEW),
    ("POST", "/api/v1/deployments/{d}/cancel/", None, Action.DEPLOY),
    ("POST", "/api/v1/deployments/{d}/rollback/", None, Action.DEPLOY),
    ("GET", "/api/v1/deployments/{d}/logs/", None, Action.READ_LOGS),
    ("GET", "/api/v1/services/{s}/variables/", None, Action.VIEW),
    ("GET", "/api/v1/services/{s}/variables/?reveal=true", None, Action.READ_SECRETS),
    ("PATCH", "/api/v1/services/{s}/variables/", {"A": "1", "EXISTING": None},
     Action.EDIT_VARIABLES),
    ("PUT", "/api/v1/services/{s}/variables/A/", {"value": "1"}, Action.EDIT_VARIABLES),
    ("DELETE", "/api/v1/services/{s}/variables/EXISTING/", None, Action.EDIT_VARIABLES),
    ("GET", "/api/v1/services/{s}/variables/resolved/", None, Action.READ_SECRETS),
    ("GET", "/api/v1/environments/{e}/variables/", None, Action.VIEW),
    ("GET", "/api/v1/environments/{e}/variables/?reveal=true", None, Action.READ_SECRETS),
    ("PATCH", "/api/v1/environments/{e}/variables/", {"A": "1"}, Action.EDIT_VARIABLES),
    ("PUT", "/api/v1/environments/{e}/variables/A/", {"value": "1"}, Action.EDIT_VARIABLES),
    ("DELETE", "/api/v1/environments/{e}/variables/EXISTING/", None, Action.EDIT_VARIABLES),
    ("GET", "/api/v1/members/", None, Action.VIEW),
    ("GET", "/api/v1/members/{m}/", None, Action.VIEW),
    ("PATCH", "/api/v1/members/{m}/", {"role": "admin"}, Action.MANAGE_MEMBERS),
    ("DELETE", "/api/v1/members/{m}/", None, Action.MANAGE_MEMBERS),
    ("POST", "/api/v1/members/{a}/transfer/", None, Action.TRANSFER_OWNERSHIP),
    ("GET", "/api/v1/invitations/", None, Action.MANAGE_MEMBERS),
    ("POST", "/api/v1/invitations/", {"email": "new@a.example", "role": "admin"},
     Action.MANAGE_MEMBERS),
    ("POST", "/api/v1/invitations/{i}/resend/", None, Action.MANAGE_MEMBERS),
    ("DELETE", "/api/v1/invitations/{i}/", None, Action.MANAGE_MEMBERS),
    ("GET", "/api/v1/webhook-deliveries/", None, Action.EDIT_WORKSPACE),
    ("GET", "/api/v1/webhook-deliveries/?event=push&outcome=deployed", None,
     Action.EDIT_WORKSPACE),
    ("GET", "/api/v1/webhook-deliveries/{w}/", None, Action.EDIT_WORKSPACE),
]


@pytest.fixture
def world(people, objects):
    """The objects, with a variable EXISTING on the service and shared in the environment, a
    custom domain shop.example.com of the service, a pending invitation and a webhook
    delivery; ids_of names them and the memberships."""
    with tenant_context(people.workspace_a):
        for owner in (objects.service, objects.environment):
            set_now(owner, {"EXISTING": "x"}, people.owner)
        add_domain(objects.service, "shop.example.com")
    invite(people.workspace_a, "invited@a.example", "member", people.owner, "http://panel")
    WebhookDelivery.objects.create(workspace=people.workspace_a, delivery_id="d-1",
                                   event="push", body_sha256="0" * 64, outcome="deployed")
    return objects


def ids_of(objects, people=None) -> dict[str, int]:
    ids = {"p": objects.project.pk, "e": objects.environment.pk, "s": objects.service.pk,
           "d": objects.deployment.pk}
    if people is not None:
        workspace = people.workspace_a
        ids.update(
            m=workspace.memberships.get(user=people.member).pk,
            a=workspace.memberships.get(user=people.admin).pk,
            i=workspace.invitations.pending().get().pk,
            w=WebhookDelivery.objects.get(workspace=workspace).pk)
    return ids


def filled(value, ids):
    if isinstance(value, dict):
        return {key: filled(item, ids) for key, item in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


@pytest.mark.parametrize("name", CALLERS)
@pytest.mark.parametrize(("method", "path", "data", "action"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_role_matrix(people, world, caller, name, method, path, data, action):
    ids = ids_of(world, people)
    response = caller(name).call(method, path.format(**ids), filled(data, ids))
    role = ROLE_OF.get(name)
    if role is None:
        expected = 404 if name == "outsider" else 401
        assert response.status_code == expected, response.content
        error_of(response)
    elif can(role, action):
        # 409: allowed, but not possible in the deployment's state (no release to roll back to).
        assert response.status_code in (200, 201, 202, 204, 409), response.content
        if response.status_code == 409:
            assert error_of(response)["code"] == "conflict"
    else:
        assert response.status_code == 403, response.content
        assert error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize("name", ["member", "member_token"])
def test_members_deploy_but_do_not_delete_projects(people, objects, caller, name):
    client = caller(name)
    deployed = client.call("POST", "/api/v1/deployments/", {"service": objects.service.pk})
    assert deployed.status_code == 201
    assert deployed.json()["trigger"] == "api"
    refused = client.call("DELETE", f"/api/v1/projects/{objects.project.pk}/")
    assert refused.status_code == 403
    assert client.call("GET", f"/api/v1/projects/{objects.project.pk}/").status_code == 200


def test_a_token_whose_user_left_the_workspace_is_refused(people, objects, caller):
    client = caller("member_token")
    assert client.call("GET", "/api/v1/projects/").status_code == 200
    people.workspace_a.memberships.filter(user=people.member).delete()
    response = client.call("GET", "/api/v1/projects/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.parametrize("path", ["/api/v1/projects/{}/", "/api/v1/services/{}/",
                                  "/api/v1/deployments/{}/", "/api/v1/environments/{}/",
                                  "/api/v1/deployments/{}/logs/",
                                  "/api/v1/services/{}/variables/",
                                  "/api/v1/services/{}/domains/",
                                  "/api/v1/environments/{}/variables/"])
def test_objects_of_another_workspace_are_404_whatever_the_id(people, objects, caller, path):
    with tenant_context(people.workspace_b):
        other = create_project("Theirs")
    client = token_client(people.workspace_b,
                          create_token(people.workspace_b, people.outsider, "b", 30)[1])
    for pk in (objects.project.pk, objects.service.pk, objects.deployment.pk, 999999):
        if pk == other.pk and "projects" in path:
            continue
        response = client.call("GET", path.format(pk))
        assert response.status_code == 404, (path, pk, response.content)
        assert error_of(response)["code"] == "not_found"


def test_unknown_paths_and_methods_answer_json(people, caller):
    client = caller("owner_token")
    missing = client.call("GET", "/api/v1/nothing-here/")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    assert client.call("GET", "/api/v2/").status_code == 404
    wrong = client.call("PUT", "/api/v1/projects/")
    assert wrong.status_code == 405 and error_of(wrong)["code"] == "method_not_allowed"


def test_anonymous_gets_401_json_never_the_login_page(people):
    response = session_client(people.workspace_a).call("GET", "/api/v1/projects/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    error_of(response)


def test_a_suspended_workspace_answers_403_json(people, caller):
    client = caller("owner_token")
    people.workspace_a.suspend()
    try:
        response = client.call("GET", "/api/v1/projects/")
        assert response.status_code == 403
        assert "suspended" in error_of(response)["message"]
    finally:
        people.workspace_a.resume()


def test_last_use_is_written_at_most_once_a_minute(people):
    row, token = create_token(people.workspace_a, people.member, "t", 7)
    client = token_client(people.workspace_a, token)
    client.call("GET", "/api/v1/")
    first = ApiToken.objects.get(pk=row.pk).last_used_at
    assert first is not None
    client.call("GET", "/api/v1/")
    assert ApiToken.objects.get(pk=row.pk).last_used_at == first
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=first - timedelta(minutes=2))
    client.call("GET", "/api/v1/")
    assert ApiToken.objects.get(pk=row.pk).last_used_at > first
