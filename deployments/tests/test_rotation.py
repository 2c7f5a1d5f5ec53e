"""`manage.py rotate_encryption_key`: every stored secret moves to the newest key, in batches
that survive an interruption, and no value is lost or printed (DESIGN.md §7)."""

import io
import secrets

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django_tenants.utils import tenant_context

from core.crypto import generate_key_entry, key_id_of
from deployments.management.commands import rotate_encryption_key
from deployments.models import Deployment
from deployments.snapshots import read_snapshot, store_snapshot
from projects.models import Environment, Service, StagedChange, Variable
from projects.services import create_project, create_service

OLD = generate_key_entry("old")
NEW = generate_key_entry("new")
VARIABLES_IN_A = 1000
VARIABLES_IN_B = 5


def secret_value(label: str) -> str:
    return f"{label}-{secrets.token_hex(8)}"


def make_service(name: str = "web") -> Service:
    environment = create_project("Rotation").environments.get(name=Environment.PRODUCTION)
    return create_service(environment, name)


def add_variables(service: Service, count: int, prefix: str) -> dict[str, str]:
    values = {f"{prefix}_{number:04d}": secret_value(prefix) for number in range(count)}
    rows = []
    for key, value in values.items():
        row = Variable(service=service, key=key)
        row.set_value(value)
        rows.append(row)
    Variable.objects.bulk_create(rows)
    return values


class Secrets:
    """What the test stored, by workspace, to compare with what the database holds."""

    def __init__(self, people):
        self.people = people
        self.variables: dict[str, dict[str, str]] = {}
        self.staged: dict[str, str] = {}
        self.snapshots: dict[str, dict[str, str]] = {}

    @property
    def workspaces(self):
        return [self.people.workspace_a, self.people.workspace_b]

    def every_value(self) -> list[str]:
        values = [v for by_key in self.variables.values() for v in by_key.values()]
        values += list(self.staged.values())
        values += [v for snapshot in self.snapshots.values() for v in snapshot.values()]
        return values

    def key_ids(self) -> dict[str, int]:
        """How many stored values are under each key id, over both workspaces."""
        found: dict[str, int] = {}
        for workspace in self.workspaces:
            with tenant_context(workspace):
                tokens = list(Variable.objects.values_list("ciphertext", flat=True))
                tokens += list(StagedChange.objects.exclude(ciphertext=None)
                               .values_list("ciphertext", flat=True))
                tokens += list(Deployment.objects.exclude(variables_snapshot=None)
                               .values_list("variables_snapshot", flat=True))
            for token in tokens:
                key_id = key_id_of(bytes(token))
                found[key_id] = found.get(key_id, 0) + 1
        return found

    def assert_intact(self) -> None:
        """Every value decrypts (with the keys configured now) to what was stored."""
        for workspace in self.workspaces:
            slug = workspace.slug
            with tenant_context(workspace):
                assert {v.key: v.decrypt() for v in Variable.objects.all()} == self.variables[slug]
                staged = StagedChange.objects.exclude(ciphertext=None).get()
                assert staged.decrypt() == self.staged[slug]
                deployment = Deployment.objects.exclude(variables_snapshot=None).get()
                assert read_snapshot(deployment) == self.snapshots[slug]


@pytest.fixture
def stored(people):
    """1,000 variables in workspace A and a few in B, a staged change and a deployment
    snapshot in each, all encrypted under the key `old` alone."""
    data = Secrets(people)
    with override_settings(PAAS_ENCRYPTION_KEYS=OLD):
        for workspace, count in ((people.workspace_a, VARIABLES_IN_A),
                                 (people.workspace_b, VARIABLES_IN_B)):
            with tenant_context(workspace):
                service = make_service()
                data.variables[workspace.slug] = add_variables(service, count, "VAR")
                staged = StagedChange(service=service, key="STAGED", action=StagedChange.SET)
                data.staged[workspace.slug] = secret_value("staged")
                staged.set_value(data.staged[workspace.slug])
                staged.save()
                StagedChange.objects.create(service=service, key="VAR_0000",
                                            action=StagedChange.DELETE)  # no ciphertext
                deployment = Deployment.objects.create(service=service, number=1)
                Deployment.objects.create(service=service, number=2)  # no snapshot
                data.snapshots[workspace.slug] = {"A": secret_value("snap"), "B": ""}
                store_snapshot(deployment, data.snapshots[workspace.slug])
    return data


