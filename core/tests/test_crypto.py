"""Stored secrets: AES-256-GCM against Wycheproof, the keyring, and binding to the owner (§7)."""

import base64
import json
import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from conftest import FIXTURES
from core import crypto
from core.crypto import (
    DecryptionError,
    Keyring,
    KeyringError,
    generate_key_entry,
)
from deployments.models import Deployment
from deployments.snapshots import read_snapshot, store_snapshot
from projects.models import Environment, Project, Service, StagedChange, Variable
from projects.services import create_project, create_service

WYCHEPROOF = FIXTURES / "wycheproof-aes_gcm_test.json"
SECRET = "s3cr3t-Value-that-must-not-leak"


def wycheproof_vectors() -> list[dict]:
    """Every vector of the groups with the parameters the project uses: 96-bit IV, 128-bit tag
    (all key sizes: the vectors test the AES-GCM primitive)."""
    suite = json.loads(WYCHEPROOF.read_text())
    assert suite["algorithm"] == "AES-GCM"
    return [
        {**test, "keySize": group["keySize"]}
        for group in suite["testGroups"]
        if group["ivSize"] == 96 and group["tagSize"] == 128
        for test in group["tests"]
    ]


VECTORS = wycheproof_vectors()


def unhex(vector: dict, field: str) -> bytes:
    return bytes.fromhex(vector[field])


def test_wycheproof_vectors_are_present():
    valid = [v for v in VECTORS if v["result"] == "valid"]
    invalid = [v for v in VECTORS if v["result"] == "invalid"]
    through_keyring = [v for v in VECTORS if v["keySize"] == 256]
    print(f"Wycheproof AES-GCM, 96-bit IV and 128-bit tag: {len(VECTORS)} vectors "
          f"({len(valid)} valid, {len(invalid)} invalid), {len(through_keyring)} through Keyring")
    assert len(VECTORS) > 0 and len(valid) > 0 and len(invalid) > 0 and len(through_keyring) > 0
    assert {v["result"] for v in VECTORS} == {"valid", "invalid"}  # no "acceptable" ones here
    # What C2SP/wycheproof testvectors_v1/aes_gcm_test.json holds: a filter that drops vectors
    # by mistake shows here.
    assert (len(VECTORS), len(valid), len(invalid), len(through_keyring)) == (197, 116, 81, 66)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['keySize']}-tc{v['tcId']}")
def test_wycheproof_with_aesgcm_as_the_keyring_calls_it(vector):
    cipher = AESGCM(unhex(vector, "key"))
    nonce, sealed = unhex(vector, "iv"), unhex(vector, "ct") + unhex(vector, "tag")
    if vector["result"] == "valid":
        assert cipher.decrypt(nonce, sealed, unhex(vector, "aad")) == unhex(vector, "msg")
        # And the other way: the same nonce seals the message to the same bytes.
        assert cipher.encrypt(nonce, unhex(vector, "msg"), unhex(vector, "aad")) == sealed
    else:
        with pytest.raises(InvalidTag):
            cipher.decrypt(nonce, sealed, unhex(vector, "aad"))


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if v["keySize"] == 256], ids=lambda v: f"tc{v['tcId']}"
)
def test_wycheproof_through_the_keyring_decrypt_path(vector):
    """The project's own path: token `<key id>:` + iv + ct + tag, parsed by crypto.split."""
    ring = Keyring([("wp", unhex(vector, "key"))])
    token = b"wp:" + unhex(vector, "iv") + unhex(vector, "ct") + unhex(vector, "tag")
    assert crypto.split(token) == (
        "wp", unhex(vector, "iv"), unhex(vector, "ct") + unhex(vector, "tag")
    )
    if vector["result"] == "valid":
        assert ring.decrypt(token, unhex(vector, "aad")) == unhex(vector, "msg")
    else:
        with pytest.raises(DecryptionError):
            ring.decrypt(token, unhex(vector, "aad"))


# --- the keyring -----------------------------------------------------------------------------


