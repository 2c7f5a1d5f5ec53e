"""What the panel's pages and endpoints ask of the hosting tables."""

from __future__ import annotations

from django.conf import settings

from hosting import traefik
from hosting.models import Route
from tenants.models import Domain


def traefik_configuration() -> dict:
    """Traefik's whole dynamic configuration, in two queries whatever the number of routes
    and workspaces: the routing table, and the workspaces' subdomains of the panel."""
    routes = Route.objects.order_by("hostname").values_list("hostname", "upstream")
    subdomains = (Domain.objects.filter(domain__endswith=f".{settings.PAAS_DOMAIN}")
                  .order_by("domain").values_list("domain", flat=True))
    panel = traefik.Panel(domain=settings.PAAS_DOMAIN, upstream=settings.PAAS_PANEL_UPSTREAM,
                          workspace_hostnames=tuple(subdomains))
    return traefik.render(routes, panel, tls=settings.SECURE)
