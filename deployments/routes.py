"""The public routing table (hosting.models.Route): a service's domain → its serving ports
(at its host's address).

Traefik's configuration is generated from these rows in a later issue; until then the
development router (devrouter.app) reads them. Rows are written from the structured
values here, never from strings a user typed.
"""

from __future__ import annotations

from django.db import connection

from deployments.models import Deployment
from hosting.models import Host, Route
from projects.models import Service
from projects.references import public_domain


class RouteTaken(Exception):
    """The domain already routes to another service."""


def upstream_of(address: str, ports: list[int]) -> str:
    """`address:port` of each port, comma-separated (bracketed when the address is IPv6)."""
    host = f"[{address}]" if ":" in address else address
    return ",".join(f"{host}:{port}" for port in ports)


def point(service: Service, deployment: Deployment, ports: list[int]) -> None:
    """Send the service's domain to the deployment's web ports (or drop the route when the
    deployment serves no HTTP)."""
    hostname = public_domain(service)
    if not ports:
        remove(service)
        return
    taken = Route.objects.filter(hostname=hostname).exclude(
        schema_name=connection.schema_name, service_id=service.pk
    )
    if taken.exists():
        raise RouteTaken(f"{hostname} already routes to another service; rename this one.")
    upstream = upstream_of(Host.objects.address_of(deployment.host_name), ports)
    Route.objects.update_or_create(
        hostname=hostname,
        defaults={"upstream": upstream, "schema_name": connection.schema_name,
                  "service_id": service.pk, "deployment_id": deployment.pk},
    )


def remove(service: Service) -> None:
    Route.objects.filter(schema_name=connection.schema_name, service_id=service.pk).delete()