def entry_key(entry: str) -> str:
    return entry.partition(":")[2]


def test_fresh_nonce_per_encryption_and_key_id_in_every_token():
    ring = Keyring.parse(generate_key_entry("k7"))
    tokens = [ring.encrypt(b"same plaintext", b"ad") for _ in range(50)]
    assert len(set(tokens)) == 50
    assert len({crypto.split(token)[1] for token in tokens}) == 50  # the nonces differ
    for token in tokens:
        assert token.startswith(b"k7:")
        assert crypto.key_id_of(token) == "k7"
        assert len(token) == len(b"k7:") + 12 + len(b"same plaintext") + 16
        assert b"same plaintext" not in token
        assert ring.decrypt(token, b"ad") == b"same plaintext"


def test_first_key_encrypts_and_every_key_decrypts():
    old, new = generate_key_entry("old"), generate_key_entry("new")
    made_by_old = Keyring.parse(old).encrypt(b"value", b"ad")
    both = Keyring.parse(f"{new},{old}")
    assert both.key_ids == ["new", "old"]
    assert both.decrypt(made_by_old, b"ad") == b"value"
    assert not both.is_current(made_by_old)
    made_by_both = both.encrypt(b"value", b"ad")
    assert made_by_both.startswith(b"new:") and both.is_current(made_by_both)
    with pytest.raises(DecryptionError):  # the old ring alone has not got `new`
        Keyring.parse(old).decrypt(made_by_both, b"ad")


def test_unknown_key_id_is_refused():
    token = Keyring.parse(generate_key_entry("gone")).encrypt(b"value", b"ad")
    with pytest.raises(DecryptionError, match="not configured"):
        Keyring.parse(generate_key_entry("other")).decrypt(token, b"ad")


def test_a_key_with_the_same_id_but_other_bytes_is_refused():
    token = Keyring.parse(generate_key_entry("k1")).encrypt(b"value", b"ad")
    with pytest.raises(DecryptionError):
        Keyring.parse(generate_key_entry("k1")).decrypt(token, b"ad")


def test_one_flipped_bit_anywhere_is_refused():
    ring = Keyring.parse(generate_key_entry("k1"))
    token = ring.encrypt(b"short", b"ad")
    flips = 0
    for position in range(len(token)):
        for bit in range(8):
            altered = bytearray(token)
            altered[position] ^= 1 << bit
            with pytest.raises(DecryptionError):
                ring.decrypt(bytes(altered), b"ad")
            flips += 1
    assert flips == len(token) * 8
    assert ring.decrypt(token, b"ad") == b"short"


def test_other_associated_data_or_truncation_is_refused():
    ring = Keyring.parse(generate_key_entry("k1"))
    token = ring.encrypt(b"value", b"ad")
    for bad in [token[:-1], token + b"\0", token[:3], b"k1", b"", b"no separator at all" * 3]:
        with pytest.raises(DecryptionError):
            ring.decrypt(bad, b"ad")
    with pytest.raises(DecryptionError):
        ring.decrypt(token, b"ae")


def test_associated_data_encoding_is_fixed():
    """Stored values are bound to exactly these bytes: changing the encoding loses them all."""
    assert crypto.associated_data("ws_team_a", "variable:service", 7, "KEY") == (
        b"\x00\x00\x00\x09ws_team_a" b"\x00\x00\x00\x10variable:service" b"\x00\x00\x00\x017"
        b"\x00\x00\x00\x03KEY"
    )
    assert crypto.associated_data("s", "t", "id", "é") == (
        b"\x00\x00\x00\x01s\x00\x00\x00\x01t\x00\x00\x00\x02id\x00\x00\x00\x02\xc3\xa9"
    )


def test_associated_data_fields_cannot_bleed_into_each_other():
    assert crypto.associated_data("ab", "c", 1, "k") != crypto.associated_data("a", "bc", 1, "k")
    assert crypto.associated_data("s", "t", 12, "k") != crypto.associated_data("s", "t", 1, "2k")


