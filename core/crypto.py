"""AES-256-GCM for stored secrets, with a keyring that rotates (DESIGN.md §7).

A stored value is `<key id>:` followed by a random 96-bit nonce and the ciphertext with its
128-bit tag. The associated data binds it to its owner (schema, object type and id, name): a
ciphertext copied to another row, variable or workspace does not decrypt.

PAAS_ENCRYPTION_KEYS lists `id:base64(32 bytes)` entries separated by commas, newest first.
The first key encrypts; every key decrypts. Errors never include key material or values.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

NONCE_BYTES = 12
KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
SEPARATOR = b":"
URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")


class KeyringError(ValueError):
    """PAAS_ENCRYPTION_KEYS is malformed. The message names the entry, never the key."""


class DecryptionError(Exception):
    """A value did not decrypt: tampered, moved to another owner, or its key is gone."""


class Keyring:
    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise KeyringError("PAAS_ENCRYPTION_KEYS holds no key.")
        self.primary_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}
        self._ciphers_by_prefix = {
            key_id.encode() + SEPARATOR: cipher for key_id, cipher in self._ciphers.items()
        }
        self._primary_prefix = self.primary_id.encode() + SEPARATOR

    @classmethod
    def parse(cls, setting: str) -> Keyring:
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(setting.split(","), start=1):
            entry = entry.strip()
            if not entry:
                continue
            key_id, _, encoded = entry.partition(":")
            if not KEY_ID.match(key_id) or not encoded:
                raise KeyringError(
                    f"PAAS_ENCRYPTION_KEYS entry {position} is not `id:base64key` "
                    "(id: letters, digits, _ or -)."
                )
            try:
                # Strict: the default decoder silently drops characters outside the alphabet,
                # so a mangled entry could pass. Either alphabet (URL-safe or standard).
                key = base64.b64decode(
                    encoded.translate(URLSAFE_TO_STANDARD) + "=" * (-len(encoded) % 4),
                    validate=True,
                )
            except (binascii.Error, ValueError):
                raise KeyringError(
                    f"PAAS_ENCRYPTION_KEYS key {key_id!r} is not valid base64."
                ) from None
            if len(key) != KEY_BYTES:
                raise KeyringError(
                    f"PAAS_ENCRYPTION_KEYS key {key_id!r} has {len(key)} bytes; AES-256 needs 32."
                )
            if any(existing == key_id for existing, _ in keys):
                raise KeyringError(f"PAAS_ENCRYPTION_KEYS names key {key_id!r} twice.")
            keys.append((key_id, key))
        return cls(keys)

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.primary_id].encrypt(nonce, plaintext, associated_data)
        return self.primary_id.encode() + SEPARATOR + nonce + sealed

    def decrypt(self, token: bytes, associated_data: bytes) -> bytes:
        key_id, nonce, sealed = split(token)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"the key {key_id!r} that encrypted this value is not configured")
        try:
            return cipher.decrypt(nonce, sealed, associated_data)
        except InvalidTag:
            raise DecryptionError("the value was altered or belongs to another owner") from None

    def decrypt_many(self, prefix: bytes, rows: Iterable[tuple[str, bytes]]) -> dict[str, str]:
        """{name: plaintext} for (name, token) rows whose associated data is `prefix` followed
        by the name's field: `decrypt` unrolled, for loading an owner's values at once."""
        ciphers = self._ciphers_by_prefix
        primary = self._primary_prefix
        primary_cipher, primary_end = ciphers[primary], len(primary)
        values = {}
        for name, token in rows:
            if type(token) is not bytes:
                token = bytes(token)
            if token.startswith(primary):  # most values: skip looking the key up
                cipher, key_id_end = primary_cipher, primary_end
            else:
                key_id_end = token.find(SEPARATOR) + 1
                cipher = ciphers.get(token[:key_id_end])
            if cipher is None or len(token) < key_id_end + NONCE_BYTES + 16:
                self.decrypt(token, prefix + _field(name))  # raises with the reason
            encoded = name.encode()
            data = prefix + len(encoded).to_bytes(4, "big") + encoded
            nonce_end = key_id_end + NONCE_BYTES
            try:
                plaintext = cipher.decrypt(token[key_id_end:nonce_end], token[nonce_end:], data)
            except InvalidTag:
                raise DecryptionError(
                    "the value was altered or belongs to another owner"
                ) from None
            values[name] = plaintext.decode()
        return values

    def is_current(self, token: bytes) -> bool:
        """Whether the value is encrypted under the newest key (rotation skips those)."""
        return key_id_of(token) == self.primary_id


def split(token: bytes) -> tuple[str, bytes, bytes]:
    token = bytes(token)
    key_id, separator, rest = token.partition(SEPARATOR)
    if not separator or len(rest) < NONCE_BYTES + 16:
        raise DecryptionError("the stored value is not an encrypted value")
    return key_id.decode("ascii", "replace"), rest[:NONCE_BYTES], rest[NONCE_BYTES:]


def key_id_of(token: bytes) -> str:
    return split(token)[0]


def _field(value: str) -> bytes:
    encoded = value.encode()
    return len(encoded).to_bytes(4, "big") + encoded


def associated_data_prefix(schema: str, object_type: str, object_id: int | str) -> bytes:
    """The owner part of the associated data, shared by all of one owner's values."""
    return _field(schema) + _field(object_type) + _field(str(object_id))


def associated_data(schema: str, object_type: str, object_id: int | str, name: str) -> bytes:
    """What a ciphertext is bound to. Fields are length-prefixed so none can bleed into another."""
    return associated_data_prefix(schema, object_type, object_id) + _field(name)


def decrypt_named(prefix: bytes, rows: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """{name: plaintext} for (name, token) rows of one owner whose associated data starts
    with `prefix` (the fast path for loading many values of one owner)."""
    return keyring().decrypt_many(prefix, rows)


@cache
def _keyring_for(setting: str) -> Keyring:
    return Keyring.parse(setting)


def keyring() -> Keyring:
    """The keyring of the current settings (parsed once per distinct setting)."""
    return _keyring_for(settings.PAAS_ENCRYPTION_KEYS)


def generate_key_entry(key_id: str) -> str:
    """A new `id:base64key` entry for PAAS_ENCRYPTION_KEYS."""
    if not KEY_ID.match(key_id):
        raise KeyringError("A key id is letters, digits, _ or -, at most 32 characters.")
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()}"
