"""Host ports for deployed processes: the public PortAllocation table, unique across workspaces.

A port is given when it has no row and nothing on this host listens on it (something outside
the panel may have taken it). Two workers that pick the same port at once are kept apart by
the table's unique constraint: the loser's insert fails inside its own savepoint and it moves
on to the next port.
"""

from __future__ import annotations

import errno
import socket

from django.conf import settings
from django.db import IntegrityError, transaction

from deployments.engine import firewall
from hosting.models import PortAllocation


class NoFreePort(Exception):
    """Every port of settings.PAAS_PORT_RANGE is allocated or in use on the host."""


def allocate(schema_name: str, deployment_id: int, process_name: str) -> int:
    """The lowest free port of the range, recorded for this deployment's process."""
    low, high = settings.PAAS_PORT_RANGE
    taken = set(PortAllocation.objects.filter(port__gte=low, port__lte=high)
                .values_list("port", flat=True))
    for port in range(low, high + 1):
        if port in taken or not free_on_host(port):
            continue
        try:
            with transaction.atomic():  # a savepoint when the caller has a transaction
                PortAllocation.objects.create(port=port, schema_name=schema_name,
                                              deployment_id=deployment_id,
                                              process_name=process_name)
        except IntegrityError:  # another worker took it meanwhile
            continue
        firewall.sync()  # the workspace's user may now reach it (and only that user)
        return port
    raise NoFreePort(
        f"No free port between {low} and {high}: each is allocated to a deployment or in "
        "use on this host. Stop unused deployments or widen PAAS_PORT_RANGE."
    )


def release(schema_name: str, deployment_id: int) -> int:
    """Free the deployment's ports; how many there were."""
    deleted, _ = PortAllocation.objects.filter(
        schema_name=schema_name, deployment_id=deployment_id
    ).delete()
    if deleted:
        firewall.sync()
    return deleted


def held_by(schema_name: str, deployment_id: int) -> dict[str, int]:
    """Process name → port, of the deployment's allocations."""
    return dict(PortAllocation.objects.filter(schema_name=schema_name,
                                              deployment_id=deployment_id)
                .values_list("process_name", "port"))


def ports_of(schema_name: str, deployment_id: int) -> list[int]:
    return list(PortAllocation.objects.filter(schema_name=schema_name,
                                              deployment_id=deployment_id)
                .order_by("port").values_list("port", flat=True))


def free_on_host(port: int) -> bool:
    """Whether nothing listens on the port: it can be bound on 127.0.0.1, 0.0.0.0 and ::."""
    addresses = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "0.0.0.0")]  # noqa: S104
    if socket.has_ipv6:
        addresses.append((socket.AF_INET6, "::"))
    for family, host in addresses:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                continue  # no IPv6 on this host
            return False
    return True
