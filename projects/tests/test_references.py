"""References between variables, resolved at deploy time, and the deployment snapshot."""

import pytest
from django_tenants.utils import tenant_context

from deployments.models import Deployment, Status
from deployments.snapshots import read_snapshot, snapshot_variables
from projects.models import Service, Variable
from projects.references import Resolver, VariableReferenceError, resolve_service
from projects.services import create_project, create_service
from projects.variables import reference_problems


@pytest.fixture
def environment(workspace_a):
    with tenant_context(workspace_a):
        yield create_project("Refs").environments.get()


def service(environment, name, **variables):
    created = create_service(environment, name)
    for key, value in variables.items():
        set_variable(created, key, value)
    return created


def set_variable(owner, key, value):
    field = "service" if isinstance(owner, Service) else "environment"
    variable = Variable(**{field: owner}, key=key)
    variable.set_value(value)
    variable.save()


def test_shared_and_service_references_resolve(environment):
    set_variable(environment, "DB_HOST", "db.internal")
    db = service(environment, "db", POSTGRES_PASSWORD="hunter2", PORT="5432")
    api = service(
        environment, "api",
        DATABASE_URL=(
            "postgres://app:${{ db.POSTGRES_PASSWORD }}@${{shared.DB_HOST}}:${{ db.PORT }}/app"
        ),
        PLAIN="no refs, a literal ${HOME} and ${{ not closed",
    )
    values = resolve_service(api)
    assert values["DATABASE_URL"] == "postgres://app:hunter2@db.internal:5432/app"
    assert values["PLAIN"] == "no refs, a literal ${HOME} and ${{ not closed"
    assert values["PAAS_SERVICE_NAME"] == "api"
    assert values["PAAS_PUBLIC_DOMAIN"] == "api-team-a.apps.localhost"
    assert "POSTGRES_PASSWORD" not in values  # another service's variables are not inherited
    assert resolve_service(db)["PORT"] == "5432"


def test_platform_variables_of_another_service_are_referencable(environment):
    service(environment, "web")
    worker = service(environment, "worker", WEB="${{ web.PAAS_PUBLIC_URL }}")
    assert resolve_service(worker)["WEB"] == "https://web-team-a.apps.localhost"


def test_private_url_of_a_service_never_deployed_is_a_clear_error(environment):
    service(environment, "web")
    worker = service(environment, "worker", WEB="${{ web.PAAS_PRIVATE_URL }}")
    with pytest.raises(VariableReferenceError, match="WEB: .*no running deployment"):
        resolve_service(worker)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${{ nope.KEY }}", "URL: references service “nope”, which is not in this environment"),
        ("${{ shared.MISSING }}",
         "URL: references shared.MISSING, but there is no shared variable MISSING"),
        ("${{ db.MISSING }}", "URL: references db.MISSING, but service db has no variable MISSING"),
    ],
)
def test_unknown_references_name_the_variable(environment, value, message):
    service(environment, "db", PASSWORD="hunter2")
    api = service(environment, "api", URL=value)
    with pytest.raises(VariableReferenceError) as error:
        resolve_service(api)
    assert str(error.value) == message
    assert "hunter2" not in str(error.value)


def test_cycles_are_reported_with_their_path(environment):
    service(environment, "a", X="${{ b.Y }}")
    b = service(environment, "b", Y="${{ a.X }}")
    cycle = r"Y: references form a cycle \(b.Y → a.X → b.Y\)"
    with pytest.raises(VariableReferenceError, match=cycle):
        resolve_service(b)
    selfish = service(environment, "c", LOOP="x${{ c.LOOP }}")
    with pytest.raises(VariableReferenceError, match="LOOP: references form a cycle"):
        resolve_service(selfish)


def test_shared_variables_may_reference_each_other(environment):
    set_variable(environment, "HOST", "db.internal")
    set_variable(environment, "URL", "postgres://${{ shared.HOST }}/app")
    api = service(environment, "api", DATABASE_URL="${{ shared.URL }}")
    assert resolve_service(api)["DATABASE_URL"] == "postgres://db.internal/app"


def test_reference_problems_lists_every_broken_variable(environment):
    api = service(environment, "api", A="${{ x.Y }}", B="fine", C="${{ shared.Q }}")
    problems = reference_problems(api)
    assert [p.split(":")[0] for p in problems] == ["A", "C"]


def test_resolver_only_decrypts_what_a_resolution_reaches(environment, monkeypatch):
    from core.crypto import Keyring

    service(environment, "unrelated", SECRET="x")
    set_variable(environment, "USED", "u")
    set_variable(environment, "UNUSED", "not decrypted")
    api = service(environment, "api", A="1", B="${{ shared.USED }}")

    decrypted = []
    original = Keyring.decrypt_many

    def spy(self, prefix, rows):
        rows = list(rows)
        decrypted.extend(name for name, _ in rows)
        return original(self, prefix, rows)

    monkeypatch.setattr(Keyring, "decrypt_many", spy)
    assert Resolver(environment).resolve(api.name)["B"] == "u"
    assert sorted(decrypted) == ["A", "B", "USED"]


def test_a_deployment_snapshots_its_resolved_variables(environment):
    service(environment, "db", PASSWORD="hunter2")
    api = service(environment, "api", URL="pg://${{ db.PASSWORD }}")
    deployment = Deployment.objects.create(service=api, number=1)
    assert snapshot_variables(deployment)
    set_variable(api, "LATER", "added after the deploy")
    snapshot = read_snapshot(Deployment.objects.get(pk=deployment.pk))
    assert snapshot["URL"] == "pg://hunter2"
    assert "LATER" not in snapshot
    assert b"hunter2" not in bytes(Deployment.objects.get(pk=deployment.pk).variables_snapshot)


def test_a_broken_reference_fails_the_deployment_naming_the_variable(environment):
    api = service(environment, "api", TOKEN="s3cr3t", URL="${{ ghost.URL }}")
    deployment = Deployment.objects.create(service=api, number=1)
    assert not snapshot_variables(deployment)
    deployment.refresh_from_db()
    assert deployment.status == Status.FAILED
    assert "URL" in deployment.error_reason and "ghost" in deployment.error_reason
    assert "s3cr3t" not in deployment.error_reason
    assert deployment.variables_snapshot is None
