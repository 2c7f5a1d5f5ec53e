"""What a custom domain's DNS should say, and whether it says it.

- `records` is the record a team creates: a CNAME to the service's generated domain for a
  subdomain (`shop.example.com`) or a wildcard, A/AAAA records to PAAS_PUBLIC_ADDRESSES for
  an apex domain (`example.com`, found with the Public Suffix List: `example.co.uk` is one),
  which cannot hold a CNAME (an ALIAS/ANAME to the generated domain when no address is set).
- `check` looks the name up and says `verified` (its CNAME chain reaches the generated
  domain, or every address it has is one of ours) or `misconfigured` (saying what it found),
  or cannot tell (the look-up failed: try again).

The resolver is the class PAAS_DNS_RESOLVER names: SystemResolver (the machine's resolver,
through getaddrinfo, with a time limit: no library and no DNS server of the panel's own) in
production, a fake in tests, which never query DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from publicsuffixlist import PublicSuffixList

from hosting.hostnames import WILDCARD

TIMEOUT_SECONDS = 5.0
VERIFIED, MISCONFIGURED = "verified", "misconfigured"
# A wildcard is checked through a name it covers.
WILDCARD_PROBE = "paas-check"
NOT_FOUND = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


class LookupFailed(Exception):
    """The resolver gave no answer (a timeout, a failing server): nothing is known."""


@dataclass(frozen=True)
class Answer:
    """Where a name's CNAMEs lead (`canonical`: the name itself without one) and the
    addresses it has (none: no such name, or no address records)."""

    canonical: str
    addresses: tuple[str, ...] = ()


class Resolver(Protocol):
    def lookup(self, hostname: str) -> Answer: ...


class SystemResolver:
    """The machine's resolver (/etc/resolv.conf, /etc/hosts), as getaddrinfo asks it, with
    AI_CANONNAME for the end of the CNAME chain. A look-up past TIMEOUT_SECONDS fails."""

    _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dns")

    def lookup(self, hostname: str) -> Answer:
        future = self._pool.submit(socket.getaddrinfo, hostname, None, 0, socket.SOCK_STREAM,
                                   0, socket.AI_CANONNAME)
        try:
            infos = future.result(timeout=TIMEOUT_SECONDS)
        except FutureTimeout:
            raise LookupFailed("the look-up timed out") from None
        except socket.gaierror as error:
            if error.errno in NOT_FOUND:
                return Answer(hostname)
            raise LookupFailed(error.strerror or str(error)) from None
        canonical = next((info[3] for info in infos if info[3]), hostname)
        addresses = sorted({str(info[4][0]).split("%")[0] for info in infos})
        return Answer(canonical.rstrip(".").lower(), tuple(addresses))


def get_resolver() -> Resolver:
    return import_string(settings.PAAS_DNS_RESOLVER)()


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def is_public_suffix(hostname: str) -> bool:
    """Whether `hostname` is a suffix under which anyone may register names (`com`,
    `co.uk`, `github.io`): no team's domain."""
    return _suffixes().is_public(hostname.removeprefix(f"{WILDCARD}."))


def registrable(hostname: str) -> str:
    """The domain registered under a public suffix (panel.example.com → example.com)."""
    return _suffixes().privatesuffix(hostname) or hostname


def is_apex(hostname: str) -> bool:
    """Whether `hostname` is a registered domain itself (`example.com`, `example.co.uk`),
    where DNS allows no CNAME."""
    return (not hostname.startswith(f"{WILDCARD}.")
            and _suffixes().privatesuffix(hostname) == hostname)


@dataclass(frozen=True)
class Record:
    type: str  # CNAME, A, AAAA or ALIAS
    name: str
    value: str


def records(hostname: str, target: str, addresses: Sequence[str]) -> list[Record]:
    """The DNS records that send `hostname` to the service whose generated domain is
    `target`."""
    if not is_apex(hostname):
        return [Record("CNAME", hostname, target)]
    if not addresses:
        return [Record("ALIAS", hostname, target)]
    return [Record("AAAA" if ipaddress.ip_address(address).version == 6 else "A", hostname,
                   address) for address in addresses]


@dataclass(frozen=True)
class Finding:
    status: str | None  # VERIFIED, MISCONFIGURED, or None: could not tell
    found: str


def check(hostname: str, target: str, addresses: Sequence[str],
          resolver: Resolver) -> Finding:
    """Whether `hostname` reaches this platform: its CNAMEs lead to `target`, or all its
    addresses are `addresses` (those `target` has, when none are set)."""
    name = hostname.replace(WILDCARD, WILDCARD_PROBE, 1)
    try:
        answer = resolver.lookup(name)
    except LookupFailed as error:
        return Finding(None, f"The DNS look-up of {name} failed ({error}); try again.")
    if not answer.addresses and answer.canonical in (name, ""):
        return Finding(MISCONFIGURED, f"No DNS record for {name} yet.")
    if answer.canonical == target:
        return Finding(VERIFIED, f"{name} is a CNAME to {target}.")
    expected = {str(ipaddress.ip_address(address)) for address in addresses}
    if not expected:
        try:
            expected = set(resolver.lookup(target).addresses)
        except LookupFailed:
            expected = set()
    found = set(answer.addresses)
    via = f" through {answer.canonical}" if answer.canonical not in (name, "") else ""
    shown = ", ".join(sorted(found)) or "no address"
    if found and expected and found <= expected:
        return Finding(VERIFIED, f"{name} resolves{via} to {shown}, this platform's.")
    wanted = f"a CNAME to {target}"
    if expected:
        wanted += f" or addresses {', '.join(sorted(expected))}"
    return Finding(MISCONFIGURED, f"{name} resolves{via} to {shown}; expected {wanted}.")
