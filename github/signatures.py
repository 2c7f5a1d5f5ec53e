"""GitHub's webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
body, keyed with the webhook's secret>`, checked in constant time before anything parses the
body."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def signature(secret: str, body: bytes) -> str:
    """The header value GitHub sends for `body` signed with `secret`."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` with `secret`. A missing or malformed
    header, or an empty secret, is never valid."""
    if not secret or not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())
