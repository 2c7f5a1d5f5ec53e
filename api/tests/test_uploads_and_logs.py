"""`POST /services/{id}/uploads/` (a raw .tar.gz: whoever may deploy; a refused archive is 400
and stores nothing; past PAAS_UPLOAD_MAX_BYTES 413) and `GET /services/{id}/logs/` (runtime
or build lines of a deployment, filtered, after a sequence)."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from api.tests.conftest import CALLERS, ROLE_OF, error_of
from api.views_uploads import CappedBody, PayloadTooLarge
from deployments.logstore import NewLine, append
from deployments.models import Deployment, SourceArchive, Trigger
from deployments.tests.test_uploads import tarball
from tenants.roles import Action, can

GOOD = tarball({"package.json": '{"name": "x"}', "index.js": "console.log(1)"})


def hostile() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    return buffer.getvalue()


def upload(client, service_id: int, body: bytes, **extra):
    return client.post(f"/api/v1/services/{service_id}/uploads/", body,
                       content_type="application/gzip", **extra)


def stored(workspace) -> int:
    with tenant_context(workspace):
        return SourceArchive.objects.count()


@pytest.mark.parametrize("name", CALLERS)
@pytest.mark.parametrize(("method", "action"), [("upload", Action.DEPLOY),
                                                ("logs", Action.READ_LOGS)])
def test_role_matrix(people, objects, caller, name, method, action):
    client = caller(name)
    if method == "upload":
        response = upload(client, objects.service.pk, GOOD)
    else:
        response = client.call("GET", f"/api/v1/services/{objects.service.pk}/logs/")
    role = ROLE_OF.get(name)
    if role is None:
        assert response.status_code == (404 if name == "outsider" else 401), response.content
        error_of(response)
    elif can(role, action):
        assert response.status_code in (200, 201), response.content
    else:
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"


def test_an_upload_deploys_as_the_cli_or_the_api(people, objects, caller):
    client = caller("member_token")
    first = upload(client, objects.service.pk, GOOD, HTTP_USER_AGENT="paas-cli/0.1")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["trigger"] == Trigger.CLI and body["service"] == objects.service.pk
    assert body["triggered_by"] == people.member.email
    second = upload(client, objects.service.pk, GOOD, HTTP_USER_AGENT="curl/8")
    assert second.json()["trigger"] == Trigger.API
    with tenant_context(people.workspace_a):
        deployment = Deployment.objects.get(pk=body["id"])
        assert deployment.source_archive.size == len(GOOD)


def test_a_hostile_archive_is_400_and_nothing_is_stored(people, objects, caller):
    client = caller("owner_token")
    before = stored(people.workspace_a)
    for body in (hostile(), b"not gzip at all"):
        response = upload(client, objects.service.pk, body)
        assert response.status_code == 400, response.content
        assert error_of(response)["code"] == "invalid"
    assert "escape.txt" in upload(client, objects.service.pk, hostile()).json()["error"][
        "message"]
    assert stored(people.workspace_a) == before


def test_an_oversize_archive_is_413_and_nothing_is_stored(people, objects, caller, settings):
    settings.PAAS_UPLOAD_MAX_BYTES = len(GOOD) - 1
    client = caller("owner_token")
    response = upload(client, objects.service.pk, GOOD)
    assert response.status_code == 413
    assert "PAAS_UPLOAD_MAX_BYTES" in error_of(response)["message"]
    assert stored(people.workspace_a) == 0


def test_a_body_longer_than_it_said_is_counted_while_it_is_read():
    body = CappedBody(io.BytesIO(b"x" * 100), 99)
    assert body.read(60) == b"x" * 60
    with pytest.raises(PayloadTooLarge):
        body.read(60)


def test_an_upload_needs_the_gzip_media_type_and_a_service_here(people, objects, caller):
    client = caller("owner_token")
    wrong = client.post(f"/api/v1/services/{objects.service.pk}/uploads/", GOOD,
                        content_type="text/plain")
    assert wrong.status_code == 415 and error_of(wrong)
    assert upload(client, 999999, GOOD).status_code == 404


def test_service_logs_tail_follow_build_since_and_filter(people, objects, caller):
    old = datetime.now(UTC) - timedelta(hours=2)
    with tenant_context(people.workspace_a):
        append(objects.deployment.pk, objects.service.pk, 7,
               [NewLine("building", "build", "build")]
               + [NewLine(f"out {n}", "stdout", timestamp=old if n == 1 else None)
                  for n in range(1, 5)]
               + [NewLine('{"level": "error", "msg": "boom"}', "stderr")])
    client = caller("member_token")
    url = f"/api/v1/services/{objects.service.pk}/logs/"
    tail = client.call("GET", f"{url}?limit=2").json()
    assert tail["deployment"] == objects.deployment.pk
    assert [line["text"] for line in tail["lines"]] == ["out 4", '{"level": "error", "msg": '
                                                        '"boom"}']
    assert tail["has_more"] is True and tail["last_sequence"] == 6
    assert client.call("GET", f"{url}?after=6").json()["lines"] == []
    following = client.call("GET", f"{url}?after=2&limit=2").json()
    assert [line["text"] for line in following["lines"]] == ["out 2", "out 3"]
    assert following["has_more"] is True and following["last_sequence"] == 4
    build = client.call("GET", f"{url}?build=true").json()
    assert [line["text"] for line in build["lines"]] == ["building"]
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    recent = client.call("GET", url, None, QUERY_STRING=f"since={since.replace('+', '%2B')}")
    assert "out 1" not in [line["text"] for line in recent.json()["lines"]]
    errors = client.call("GET", f"{url}?filter=@level:error").json()
    assert [line["level"] for line in errors["lines"]] == ["error"]
    refused = client.call("GET", f"{url}?filter=%28")
    assert "filter" in error_of(refused)["fields"]
    assert "since" in error_of(client.call("GET", f"{url}?since=yesterday"))["fields"]


def test_the_schema_describes_uploads_and_service_logs(people, caller):
    paths = caller("owner_token").call("GET", "/api/v1/schema/").json()["paths"]
    upload_op = paths["/api/v1/services/{id}/uploads/"]["post"]
    assert "application/gzip" in upload_op["requestBody"]["content"]
    assert {"201", "400", "413"} <= set(upload_op["responses"])
    assert "get" in paths["/api/v1/services/{id}/logs/"]
