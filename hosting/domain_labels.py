"""The labels of generated domains: `<label>.PAAS_APPS_DOMAIN`, one DNS label each.

The readable label is `<service>[-<environment>]-<workspace slug>`, and
`pr-<number>-<service>-<workspace slug>` for a pull request's preview. Hyphens join the parts
and may also occur inside them, so two (service, workspace) pairs can read the same
(`zalpha` in `api-seca` and `zalpha-api` in `seca`): a label is therefore never derived
again, it is reserved once (hosting.models.GeneratedDomain, unique), and a pair whose
readable label is taken, or too long, gets a short random suffix instead.

Pure functions, no models: the migration that reserved the first labels uses them too.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

MAX_LABEL_LENGTH = 63  # RFC 1035: one DNS label
SUFFIX_LENGTH = 5  # 36**5: about 60 million suffixes for each readable label
SUFFIX_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def readable_label(service: str, environment: str | None, slug: str) -> str:
    """`<service>[-<environment>]-<slug>`; `environment` None for production. May be longer
    than a DNS label allows (see candidate_labels)."""
    parts = [service, environment, slug] if environment else [service, slug]
    return "-".join(parts)


def preview_label(number: int, service: str, slug: str) -> str:
    """`pr-<number>-<service>-<slug>`: the readable label of a service of a pull request's
    preview environment (see candidate_labels for the length)."""
    return f"pr-{number}-{service}-{slug}"


def suffixed_label(readable: str) -> str:
    """`readable` (cut to fit) with a random suffix: `<readable>-<5 base36 characters>`."""
    suffix = "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))
    base = readable[: MAX_LABEL_LENGTH - SUFFIX_LENGTH - 1].rstrip("-")
    return f"{base}-{suffix}"


def candidate_labels(readable: str, attempts: int) -> Iterator[str]:
    """The labels to try in turn: the readable one when it fits, then suffixed ones."""
    if len(readable) <= MAX_LABEL_LENGTH:
        yield readable
    for _ in range(attempts):
        yield suffixed_label(readable)
