"""The public schema's host-global tables: the hosts that run apps, the ports given to their
processes, and the routing table Traefik's configuration is generated from."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import DNS_LABEL

# Host queues: engine work for a host goes to `<kind>.<host name>`, which only that host's
# workers consume.
HOST_QUEUE_KINDS = ("build", "deploy", "monitor")
SEEN_RECENTLY = timedelta(minutes=10)


class HostQuerySet(models.QuerySet["Host"]):
    def register_this_host(self) -> Host:
        """This machine's row (PAAS_HOST_NAME, PAAS_HOST_ADDRESS), created or brought up to
        date: what a worker does when it starts."""
        host, _ = self.update_or_create(
            name=settings.PAAS_HOST_NAME,
            defaults={"address": settings.PAAS_HOST_ADDRESS, "seen_at": timezone.now()},
        )
        return host

    def for_new_service(self) -> Host:
        """Where a service that has no host yet runs: this machine when it is a host, else
        the first host registered (one is registered if there is none)."""
        return (self.filter(name=settings.PAAS_HOST_NAME).first()
                or self.order_by("registered_at").first()
                or self.register_this_host())

    def seen_recently(self) -> HostQuerySet:
        return self.filter(seen_at__gte=timezone.now() - SEEN_RECENTLY)

    def address_of(self, name: str) -> str:
        """The address other machines reach `name`'s apps at (this host's when unknown)."""
        return (self.filter(name=name).values_list("address", flat=True).first()
                or settings.PAAS_HOST_ADDRESS)


class Host(models.Model):
    """A machine that builds and runs apps under its own PM2 and its own worker."""

    name = models.CharField(max_length=63, unique=True, validators=[DNS_LABEL])
    address = models.CharField(
        max_length=255, help_text="how routers reach the apps of this host (IP or hostname)")
    registered_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(null=True, blank=True,
                                   help_text="its worker's last start or monitor pass")

    objects = HostQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def host_queue(kind: str, host_name: str) -> str:
    """The queue of `host_name`'s workers for `kind` (build, deploy, monitor)."""
    if kind not in HOST_QUEUE_KINDS:
        raise ValueError(f"not a host queue: {kind}")
    return f"{kind}.{host_name}"


class PortAllocation(models.Model):
    """A host port given to one deployment's process; unique across workspaces."""

    port = models.PositiveIntegerField(unique=True)
    schema_name = models.CharField(max_length=63)
    deployment_id = models.BigIntegerField()
    process_name = models.CharField(max_length=200, blank=True)
    allocated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["port"]
        indexes = [models.Index(fields=["schema_name", "deployment_id"])]

    def __str__(self) -> str:
        return f"{self.port} → {self.schema_name} deployment {self.deployment_id}"


class Route(models.Model):
    """Hostname → upstream, the table Traefik's configuration is generated from."""

    hostname = models.CharField(max_length=253, unique=True)
    upstream = models.CharField(
        max_length=1000, help_text="host:port the requests go to; several, comma-separated, "
        "are balanced in turn"
    )
    schema_name = models.CharField(max_length=63)
    service_id = models.BigIntegerField()
    deployment_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return f"{self.hostname} → {self.upstream}"
