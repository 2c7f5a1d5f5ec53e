"""The public routing table (hosting.models.Route): a service's domain → its serving ports
(at its host's address).

Traefik's configuration is generated from these rows (hosting.traefik, which Traefik polls
every PAAS_TRAEFIK_POLL_SECONDS); in development the development router (devrouter.app)
reads them. Rows are written from the structured values here, never from strings a user
typed.

The hostnames are the service's generated domain, reserved for it alone (projects.domains),
and its custom domains (projects.custom_domains, each held by one service across all
workspaces): no other service can hold a route on them, and a row another service left there
(one that no longer exists, or a clash from before domains were reserved) is taken over.
Every switch writes the routes of all of them again; a custom domain added or removed while
the service is live gets or loses its route at once (projects.custom_domains).
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from deployments.models import Deployment
from hosting.models import CustomDomain, Host, Route
from projects.domains import public_domain
from projects.models import Service

# After a poll that brings a change, Traefik waits for its providersThrottleDuration (2 s by
# default) before applying it; the request itself, the reload, and clocks add the rest.
TRAEFIK_APPLY_MARGIN_SECONDS = 3.0


def drain_seconds() -> float:
    """How long a deployment that a switch replaced keeps serving: until every router has
    read the new route (behind Traefik: a poll interval and a margin after the switch
    commits, since a poll may have just missed it), then PAAS_DRAIN_SECONDS for the requests
    still in flight on it. A redeploy through Traefik then loses no request."""
    poll = settings.PAAS_TRAEFIK_POLL_SECONDS
    routers_catch_up = poll + TRAEFIK_APPLY_MARGIN_SECONDS if poll > 0 else 0.0
    return routers_catch_up + settings.PAAS_DRAIN_SECONDS


def upstream_of(address: str, ports: list[int]) -> str:
    """`address:port` of each port, comma-separated (bracketed when the address is IPv6)."""
    host = f"[{address}]" if ":" in address else address
    return ",".join(f"{host}:{port}" for port in ports)


def point(service: Service, deployment: Deployment, ports: list[int]) -> None:
    """Send the service's domains to the deployment's web ports (or drop the routes when
    the deployment serves no HTTP)."""
    if not ports:
        remove(service)
        return
    schema = connection.schema_name
    hostnames = [public_domain(service), *CustomDomain.objects.hostnames_of(schema, service.pk)]
    upstream = upstream_of(Host.objects.address_of(deployment.host_name), ports)
    for hostname in hostnames:
        Route.objects.update_or_create(
            hostname=hostname,
            defaults={"upstream": upstream, "schema_name": schema, "service_id": service.pk,
                      "deployment_id": deployment.pk},
        )
    Route.objects.of_service(schema, service.pk).exclude(hostname__in=hostnames).delete()


def remove(service: Service) -> None:
    Route.objects.filter(schema_name=connection.schema_name, service_id=service.pk).delete()
