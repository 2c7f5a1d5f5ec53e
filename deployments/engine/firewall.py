"""The host firewall's rules for the workspaces' users, and the part of them the panel keeps.

`ruleset()` is the nftables table of platform/nftables/paas.nft (`manage.py firewall` prints
or loads it). What it does, for packets sent by a workspace user (PAAS_WORKSPACE_UIDS):

- to an address of this host (loopback included): refused, except DNS and the ports of the
  user's own workspace, the set `workspace_ports` of (uid . port) pairs;
- to the panel's PostgreSQL and Redis, wherever they are, and to the cloud metadata address:
  refused;
- anything else (the internet, other hosts): allowed.

And for packets arriving at the apps' ports (PAAS_PORT_RANGE): only from this host and from
the registered hosts (their routers, the set `router_addresses`), never from anywhere else.

So an app reaches its own workspace's services (PAAS_PRIVATE_URL) and nothing of another
workspace or of the panel. `sync()` rewrites the set from the port table (hosting
PortAllocation) in one nft transaction; the engine calls it whenever ports are given or freed
and the monitor on each pass. Without nft, or without the table loaded, it does nothing (the
operators' admin and start-up say so: tenants.checks).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket
import subprocess
from urllib.parse import urlsplit

from django.conf import settings

from hosting.models import Host, PortAllocation
from tenants.models import Workspace

logger = logging.getLogger(__name__)
METADATA_ADDRESSES = ("169.254.169.254", "fd00:ec2::254")
SET = "workspace_ports"
ROUTERS = "router_addresses"


def nft() -> str | None:
    return shutil.which("nft") or next(
        (path for path in ("/usr/sbin/nft", "/sbin/nft") if os.access(path, os.X_OK)), None)


def _service_addresses() -> list[tuple[str, int]]:
    """(address, port) of the panel's PostgreSQL and Redis when they are reached over TCP."""
    found = []
    for url, default_port in ((settings.DATABASES["default"], 5432), (settings.REDIS_URL, 6379)):
        if isinstance(url, dict):
            host, port = url.get("HOST") or "", int(url.get("PORT") or default_port)
        else:
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port or default_port
        if not host or host.startswith("/") or urlsplit(str(url)).scheme == "unix":
            continue  # a Unix socket: its directory's mode keeps apps out
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            continue
        found += [(info[4][0], port) for info in infos]
    return sorted(set(found))


def ruleset(table: str | None = None, uids: tuple[int, int] | None = None,
            services: list[tuple[str, int]] | None = None,
            ports: tuple[int, int] | None = None) -> str:
    """The nftables table, for this host's settings (uid range, the panel's services, the
    apps' port range)."""
    first, last = uids or settings.PAAS_WORKSPACE_UIDS
    low, high = ports or settings.PAAS_PORT_RANGE
    rules = []
    for address in METADATA_ADDRESSES:
        family = "ip6" if ipaddress.ip_address(address).version == 6 else "ip"
        rules.append(f"{family} daddr {address} jump refuse")
    for address, port in _service_addresses() if services is None else services:
        family = "ip6" if ipaddress.ip_address(address).version == 6 else "ip"
        rules.append(f"{family} daddr {address} tcp dport {port} jump refuse")
    body = "\n".join(f"    {rule}" for rule in rules)
    return f"""table inet {table or settings.PAAS_FIREWALL_TABLE} {{
  # (uid . port): the ports of each workspace user's own deployments (kept by the panel)
  set {SET} {{
    type uid . inet_service
  }}

  # addresses of the hosts (their routers), the only other machines that reach the apps
  set {ROUTERS} {{
    type ipv4_addr
  }}
  set {ROUTERS}6 {{
    type ipv6_addr
  }}

  chain refuse {{
    meta l4proto tcp reject with tcp reset
    reject
  }}

  chain output {{
    type filter hook output priority filter; policy accept;
    meta skuid != {first + 1}-{last} accept
    ct state established,related accept  # answers of the apps' own servers
{body}
    meta l4proto {{ tcp, udp }} th dport 53 accept
    meta skuid . tcp dport @{SET} accept
    fib daddr type local jump refuse
  }}

  # The apps' ports answer this host and the routers only, never the internet directly.
  chain app_ports {{
    ct state established,related accept
    fib saddr type local accept
    ip saddr @{ROUTERS} accept
    ip6 saddr @{ROUTERS}6 accept
    drop
  }}

  chain input {{
    type filter hook input priority filter; policy accept;
    tcp dport {low}-{high} jump app_ports
  }}
}}
"""


def _run(script: str, *, quiet: bool = False) -> bool:
    """Apply an nft script in one transaction; False without nft, isolation or success."""
    binary = nft()
    if binary is None or not settings.PAAS_ISOLATED:
        return False
    result = subprocess.run([binary, "-f", "-"], input=script, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0 and not quiet:
        logger.warning("nft refused the panel's update: %s", result.stderr.strip()[:300])
    return result.returncode == 0


def loaded() -> bool:
    """Whether the panel's table is in the host's firewall."""
    binary = nft()
    if binary is None:
        return False
    return subprocess.run([binary, "list", "table", "inet", settings.PAAS_FIREWALL_TABLE],
                          capture_output=True, check=False).returncode == 0


def load() -> bool:
    """Load (or replace) the table, its set empty (`sync` fills it)."""
    table = settings.PAAS_FIREWALL_TABLE
    script = (f"table inet {table}\ndelete table inet {table}\n" if loaded() else "") + ruleset()
    return _run(script)


def unload() -> bool:
    table = settings.PAAS_FIREWALL_TABLE
    return loaded() and _run(f"delete table inet {table}\n")


def workspace_ports() -> list[tuple[int, int]]:
    """(uid, port) of every allocated port, the uid its workspace's user."""
    first, last = settings.PAAS_WORKSPACE_UIDS
    ids = dict(Workspace.objects.values_list("schema_name", "pk"))
    pairs = []
    for schema_name, port in PortAllocation.objects.values_list("schema_name", "port"):
        workspace_id = ids.get(schema_name)
        if workspace_id is not None and first + workspace_id <= last:
            pairs.append((first + workspace_id, port))
    return sorted(set(pairs))


def router_addresses() -> tuple[list[str], list[str]]:
    """IPv4 and IPv6 addresses of the registered hosts (each runs a router)."""
    found: tuple[list[str], list[str]] = ([], [])
    for address in sorted(set(Host.objects.values_list("address", flat=True))):
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            continue
        if not parsed.is_loopback:
            found[parsed.version == 6].append(str(parsed))
    return found


def _fill(table: str, name: str, elements: list[str]) -> str:
    joined = ", ".join(elements)
    return f"flush set inet {table} {name}\n" + (
        f"add element inet {table} {name} {{ {joined} }}\n" if elements else "")


def sync() -> bool:
    """Rewrite the sets (each workspace user's ports, the routers' addresses) from the port
    and host tables, in one transaction; False when there is no table (quietly: the admin
    says so)."""
    if not settings.PAAS_ISOLATED or nft() is None:
        return False
    table = settings.PAAS_FIREWALL_TABLE
    ipv4, ipv6 = router_addresses()
    script = (_fill(table, SET, [f"{uid} . {port}" for uid, port in workspace_ports()])
              + _fill(table, ROUTERS, ipv4) + _fill(table, f"{ROUTERS}6", ipv6))
    return _run(script, quiet=True)
