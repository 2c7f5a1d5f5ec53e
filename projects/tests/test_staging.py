"""Staged variable changes: nothing applies until Apply, and then everything at once."""

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from projects.models import StagedChange, Variable
from projects.services import create_project, create_service
from projects.variables import (
    Change,
    apply_staged,
    current_values,
    discard_staged,
    pending_values,
    reveal,
    stage,
    stage_env_text,
    staged_diff,
)


@pytest.fixture
def api(workspace_a):
    with tenant_context(workspace_a):
        environment = create_project("Staging").environments.get()
        yield create_service(environment, "api")


def test_changes_wait_for_apply_then_land_together(api, people):
    stage(api, "A", "1", people.owner)
    stage(api, "B", "two\nlines", people.owner)
    assert current_values(api) == {}
    assert pending_values(api) == {"A": "1", "B": "two\nlines"}
    assert staged_diff(api) == [Change("A", "added"), Change("B", "added")]
    assert apply_staged(api) == 2
    assert current_values(api) == {"A": "1", "B": "two\nlines"}
    assert StagedChange.objects.count() == 0

    stage(api, "A", "one", people.owner)
    stage(api, "B", None, people.owner)
    stage(api, "C", "3", people.owner)
    assert staged_diff(api) == [Change("A", "changed"), Change("B", "removed"),
                                Change("C", "added")]
    assert apply_staged(api) == 3
    assert current_values(api) == {"A": "one", "C": "3"}


def test_staging_the_current_value_unstages(api, people):
    stage(api, "A", "1", people.owner)
    apply_staged(api)
    stage(api, "A", "2", people.owner)
    stage(api, "A", "1", people.owner)
    assert staged_diff(api) == []
    stage(api, "GHOST", None, people.owner)  # deleting what does not exist: nothing to do
    assert staged_diff(api) == []


def test_discard_drops_staged_changes(api, people):
    stage(api, "A", "1", people.owner)
    assert discard_staged(api) == 1
    assert pending_values(api) == {}


def test_staged_values_are_encrypted_at_rest(api, people):
    stage(api, "TOKEN", "s3cr3t-staged", people.owner)
    change = StagedChange.objects.get(key="TOKEN")
    assert b"s3cr3t-staged" not in bytes(change.ciphertext)


@pytest.mark.parametrize("key", ["", "1ABC", "A-B", "A B", "X" * 256, "ÄBC"])
def test_invalid_keys_are_refused_and_nothing_is_staged(api, people, key):
    with pytest.raises(ValidationError):
        stage(api, key, "v", people.owner)
    assert StagedChange.objects.count() == 0


def test_values_over_32_kib_are_refused_without_echoing_them(api, people):
    value = "é" * (16 * 1024 + 1)  # 32 KiB + 2 bytes in UTF-8
    with pytest.raises(ValidationError) as error:
        stage(api, "BIG", value, people.owner)
    assert "éé" not in str(error.value)
    stage(api, "EDGE", "x" * 32 * 1024, people.owner)
    assert pending_values(api)["EDGE"] == "x" * 32 * 1024


def test_raw_env_text_stages_the_difference(api, people):
    stage(api, "KEEP", "same", people.owner)
    stage(api, "DROP", "gone soon", people.owner)
    apply_staged(api)
    stage_env_text(api, '# comment\nexport KEEP=same\nNEW="a\\nb"\n', people.owner)
    assert staged_diff(api) == [Change("DROP", "removed"), Change("NEW", "added")]
    apply_staged(api)
    assert current_values(api) == {"KEEP": "same", "NEW": "a\nb"}


def test_broken_env_text_stages_nothing(api, people):
    with pytest.raises(ValidationError) as error:
        stage_env_text(api, "GOOD=1\n1BAD=secretvalue\n", people.owner)
    assert "line 2" in str(error.value)
    assert "secretvalue" not in str(error.value)
    assert StagedChange.objects.count() == 0


def test_reveal_is_recorded(api, people):
    stage(api, "TOKEN", "abc", people.owner)
    apply_staged(api)
    from projects.models import VariableReveal

    assert reveal(Variable.objects.get(key="TOKEN"), people.admin) == "abc"
    record = VariableReveal.objects.get()
    assert (record.user_email, record.key, record.owner_type) == (
        "admin@a.example", "TOKEN", "service"
    )


def test_error_reports_hide_plaintext_values(api, people, rf, monkeypatch):
    """A crash while handling a value (in a log or on an error page) shows no plaintext."""
    import sys

    from django.views.debug import ExceptionReporter

    def crash(self, *args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(StagedChange, "save", crash)
    try:
        stage(api, "TOKEN", "s3cr3t-in-a-crash", people.owner)
    except RuntimeError:
        reporter = ExceptionReporter(rf.get("/"), *sys.exc_info())
    else:
        raise AssertionError("staging did not crash")
    frames = [f for f in reporter.get_traceback_frames()
              if f["filename"].endswith("projects/variables.py")]
    assert {f["function"] for f in frames} >= {"stage", "_stage"}
    for frame in frames:  # the panel's frames: what an error page or log would show of them
        shown = " ".join(f"{name}={value}" for name, value in frame["vars"])
        assert "s3cr3t-in-a-crash" not in shown, frame["function"]


RESERVED = [
    ("PM2_HOME", "PM2 uses it"),  # a pm2_ prefix, whatever the case
    ("pm_exec_path", "PM2 uses it"),  # a field of PM2's process record
    ("cwd", "PM2 uses it"),
    ("script", "PM2 uses it"),  # an option of the installed pm2 (lib/API/schema.json)
    ("PAAS_DEPLOYMENT_ID", "set by the platform"),
]


@pytest.mark.parametrize("key, reason", RESERVED)
def test_a_reserved_key_is_refused_naming_it_and_nothing_is_staged(api, people, key, reason):
    with pytest.raises(ValidationError) as error:
        stage(api, key, "/tmp/elsewhere", people.owner)
    [message] = error.value.messages
    assert message.startswith(f"{key} is reserved: ") and reason in message
    assert "/tmp/elsewhere" not in str(error.value)
    assert StagedChange.objects.count() == 0


def test_names_close_to_reserved_ones_are_the_users(api, people):
    for key in ("PORT", "CWD_OVERRIDE", "MY_PM2_HOME", "NAME", "PAAS", "paas_flag"):
        stage(api, key, "v", people.owner)
    assert apply_staged(api) == 6


def test_a_reserved_key_stored_before_may_still_be_deleted(api, people):
    """What an older version accepted breaks every deploy: its removal is not refused."""
    legacy = Variable(service=api, key="PM2_HOME")
    legacy.set_value("/tmp/elsewhere")
    legacy.save()
    stage(api, "PM2_HOME", None, people.owner)
    apply_staged(api)
    assert current_values(api) == {}


def test_env_text_with_one_reserved_key_is_refused_whole(api, people):
    stage(api, "KEEP", "same", people.owner)
    apply_staged(api)
    with pytest.raises(ValidationError) as error:
        stage_env_text(api, "KEEP=changed\nNEW=1\nPM2_HOME=/tmp/elsewhere\n", people.owner)
    assert error.value.messages == ["PM2_HOME is reserved: PM2 uses it to run the service."]
    assert StagedChange.objects.count() == 0
    assert current_values(api) == {"KEEP": "same"}
