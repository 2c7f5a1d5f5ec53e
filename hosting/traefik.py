"""Traefik's dynamic configuration, drawn from the routing table: a pure function of the rows
it is given (no queries, no settings), so that every configuration it can produce is tested
against Traefik v3's schema.

- Each Route row (hostname → "addr:port[,addr:port]") becomes a service (its upstreams, in
  turn) and its routers. A wildcard hostname (`*.example.com`, matching one label) becomes a
  `HostRegexp` built from its checked labels, escaped, at the lowest priority, so that a
  router of an exact name below it still wins.
- The panel's domain and each workspace's subdomain go to the panel's web process, with the
  security headers middleware. WebSockets (the live logs) need nothing of their own: Traefik
  passes an Upgrade request through any HTTP router.
- With TLS: `websecure` routers with a certificate from the `letsencrypt` resolver (one per
  hostname, as the HTTP challenge gives them), and `web` routers that redirect to HTTPS.
  Without: `web` routers only.

Nothing reaches a rule unless hosting.hostnames.is_hostname says it is a hostname in its one
normalised form, and no upstream reaches a server URL unless it is an address and a port: a
row that is not (the database may hold what an older version accepted) is left out, and
logged. Router and service names are the hostname's letters and digits with a hash of the
whole, so two hostnames never share one and no name carries Traefik's `@`.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from hosting.hostnames import LABEL, WILDCARD, is_hostname, is_within

logger = logging.getLogger(__name__)

WEB, WEBSECURE = "web", "websecure"
CERT_RESOLVER = "letsencrypt"
# Let's Encrypt gives wildcard certificates through a DNS challenge only: a resolver of its
# own, which an operator who allows wildcard domains defines (platform/traefik/traefik.yml).
WILDCARD_CERT_RESOLVER = "letsencrypt-dns"
REDIRECT = "redirect-to-https"
PANEL_HEADERS = "panel-headers"
PANEL_SERVICE = "panel"
HSTS_SECONDS = 31536000
# Below every exact name's router (whose priority is its rule's length, at least 10).
WILDCARD_PRIORITY = 1
# One label, as a regular expression (what `*` stands for in a wildcard hostname).
ANY_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
UPSTREAM = re.compile(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")
NAME_PART = 40
# Names and upstreams are checked (and their rules, names and URLs made) once per process: a
# string's answer never changes, and Traefik asks every few seconds about the same ones.
CHECKED_NAMES = 100_000
_LOGGED: set[str] = set()


@dataclass(frozen=True)
class Panel:
    """Where the panel is: its domain, its workspaces' subdomains, its web process."""

    domain: str
    upstream: str  # http://127.0.0.1:8000
    workspace_hostnames: tuple[str, ...] = ()


def render(routes: Iterable[tuple[str, str]], panel: Panel, *, tls: bool) -> dict:
    """The whole dynamic configuration for (hostname, upstream) rows and the panel."""
    routers: dict[str, dict] = {}
    services: dict[str, dict] = {}
    middlewares: dict[str, dict] = {PANEL_HEADERS: {"headers": security_headers(tls)}}
    if tls:
        middlewares[REDIRECT] = {"redirectScheme": {"scheme": "https", "permanent": True}}

    services[PANEL_SERVICE] = {"loadBalancer": {"servers": [{"url": panel.upstream}]}}
    panel_names = {panel.domain, *panel.workspace_hostnames}
    for hostname in sorted(panel_names):
        if not checked(hostname, wildcard=False):
            _left_out(f"panel hostname {hostname[:100]!r} (not a hostname)")
            continue
        routers.update(routers_for(hostname, name("panel", hostname), PANEL_SERVICE, tls=tls,
                                   middlewares=[PANEL_HEADERS]))

    for hostname, upstream in routes:
        if not checked(hostname, wildcard=True):
            _left_out(f"route {str(hostname)[:100]!r} (not a hostname)")
            continue
        if is_within(hostname, panel.domain) or hostname in panel_names:
            _left_out(f"route {hostname} (on the panel's domain)")
            continue
        urls = server_urls(upstream) if isinstance(upstream, str) else None
        if urls is None:
            _left_out(f"route {hostname} (upstream {str(upstream)[:100]!r} is not "
                      "address:port)")
            continue
        service = name("app", hostname)
        services[service] = {"loadBalancer": {"servers": [{"url": url} for url in urls]}}
        routers.update(routers_for(hostname, service, service, tls=tls))

    return {"http": {"routers": routers, "services": services, "middlewares": middlewares}}


