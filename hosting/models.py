"""The public schema's host-global tables: the hosts that run apps, the ports given to their
processes, the domains generated for services, the custom domains their teams add, and the
routing table Traefik's configuration is generated from."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from hosting.domain_labels import candidate_labels
from tenants.models import DNS_LABEL

# Host queues: engine work for a host goes to `<kind>.<host name>`, which only that host's
# workers consume.
HOST_QUEUE_KINDS = ("build", "deploy", "monitor")
SEEN_RECENTLY = timedelta(minutes=10)
# Suffixed labels tried before a reservation gives up (each is free with near certainty).
RESERVE_ATTEMPTS = 20


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


class RouteQuerySet(models.QuerySet["Route"]):
    def of_service(self, schema_name: str, service_id: int) -> RouteQuerySet:
        return self.filter(schema_name=schema_name, service_id=service_id)

    def add_alias(self, schema_name: str, service_id: int, hostname: str) -> Route | None:
        """Route `hostname` where the service's other routes go (a custom domain added while
        the service is live); nothing when the service serves nowhere now."""
        serving = self.of_service(schema_name, service_id).exclude(hostname=hostname).first()
        if serving is None:
            return None
        route, _ = self.update_or_create(
            hostname=hostname,
            defaults={"upstream": serving.upstream, "schema_name": schema_name,
                      "service_id": service_id, "deployment_id": serving.deployment_id})
        return route


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

    objects = RouteQuerySet.as_manager()

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return f"{self.hostname} → {self.upstream}"


class NoFreeDomain(Exception):
    """No label could be reserved (RESERVE_ATTEMPTS suffixes were all taken)."""


class GeneratedDomainQuerySet(models.QuerySet["GeneratedDomain"]):
    def label_for(self, schema_name: str, service_id: int) -> str | None:
        return (self.filter(schema_name=schema_name, service_id=service_id)
                .values_list("label", flat=True).first())

    def labels_for(self, schema_name: str, service_ids: list[int]) -> dict[int, str]:
        """{service id: label} of those of the services that hold one."""
        return dict(self.filter(schema_name=schema_name, service_id__in=service_ids)
                    .values_list("service_id", "label"))

    def reserve(self, schema_name: str, service_id: int, readable: str) -> str:
        """The label of the service: the one it holds, else `readable` when free (and short
        enough), else `readable` with a random suffix. The unique constraint decides a race:
        each insert is in a savepoint, and a refused one tries the next label."""
        held = self.label_for(schema_name, service_id)
        if held is not None:
            return held
        for label in candidate_labels(readable, RESERVE_ATTEMPTS):
            if self.filter(label=label).exists():
                continue
            try:
                with transaction.atomic():
                    self.create(label=label, schema_name=schema_name, service_id=service_id)
                return label
            except IntegrityError:
                held = self.label_for(schema_name, service_id)  # reserved meanwhile
                if held is not None:
                    return held
        raise NoFreeDomain(f"no free domain name for {readable}")

    def release(self, schema_name: str, service_id: int) -> None:
        self.filter(schema_name=schema_name, service_id=service_id).delete()


class GeneratedDomain(models.Model):
    """The generated domain of a service, `<label>.PAAS_APPS_DOMAIN`: reserved when the
    service is created, kept while it exists (stopped, failed or renamed), freed when it is
    deleted. A label belongs to one (workspace schema, service) and a service has one."""

    label = models.CharField(max_length=63, unique=True, validators=[DNS_LABEL])
    schema_name = models.CharField(max_length=63)
    service_id = models.BigIntegerField()
    reserved_at = models.DateTimeField(auto_now_add=True)

    objects = GeneratedDomainQuerySet.as_manager()

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(fields=["schema_name", "service_id"],
                                    name="one_generated_domain_per_service"),
        ]

    def __str__(self) -> str:
        return f"{self.label} → {self.schema_name} service {self.service_id}"


class CustomDomainQuerySet(models.QuerySet["CustomDomain"]):
    def of_service(self, schema_name: str, service_id: int) -> CustomDomainQuerySet:
        return self.filter(schema_name=schema_name, service_id=service_id)

    def hostnames_of(self, schema_name: str, service_id: int) -> list[str]:
        return list(self.of_service(schema_name, service_id).values_list("hostname", flat=True))

    def hostnames_by_service(self, schema_name: str,
                             service_ids: list[int]) -> dict[int, list[str]]:
        """{service id: its hostnames, in order} of several services, with one query."""
        found: dict[int, list[str]] = {pk: [] for pk in service_ids}
        rows = (self.filter(schema_name=schema_name, service_id__in=service_ids)
                .order_by("hostname").values_list("service_id", "hostname"))
        for service_id, hostname in rows:
            found[service_id].append(hostname)
        return found

    def release(self, schema_name: str, service_id: int) -> None:
        """Free the custom domains of a deleted service (and drop their routes, which the
        service's own clean-up drops too)."""
        hostnames = self.hostnames_of(schema_name, service_id)
        Route.objects.filter(hostname__in=hostnames, schema_name=schema_name).delete()
        self.of_service(schema_name, service_id).delete()


class CustomDomain(models.Model):
    """A domain a team routes to one of its services (`shop.example.com`), with what the last
    DNS check found. A hostname belongs to one service across all workspaces: the unique
    constraint here, in the public schema, decides between two that add it at once.

    The hostname is stored as hosting.hostnames.normalise writes it (punycode, lower case);
    a leftmost `*` only where an operator allowed wildcards for the workspace."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # not checked yet
        VERIFIED = "verified", "Verified"
        MISCONFIGURED = "misconfigured", "Misconfigured"

    hostname = models.CharField(max_length=253, unique=True)
    schema_name = models.CharField(max_length=63)
    service_id = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    found = models.CharField(max_length=500, blank=True,
                             help_text="what the last DNS check found")
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CustomDomainQuerySet.as_manager()

    class Meta:
        ordering = ["hostname"]
        indexes = [models.Index(fields=["schema_name", "service_id"])]

    def __str__(self) -> str:
        return f"{self.hostname} → {self.schema_name} service {self.service_id}"

    def record_check(self, status: str | None, found: str) -> None:
        """What a DNS check found; a check that could not tell (`status` None) keeps the
        status and says why."""
        if status is not None:
            self.status = status
        self.found = found[:500]
        self.checked_at = timezone.now()
        self.save(update_fields=["status", "found", "checked_at"])


class LogCursor(models.Model):
    """How far the log shipper of a host has read one of the files PM2 writes there
    (deployments.engine.shipper): written in the transaction that stores the lines read, so
    that a shipper started again neither loses nor repeats one.

    A file is its path and its inode: a file rotated aside keeps its inode (and the path it
    had, which is the one recorded), one made again at the same path has another."""

    host_name = models.CharField(max_length=63)
    path = models.CharField(max_length=1000)
    inode = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0, help_text="bytes read and stored")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host_name", "path"]
        constraints = [
            models.UniqueConstraint(fields=["host_name", "path", "inode"],
                                    name="one_log_cursor_per_file"),
        ]

    def __str__(self) -> str:
        return f"{self.host_name}:{self.path} ({self.inode}) at {self.offset}"
