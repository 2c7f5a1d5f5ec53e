"""Issue 13: schemathesis against the OpenAPI schema that the running panel serves finds no
5xx, and every answer is one the schema declares (status code, content type, body).

The panel runs under uvicorn on the test database; the schema is loaded from it with the
Host header of workspace A. Every operation gets a bounded number of generated requests
(positive and negative data, derandomized, no shrinking), first with a token of the owner,
then with one of a plain member. Committed fixtures (a project with its environment, a
service with variables, a deployment) let generated ids hit real objects sometimes; what the
run made (projects, invitations, tokens, custom domains, role changes, a new workspace name)
is undone after. Checking a domain's DNS asks the tests' fake resolver (conftest.process_env).

Destructive operations run last in each pass, so they cannot spoil the others: deleting
(projects, variables, invitations), then removing members, then handing the workspace over
(after which the owner's token is an admin's). The memberships of workspace A are put back
as they were after each pass. No operation revokes a token (tokens are made and revoked on
the API tokens page only), so the token in use stays valid throughout.

Found and fixed with it: a write to a path with no endpoint (a negative id) was the CSRF
check's HTML 403; no operation declared its errors; PATCH of the workspace without a name
was 400. See the tests named after each in test_schema_and_sessions.py and
test_validation.py."""

from __future__ import annotations

import gzip
import io
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.models import ApiToken
from api.tokens import create_token
from conftest import free_port, start_panel
from deployments.models import Deployment, Status
from hosting.models import CustomDomain
from projects.models import Project, Service
from projects.services import create_project, create_service
from projects.variables import set_now
from tenants.models import Invitation, Membership, Workspace

EXAMPLES = 8  # per operation, mode and pass: about 40 s (keeps the suite well under 15 min)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# Upload bodies: a small source tree, gzip of no tar, an escaping entry, or any bytes.
schemathesis.openapi.media_type("application/gzip", st.one_of(
    st.sampled_from([tar_gz({"package.json": b"{}", "index.js": b"1"}), gzip.compress(b"x"),
                     tar_gz({"../escape": b"x"})]),
    st.binary(max_size=256)))


@dataclass
class Panel:
    url: str
    host: str
    workspace: Workspace


@pytest.fixture
def fuzzed_panel(committed_db) -> Iterator[Panel]:
    """The panel, with objects for generated ids to hit; afterwards the workspace as it was."""
    workspace = committed_db.workspace_a
    with tenant_context(workspace):
        existing = set(Project.objects.values_list("pk", flat=True))
        project = create_project("Fuzzed", "schemathesis")
        environment = project.environments.get()
        service = create_service(environment, "web",
                                 repository_url="https://example.com/fuzzed.git")
        set_now(service, {"SERVICE_KEY": "value", "OTHER": "${{shared.SHARED_KEY}}"},
                committed_db.owner)
        set_now(environment, {"SHARED_KEY": "shared"}, committed_db.owner)
        Deployment.objects.create(service=service, number=1, status=Status.QUEUED)
    tokens = set(ApiToken.objects.values_list("pk", flat=True))
    domains = set(CustomDomain.objects.values_list("pk", flat=True))
    invitations = set(Invitation.objects.values_list("pk", flat=True))
    name = workspace.name
    port = free_port()
    process = start_panel(port, PAAS_API_THROTTLE_RATE="100000/minute")
    try:
        yield Panel(f"http://127.0.0.1:{port}", workspace.hostname, workspace)
    finally:
        process.terminate()
        process.wait(10)
        with tenant_context(workspace):
            Service.objects.exclude(environment__project__in=existing).update(
                active_deployment=None)
            Project.objects.exclude(pk__in=existing).delete()
        ApiToken.objects.exclude(pk__in=tokens).delete()
        CustomDomain.objects.exclude(pk__in=domains).delete()  # added to older services
        Invitation.objects.exclude(pk__in=invitations).delete()
        Workspace.objects.filter(pk=workspace.pk).update(name=name)


def memberships_of(workspace: Workspace) -> dict[int, str]:
    return dict(Membership.objects.filter(workspace=workspace).values_list("user_id", "role"))


def restore_memberships(workspace: Workspace, roles: dict[int, str]) -> None:
    """Put the memberships back (removed ones made again, roles reset; the owner last: one
    owner per workspace)."""
    Membership.objects.filter(workspace=workspace).exclude(user_id__in=roles).delete()
    Membership.objects.filter(workspace=workspace).update(role="member")
    for user_id, role in sorted(roles.items(), key=lambda item: item[1] == "owner"):
        Membership.objects.update_or_create(workspace=workspace, user_id=user_id,
                                            defaults={"role": role})


def order_key(operation: object) -> tuple[int, str]:
    """Reads and writes first, then deletions, then removing members, then the transfer."""
    method, path = operation.method.upper(), operation.path
    if method == "POST" and path.endswith("/transfer/"):
        return 3, path
    if method == "DELETE" and path.startswith("/api/v1/members/"):
        return 2, path
    return (1 if method == "DELETE" else 0), path


def fuzz(panel: Panel, token: str) -> list[str]:
    """Every operation with generated requests; the failures found, one line each."""
    headers = {"Host": panel.host, "Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(f"{panel.url}/api/v1/schema/", headers=headers,
                                           timeout=30)
    session = requests.Session()
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=order_key)
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: object) -> None:
                case.call_and_validate(base_url=panel.url, session=session, headers=headers,
                                       checks=CHECKS, timeout=30)

            try:
                run()
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 -- each reported
                failures.append(f"{operation.label} ({mode.value}): {error}")
    return failures


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(fuzzed_panel):
    panel = fuzzed_panel
    started = time.monotonic()
    roles = memberships_of(panel.workspace)
    failures = []
    try:
        for person in ("owner", "member"):
            user_id = next(user for user, role in roles.items() if role == person)
            user = Membership.objects.get(workspace=panel.workspace, user_id=user_id).user
            _, token = create_token(panel.workspace, user, f"schemathesis {person}", 1)
            failures += [f"[{person}] {line}" for line in fuzz(panel, token)]
            restore_memberships(panel.workspace, roles)
    finally:
        restore_memberships(panel.workspace, roles)
    print(f"schemathesis: {time.monotonic() - started:.0f} s")
    assert not failures, "\n\n".join(failures)