@pytest.mark.parametrize(
    "setting, problem",
    [
        ("", "no key"),
        (" , ,", "no key"),
        ("k1:{key}!", "not valid base64"),  # a stray character is not dropped silently
        ("k1:{key}$$", "not valid base64"),
        ("k1:not base64 at all", "not valid base64"),
        ("k1:{short}", "needs 32"),
        ("k1:{long}", "needs 32"),
        ("k1:{key},k1:{other}", "twice"),
        ("k1:{key},k1:{key}", "twice"),
        ("{key}", "not `id:base64key`"),  # the id forgotten: the key must not be echoed
        ("k1:", "not `id:base64key`"),
        ("bad id!:{key}", "not `id:base64key`"),
    ],
)
def test_malformed_setting_is_refused_without_echoing_the_key(setting, problem):
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    other = base64.urlsafe_b64encode(os.urandom(32)).decode()
    short = base64.urlsafe_b64encode(os.urandom(16)).decode()
    long = base64.urlsafe_b64encode(os.urandom(48)).decode()
    text = setting.format(key=key, other=other, short=short, long=long)
    with pytest.raises(KeyringError, match=problem) as refused:
        Keyring.parse(text)
    message = str(refused.value)
    for material in (key, other, short, long):
        assert material not in message
        assert material.rstrip("=")[:16] not in message


def test_both_base64_alphabets_and_missing_padding_are_accepted():
    raw = bytes(range(250, 256)) * 5 + b"\xfb\xff"  # encodes with - and _ (or + and /)
    urlsafe, standard = base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode()
    assert urlsafe != standard
    token = Keyring.parse(f"a:{urlsafe}").encrypt(b"v", b"ad")
    assert Keyring.parse(f"a:{standard}").decrypt(token, b"ad") == b"v"
    assert Keyring.parse(f"a:{urlsafe.rstrip('=')}").decrypt(token, b"ad") == b"v"


def test_generate_key_entry_makes_a_valid_entry():
    entry = generate_key_entry("2025-01_a")
    ring = Keyring.parse(entry)
    assert ring.key_ids == ["2025-01_a"]
    assert entry_key(generate_key_entry("x")) != entry_key(generate_key_entry("x"))
    with pytest.raises(KeyringError):
        generate_key_entry("no:colons")


# --- values bound to their owner -------------------------------------------------------------


def make_service(name: str = "web", project: str = "Shop") -> Service:
    environment = create_project(project).environments.get(name=Environment.PRODUCTION)
    return create_service(environment, name)


def assert_refused_without_leaking(variable: Variable, *secrets: str) -> None:
    with pytest.raises(DecryptionError) as refused:
        variable.decrypt()
    message = str(refused.value)
    for secret in secrets:
        assert secret not in message
    for entry in settings.PAAS_ENCRYPTION_KEYS.split(","):
        encoded = entry_key(entry)
        raw = base64.urlsafe_b64decode(encoded)
        assert encoded not in message and encoded.rstrip("=")[:12] not in message
        assert raw.hex() not in message and repr(raw) not in message


@pytest.fixture
def test_keys():
    with override_settings(PAAS_ENCRYPTION_KEYS=generate_key_entry("t1")):
        yield


def test_variable_round_trips_and_is_stored_encrypted(people, test_keys):
    with tenant_context(people.workspace_a):
        service = make_service()
        variable = Variable(service=service, key="DATABASE_URL")
        variable.set_value(SECRET)
        variable.save()
        stored = bytes(Variable.objects.get(pk=variable.pk).ciphertext)
        assert stored.startswith(b"t1:") and SECRET.encode() not in stored
        assert Variable.objects.get(pk=variable.pk).decrypt() == SECRET