def rotate(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_encryption_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_rotation_survives_an_interruption_and_loses_nothing(stored, monkeypatch):
    total = VARIABLES_IN_A + VARIABLES_IN_B + 2 + 2  # variables, staged changes, snapshots
    assert stored.key_ids() == {"old": total}
    with tenant_context(stored.people.workspace_a):
        updated_at = dict(Variable.objects.values_list("pk", "updated_at"))
    outputs = []

    with override_settings(PAAS_ENCRYPTION_KEYS=f"{NEW},{OLD}"):
        # First run: the 4th batch of 100 is interrupted after re-encrypting its rows.
        original = rotate_encryption_key.Command.rotate_batch
        batches = []

        def interrupted(self, workspace, kind, rows, ring):
            batches.append((workspace, kind.label, len(rows)))
            moved = original(self, workspace, kind, rows, ring)
            if len(batches) == 4:
                raise KeyboardInterrupt
            return moved

        with monkeypatch.context() as patch:
            patch.setattr(rotate_encryption_key.Command, "rotate_batch", interrupted)
            out, err = io.StringIO(), io.StringIO()
            with pytest.raises(CommandError, match="Interrupted") as stopped:
                call_command("rotate_encryption_key", "--batch-size", "100",
                             stdout=out, stderr=err)
        assert stopped.value.returncode == 130
        outputs += [out.getvalue(), err.getvalue(), str(stopped.value)]
        assert batches == [("team-a", "variables", 100)] * 4
        assert "Moved 300 value(s) to key 'new' (variables: 300, staged changes: 0, " \
               "deployment snapshots: 0)" in out.getvalue()
        # Three batches committed; the fourth was rolled back although it had been encrypted.
        assert stored.key_ids() == {"new": 300, "old": total - 300}
        with tenant_context(stored.people.workspace_a):
            moved = sorted(pk for pk, token in Variable.objects.values_list("pk", "ciphertext")
                           if bytes(token).startswith(b"new:"))
            assert moved == sorted(Variable.objects.values_list("pk", flat=True))[:300]
        stored.assert_intact()

        # Second run: the rest.
        out, err = rotate("--batch-size", "100")
        outputs += [out, err]
        assert err == ""
        assert f"Moved {total - 300} value(s) to key 'new' (variables: " \
               f"{VARIABLES_IN_A + VARIABLES_IN_B - 300}, staged changes: 2, " \
               "deployment snapshots: 2)" in out
        assert "team-a: 702 value(s) moved" in out and "team-b: 7 value(s) moved" in out
        assert stored.key_ids() == {"new": total}
        stored.assert_intact()

        # Third run: nothing left to move, nothing touched.
        with tenant_context(stored.people.workspace_b):
            before = {v.pk: bytes(v.ciphertext) for v in Variable.objects.all()}
        out, err = rotate()
        outputs += [out, err]
        assert "Moved 0 value(s) to key 'new' (variables: 0, staged changes: 0, " \
               "deployment snapshots: 0)" in out
        with tenant_context(stored.people.workspace_b):
            assert {v.pk: bytes(v.ciphertext) for v in Variable.objects.all()} == before

    # The old key can go now.
    with override_settings(PAAS_ENCRYPTION_KEYS=NEW):
        stored.assert_intact()
    # Rotation is not a user's change.
    with tenant_context(stored.people.workspace_a):
        assert dict(Variable.objects.values_list("pk", "updated_at")) == updated_at

    text = "\n".join(outputs)
    for value in stored.every_value():
        if value:
            assert value not in text
    for entry in (OLD, NEW):
        assert entry.partition(":")[2] not in text


def test_values_that_do_not_decrypt_are_reported_and_the_others_move(stored):
    gone = generate_key_entry("gone")
    with tenant_context(stored.people.workspace_b):
        service = Service.objects.get()
        with override_settings(PAAS_ENCRYPTION_KEYS=gone):
            lost_value = secret_value("lost")
            lost = Variable(service=service, key="UNDER_A_LOST_KEY")
            lost.set_value(lost_value)
            lost.save()
        tampered = Variable.objects.get(key="VAR_0003")
        token = bytearray(tampered.ciphertext)
        token[-1] ^= 1
        Variable.objects.filter(pk=tampered.pk).update(ciphertext=bytes(token))
        garbage = Variable.objects.create(service=service, key="GARBAGE", ciphertext=b"junk")

    with override_settings(PAAS_ENCRYPTION_KEYS=f"{NEW},{OLD}"):
        out, err = io.StringIO(), io.StringIO()
        with pytest.raises(CommandError, match="3 value") as failed:
            call_command("rotate_encryption_key", stdout=out, stderr=err)
        assert failed.value.returncode == 1
        problems = err.getvalue().splitlines()
        assert len(problems) == 3
        assert all(line.startswith("Could not decrypt: team-b: variables id ")
                   for line in problems)
        assert (f"variables id {lost.pk} (service {service.pk}, UNDER_A_LOST_KEY), "
                "key 'gone': the key 'gone' that encrypted this value is not configured"
                ) in err.getvalue()
        assert f"variables id {tampered.pk} (service {service.pk}, VAR_0003), key 'old'" \
            in err.getvalue()
        assert f"variables id {garbage.pk} (service {service.pk}, GARBAGE), key '?'" \
            in err.getvalue()
        total = VARIABLES_IN_A + VARIABLES_IN_B + 4
        assert f"Moved {total - 1} value(s)" in out.getvalue()  # all but the tampered one
        text = out.getvalue() + err.getvalue() + str(failed.value)
        for value in [lost_value, *stored.every_value()]:
            if value:
                assert value not in text

        # A rerun reports the same problems and moves nothing more.
        out, err = io.StringIO(), io.StringIO()
        with pytest.raises(CommandError):
            call_command("rotate_encryption_key", stdout=out, stderr=err)
        assert "Moved 0 value(s)" in out.getvalue()
        assert len(err.getvalue().splitlines()) == 3


def test_batch_size_must_be_positive(people):
    with pytest.raises(CommandError, match="at least 1"):
        rotate("--batch-size", "0")


def test_a_malformed_keyring_is_a_command_error(people):
    with override_settings(PAAS_ENCRYPTION_KEYS="new:not-a-key"), \
            pytest.raises(CommandError, match="PAAS_ENCRYPTION_KEYS") as failed:
        rotate()
    assert "not-a-key" not in str(failed.value)