def _left_out(what: str) -> None:
    """Log a row left out, once per process (Traefik asks again every few seconds)."""
    if what in _LOGGED:
        return
    if len(_LOGGED) >= CHECKED_NAMES:
        _LOGGED.clear()
    _LOGGED.add(what)
    logger.warning("Traefik configuration: %s left out", what)


def dumps(configuration: dict) -> bytes:
    """The configuration as the endpoint sends it: the same bytes for the same rows."""
    return json.dumps(configuration, sort_keys=True, separators=(",", ":")).encode()


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def routers_for(hostname: str, prefix: str, service: str, *, tls: bool,
                middlewares: list[str] | None = None) -> dict[str, dict]:
    """`<prefix>-https` on websecure and `<prefix>-http` redirecting to it (with TLS), or
    `<prefix>-http` serving (without)."""
    base = {"rule": rule(hostname), "service": service}
    if hostname.startswith(f"{WILDCARD}."):
        base["priority"] = WILDCARD_PRIORITY
    if not tls:
        return {f"{prefix}-http": {**base, "entryPoints": [WEB],
                                   **({"middlewares": middlewares} if middlewares else {})}}
    secure_tls: dict = {"certResolver": CERT_RESOLVER}
    if hostname.startswith(f"{WILDCARD}."):
        secure_tls = {"certResolver": WILDCARD_CERT_RESOLVER, "domains": [{"main": hostname}]}
    return {
        f"{prefix}-https": {**base, "entryPoints": [WEBSECURE], "tls": secure_tls,
                            **({"middlewares": middlewares} if middlewares else {})},
        f"{prefix}-http": {**base, "entryPoints": [WEB], "middlewares": [REDIRECT]},
    }


@functools.lru_cache(maxsize=CHECKED_NAMES)
def rule(hostname: str) -> str:
    """`Host(`name`)`, or for `*.example.com` a HostRegexp of one label and the escaped rest.
    Only for a hostname `checked` accepted."""
    if hostname.startswith(f"{WILDCARD}."):
        labels = hostname.split(".")[1:]
        if not all(LABEL.fullmatch(label) for label in labels):  # checked already; twice sure
            raise ValueError("not a checked hostname")
        pattern = "^" + ANY_LABEL + "".join(r"\." + re.escape(label) for label in labels) + "$"
        return f"HostRegexp(`{pattern}`)"
    if not all(LABEL.fullmatch(label) for label in hostname.split(".")):
        raise ValueError("not a checked hostname")
    return f"Host(`{hostname}`)"


@functools.lru_cache(maxsize=CHECKED_NAMES)
def name(kind: str, hostname: str) -> str:
    """`<kind>-<letters and digits of the hostname>-<hash>`: unique per hostname, safe as a
    Traefik name."""
    readable = re.sub(r"[^a-z0-9]+", "-", hostname.lower()).strip("-")[:NAME_PART].strip("-")
    digest = hashlib.sha256(hostname.encode()).hexdigest()[:10]
    return f"{kind}-{readable}-{digest}" if readable else f"{kind}-{digest}"


@functools.lru_cache(maxsize=CHECKED_NAMES)
def checked(hostname: object, *, wildcard: bool) -> bool:
    """hosting.hostnames.is_hostname, remembered."""
    return is_hostname(hostname, allow_wildcard=wildcard)


@functools.lru_cache(maxsize=CHECKED_NAMES)
def server_urls(upstream: str) -> tuple[str, ...] | None:
    """`http://addr:port` of each comma-separated `addr:port` (IPv4, [IPv6] or a host name),
    or None when one is not that."""
    urls = []
    for part in upstream.split(","):
        match = UPSTREAM.fullmatch(part.strip())
        if match is None:
            return None
        address, port = match.group(1), int(match.group(2))
        if not 0 < port < 65536 or not _is_address(address):
            return None
        urls.append(f"http://{address}:{port}")
    return tuple(urls)


def _is_address(address: str) -> bool:
    if address.startswith("["):
        try:
            ipaddress.IPv6Address(address[1:-1])
        except ValueError:
            return False
        return True
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        # A host's name: one label (a machine on the private network) or a full hostname.
        return bool(LABEL.fullmatch(address)) or checked(address, wildcard=False)
    return True


def security_headers(tls: bool) -> dict:
    """What the panel's pages are served with (Django sets them too; the proxy makes sure)."""
    headers: dict = {"frameDeny": True, "contentTypeNosniff": True,
                     "referrerPolicy": "same-origin"}
    if tls:
        headers.update(stsSeconds=HSTS_SECONDS, stsIncludeSubdomains=True, stsPreload=True)
    return headers