def test_ciphertext_swapped_between_rows_is_refused(people, test_keys):
    with tenant_context(people.workspace_a):
        service = make_service()
        first = Variable(service=service, key="FIRST")
        first.set_value(SECRET)
        second = Variable(service=service, key="SECOND")
        second.set_value("another value")
        Variable.objects.bulk_create([first, second])
        first_token, second_token = bytes(first.ciphertext), bytes(second.ciphertext)
        Variable.objects.filter(pk=first.pk).update(ciphertext=second_token)
        Variable.objects.filter(pk=second.pk).update(ciphertext=first_token)
        assert_refused_without_leaking(Variable.objects.get(pk=first.pk), SECRET, "another value")
        assert_refused_without_leaking(Variable.objects.get(pk=second.pk), SECRET, "another value")


def test_ciphertext_moved_to_another_key_name_or_owner_is_refused(people, test_keys):
    with tenant_context(people.workspace_a):
        service = make_service()
        other_service = Service.objects.create(environment=service.environment, name="worker")
        original = Variable(service=service, key="TOKEN")
        original.set_value(SECRET)
        original.save()
        token = bytes(original.ciphertext)
        renamed = Variable.objects.create(service=service, key="TOKEN2", ciphertext=token)
        assert_refused_without_leaking(renamed, SECRET)
        same_key_other_service = Variable.objects.create(
            service=other_service, key="TOKEN", ciphertext=token
        )
        assert_refused_without_leaking(same_key_other_service, SECRET)
        shared = Variable.objects.create(
            environment=service.environment, key="TOKEN", ciphertext=token
        )
        assert_refused_without_leaking(shared, SECRET)
        # A staged change of the same owner and key is another purpose.
        staged = StagedChange.objects.create(
            service=service, key="TOKEN", action=StagedChange.SET, ciphertext=token
        )
        with pytest.raises(DecryptionError):
            staged.decrypt()
        assert Variable.objects.get(pk=original.pk).decrypt() == SECRET


def test_ciphertext_copied_to_another_workspace_is_refused(people, test_keys):
    with tenant_context(people.workspace_a):
        service = make_service()
        original = Variable(service=service, key="TOKEN")
        original.set_value(SECRET)
        original.save()
        token = bytes(original.ciphertext)
        environment = service.environment
        project = environment.project
    with tenant_context(people.workspace_b):
        # The same project, environment, service and key in B, with the same ids: only the
        # schema differs.
        copy_project = Project.objects.create(pk=project.pk, name=project.name)
        copy_environment = Environment.objects.create(
            pk=environment.pk, project=copy_project, name=environment.name
        )
        copy_service = Service.objects.create(
            pk=service.pk, environment=copy_environment, name=service.name
        )
        assert connection.schema_name == people.workspace_b.schema_name
        copy = Variable.objects.create(service=copy_service, key="TOKEN", ciphertext=token)
        assert_refused_without_leaking(copy, SECRET)
        own = Variable(service=copy_service, key="OWN")
        own.set_value("b's value")
        own.save()
        assert Variable.objects.get(pk=own.pk).decrypt() == "b's value"


# --- deployment snapshots --------------------------------------------------------------------


def test_deployment_snapshot_round_trips_and_does_not_move(people, test_keys):
    values = {"DATABASE_URL": SECRET, "EMPTY": "", "UNICODE": "é ✓ 漢字", "PORT": "8080"}
    with tenant_context(people.workspace_a):
        service = make_service()
        first = Deployment.objects.create(service=service, number=1)
        second = Deployment.objects.create(service=service, number=2)
        assert read_snapshot(first) == {}
        store_snapshot(first, values)
        stored = Deployment.objects.get(pk=first.pk)
        assert SECRET.encode() not in bytes(stored.variables_snapshot)
        assert bytes(stored.variables_snapshot).startswith(b"t1:")
        assert read_snapshot(stored) == values
        Deployment.objects.filter(pk=second.pk).update(
            variables_snapshot=stored.variables_snapshot
        )
        with pytest.raises(DecryptionError) as refused:
            read_snapshot(Deployment.objects.get(pk=second.pk))
        assert SECRET not in str(refused.value)
        assert read_snapshot(Deployment.objects.get(pk=first.pk)) == values
