"""Upload deploys: a .tar.gz of a source tree, checked before it is stored, kept in the
database, and built by a real worker like a checkout (then rolled back to without a
rebuild); its deployments show "Upload" where others show a commit."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile

import pytest
from django_tenants.utils import tenant_context

from deployments.models import Deployment, SourceArchive, SourceArchiveChunk, Status, Trigger
from deployments.services import DeployRefused, deploy_upload, rollback
from deployments.tests import sample_apps
from deployments.tests.engine import get, log_of, set_variable, settle
from deployments.tests.test_views import button
from projects.models import Service
from projects.services import create_project, create_service

OWNER = "owner@a.example"


def tarball(files: dict[str, str | bytes], prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(prefix + name)
            info.size, info.mode = len(data), 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload_service(workspace, name: str = "web", **fields: object) -> Service:
    """A service with no repository: it is deployed by uploads only."""
    with tenant_context(workspace):
        project = create_project(f"Uploads {name} {id(fields)}")
        return create_service(project.environments.get(), name, **fields)


def upload(workspace, service: Service, body: bytes) -> Deployment:
    with tenant_context(workspace):
        return deploy_upload(service, io.BytesIO(body), trigger=Trigger.CLI,
                             triggered_by=OWNER)


def test_an_upload_is_built_like_a_checkout_shown_as_an_upload_and_rolled_back_to(
        ws, client_for, committed_db):
    service = upload_service(ws, root_directory="app")
    first_body = tarball(sample_apps.NODE_APP, prefix="app/")

    first = settle(ws, upload(ws, service, first_body))

    assert first.status == Status.ACTIVE, first.error_reason
    assert first.commit_sha == "" and first.trigger == Trigger.CLI
    assert first.runtime == "node"
    status, body = get(first.port)
    assert status == 200 and body["deployment"] == str(first.pk)
    sha = hashlib.sha256(first_body).hexdigest()
    text = "\n".join(line for _, line in log_of(ws, first))
    assert "Unpacking the upload (3 files, " in text and f"sha256 {sha[:12]}…" in text, text
    assert "npm ci" in text

    html = client_for(committed_db.owner, ws).get(f"/services/{service.pk}/").content.decode()
    assert html.count('data-testid="upload"') >= 2  # the active deployment and its row
    assert f"Upload</span> <span class=\"font-mono text-purple-300\" title=\"sha256 {sha}\">" \
        f"{sha[:12]}</span> <span class=\"text-slate-400\">by {OWNER}" in html
    detail = client_for(committed_db.owner, ws).get(f"/deployments/{first.pk}/")
    assert sha[:12] in detail.content.decode() and "3 files" in detail.content.decode()

    set_variable(ws, service, "VERSION", "v2")
    second = settle(ws, upload(ws, service, tarball(sample_apps.NODE_APP, prefix="app/")))
    assert second.status == Status.ACTIVE, second.error_reason
    assert get(second.port)[1]["version"] == "v2"

    with tenant_context(ws):
        back = rollback(Deployment.objects.get(pk=first.pk), triggered_by=OWNER)
    back = settle(ws, back)
    assert back.status == Status.ACTIVE, back.error_reason
    assert back.release_dir == first.release_dir
    assert back.source_archive_id == first.source_archive_id
    assert get(back.port)[1]["version"] == "v1"
    rollback_log = "\n".join(line for _, line in log_of(ws, back))
    assert f"(upload {sha[:12]}); no rebuild" in rollback_log
    assert "Unpacking" not in rollback_log and "npm ci" not in rollback_log


def test_a_hostile_upload_is_refused_before_anything_is_stored(people):
    service = upload_service(people.workspace_a)
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../etc/cron.d/x")
        tar.addfile(info, io.BytesIO(b""))
    for body, message in ((evil.getvalue(), "“../../etc/cron.d/x” goes up a directory"),
                          (b"not an archive", "not a gzip file")):
        with tenant_context(people.workspace_a), pytest.raises(DeployRefused, match=message):
            deploy_upload(service, body, triggered_by=OWNER)
    with tenant_context(people.workspace_a):
        assert not SourceArchive.objects.exists() and not Deployment.objects.exists()


def test_an_upload_past_the_size_limit_is_refused_while_it_is_read(people, settings):
    settings.PAAS_UPLOAD_MAX_BYTES = 1000
    service = upload_service(people.workspace_a)
    with tenant_context(people.workspace_a), pytest.raises(
            DeployRefused, match=r"larger than 1000 bytes \(PAAS_UPLOAD_MAX_BYTES\)"):
        deploy_upload(service, io.BytesIO(b"\x1f\x8b" + bytes(5000)), triggered_by=OWNER)


def test_archives_are_stored_in_chunks_and_go_with_their_deployments(people, settings):
    settings.PAAS_UPLOAD_MAX_RATIO = 10**6
    service = upload_service(people.workspace_a)
    # Bytes that do not compress: a 9 MB archive, stored as chunks of 4 MB.
    body = tarball({"index.html": "<h1>hi</h1>\n", "noise.bin": os.urandom(9 * 1024 * 1024)})
    with tenant_context(people.workspace_a):
        deployment = deploy_upload(service, body, trigger=Trigger.API, triggered_by=OWNER)
        archive = deployment.source_archive
        assert (archive.size, archive.sha256) == (len(body), hashlib.sha256(body).hexdigest())
        assert archive.files == 2 and archive.uploaded_by == OWNER
        assert SourceArchiveChunk.objects.filter(archive=archive).count() == 3
        out = io.BytesIO()
        assert archive.write_to(out) == len(body) and out.getvalue() == body
        assert deployment.status == Status.QUEUED and deployment.trigger == Trigger.API

        deployment.delete()
        assert not SourceArchive.objects.filter(pk=archive.pk).exists()
        assert not SourceArchiveChunk.objects.exists()

        again = deploy_upload(service, body, triggered_by=OWNER)
        Service.objects.filter(pk=service.pk).delete()
        assert not SourceArchive.objects.filter(pk=again.source_archive_id).exists()


def test_a_service_deployed_only_by_uploads_offers_redeploy_of_its_upload(people, client_for):
    """With no repository, Deploy (the branch head) says how such a service deploys; once an
    upload has been deployed, Redeploy builds that upload again."""
    service = upload_service(people.workspace_a)
    owner = client_for(people.owner, people.workspace_a)
    reason = 'title="Add a repository URL (or run paas up) to deploy"'
    html = owner.get(f"/services/{service.pk}/").content.decode()
    for action in ("deploy", "redeploy"):
        assert "disabled" in button(html, action) and reason in button(html, action)

    first = upload(people.workspace_a, service, tarball(sample_apps.NODE_APP))
    html = owner.get(f"/services/{service.pk}/").content.decode()
    assert "disabled" in button(html, "deploy") and reason in button(html, "deploy")
    assert "disabled" not in button(html, "redeploy")

    response = owner.post(f"/services/{service.pk}/redeploy/", follow=True)
    assert "Redeploy queued as deployment #2." in response.content.decode()
    with tenant_context(people.workspace_a):
        again = Deployment.objects.get(service=service, number=2)
        assert again.source_archive_id == first.source_archive_id
        assert again.source_deployment_id == first.pk and again.commit_sha == ""
