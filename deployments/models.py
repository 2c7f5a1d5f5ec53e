"""Deployments of a service, their log lines, and GitHub webhook deliveries."""

from __future__ import annotations

from typing import BinaryIO

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models, transaction
from django.db.models import Max
from django.db.models.functions import Upper
from django.dispatch import Signal
from django.utils import timezone

from core.events import publish_on_commit
from hosting.models import Host
from projects.models import Service

# Sent with `deployment=` once a deployment is created or changes status and the transaction
# commits; other apps listen (github reports commit statuses) without deployments knowing them.
status_changed = Signal()


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    DEPLOYING = "deploying", "Deploying"
    ACTIVE = "active", "Active"
    FAILED = "failed", "Failed"
    CRASHED = "crashed", "Crashed"
    CANCELLED = "cancelled", "Cancelled"
    SUPERSEDED = "superseded", "Superseded"
    REMOVED = "removed", "Removed"


# Named groups of statuses: every question about "which statuses" is answered here, pages
# and templates (through the Deployment properties) included.
# Over: the deployment moves nowhere any more.
Status.FINAL = (Status.FAILED, Status.CRASHED, Status.CANCELLED, Status.SUPERSEDED,
                Status.REMOVED)
# Not yet live nor over: what Cancel applies to and what a page refreshes for.
Status.IN_PROGRESS = (Status.QUEUED, Status.BUILDING, Status.DEPLOYING)
# A worker runs them and beats their heartbeat.
Status.WORKER_HELD = (Status.BUILDING, Status.DEPLOYING)
# Went live at some point (its duration is the build and the start, not since).
Status.WENT_LIVE = (Status.ACTIVE, Status.SUPERSEDED, Status.REMOVED, Status.CRASHED)
# Served successfully: their releases are the ones kept for rollbacks.
Status.SUCCEEDED = (Status.ACTIVE, Status.SUPERSEDED, Status.REMOVED)
# An earlier deployment that can be rolled back to (when its release is kept).
Status.ROLLBACK_SOURCES = (Status.SUPERSEDED, Status.REMOVED)

# Which statuses each status may move to. Final statuses move nowhere.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset(
        {Status.BUILDING, Status.DEPLOYING, Status.FAILED, Status.CANCELLED}
    ),
    Status.BUILDING: frozenset({Status.DEPLOYING, Status.FAILED, Status.CANCELLED}),
    Status.DEPLOYING: frozenset({Status.ACTIVE, Status.FAILED, Status.CANCELLED}),
    Status.ACTIVE: frozenset({Status.SUPERSEDED, Status.CRASHED, Status.REMOVED}),
    **{status: frozenset() for status in Status.FINAL},
}


class IllegalTransition(Exception):
    """A status change the deployment state machine does not allow."""


class Trigger(models.TextChoices):
    MANUAL = "manual", "Manual"
    PUSH = "push", "Push"
    PULL_REQUEST = "pull_request", "Pull request"
    ROLLBACK = "rollback", "Rollback"
    API = "api", "API"
    CLI = "cli", "CLI"


class DeploymentQuerySet(models.QuerySet["Deployment"]):
    def visible(self) -> DeploymentQuerySet:
        """Deployments a page may show: not those of a project being deleted."""
        return self.filter(service__environment__project__deleting=False).select_related(
            "service__environment__project", "service__active_deployment", "source_deployment",
            "source_archive")

    def in_progress(self) -> DeploymentQuerySet:
        return self.filter(status__in=Status.IN_PROGRESS)

    def rollback_targets(self, service: Service) -> DeploymentQuerySet:
        """Earlier successful deployments of `service` whose release is still kept on their
        host (a database fact: the web process never looks at an engine host's disk)."""
        return self.filter(service=service, status__in=Status.ROLLBACK_SOURCES,
                           release_kept=True).exclude(pk=service.active_deployment_id or 0)

    def create_next(self, service: Service, trigger: str, triggered_by: str,
                    **fields: object) -> Deployment:
        """The service's next deployment (numbered under a lock on the service row), on the
        service's host; a service's first deployment pins it to a host."""
        locked = Service.objects.select_for_update().get(pk=service.pk)
        if not locked.host_name:
            locked.host_name = Host.objects.for_new_service().name
            locked.save(update_fields=["host_name"])
            service.host_name = locked.host_name
        fields.setdefault("host_name", locked.host_name)
        last = self.filter(service=locked).aggregate(last=Max("number"))["last"] or 0
        deployment = self.create(service=locked, number=last + 1, trigger=trigger,
                                 triggered_by=triggered_by[:254], **fields)
        deployment.publish_changed()
        return deployment


ARCHIVE_CHUNK_BYTES = 4 * 1024 * 1024


class SourceArchive(models.Model):
    """An uploaded source tree (a .tar.gz, checked by deployments.archives before it was
    stored) that deployments are built from instead of a git checkout. Kept in the database,
    in chunks, so that every host reads the same bytes; removed with its service, or once no
    deployment refers to it any more (deployments.receivers)."""

    service = models.ForeignKey("projects.Service", on_delete=models.CASCADE,
                                related_name="source_archives")
    size = models.PositiveBigIntegerField(help_text="compressed, in bytes")
    sha256 = models.CharField(max_length=64)
    files = models.PositiveIntegerField(default=0)
    expanded_bytes = models.PositiveBigIntegerField(default=0)
    # Who uploaded it, as text (a user lives in the public schema), like triggered_by.
    uploaded_by = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"upload {self.short_sha} of {self.service_id}"

    @property
    def short_sha(self) -> str:
        return self.sha256[:12]

    def store_bytes(self, fileobj: BinaryIO) -> None:
        """Store the content of `fileobj` (read from its start) as the archive's chunks."""
        fileobj.seek(0)
        index = 0
        while data := fileobj.read(ARCHIVE_CHUNK_BYTES):
            SourceArchiveChunk.objects.create(archive=self, index=index, data=data)
            index += 1

    def write_to(self, out: BinaryIO) -> int:
        """Write the archive's bytes to `out`, one chunk in memory at a time; returns how
        many were written."""
        chunks = SourceArchiveChunk.objects.filter(archive=self)
        written = 0
        for pk in chunks.order_by("index").values_list("pk", flat=True):
            data = chunks.values_list("data", flat=True).get(pk=pk)
            out.write(data)
            written += len(data)
        return written


class SourceArchiveChunk(models.Model):
    archive = models.ForeignKey(SourceArchive, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["archive", "index"],
                                               name="source_archive_chunk_unique")]

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.archive_id}"


class Deployment(models.Model):
    service = models.ForeignKey(
        "projects.Service", on_delete=models.CASCADE, related_name="deployments"
    )
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=14, choices=Trigger.choices, default=Trigger.MANUAL)
    # Who asked for it, as text: a user lives in the public schema, and deleting one must not
    # reach into every workspace's tables. Kept after the account is gone, for the history.
    triggered_by = models.CharField(max_length=254, blank=True)
    commit_sha = models.CharField(max_length=40, blank=True)
    commit_message = models.TextField(blank=True)
    commit_author = models.CharField(max_length=200, blank=True)
    variables_snapshot = models.BinaryField(null=True, blank=True)
    release_dir = models.CharField(max_length=500, blank=True)
    # Whether its release directory is still on its host (set by the engine when the release
    # is built, cleared when it is pruned): what rollbacks are offered from.
    release_kept = models.BooleanField(default=False)
    # Started by the monitor after a crash, not by a person: never rolled back again.
    automatic = models.BooleanField(default=False)
    port = models.PositiveIntegerField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="seconds spent in each phase")
    error_reason = models.TextField(blank=True)
    # A rollback (or redeploy) names the deployment whose release or commit it reuses.
    source_deployment = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Built from an uploaded source tree instead of the repository (no commit then).
    source_archive = models.ForeignKey(SourceArchive, null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="deployments")
    runtime = models.CharField(max_length=20, blank=True, help_text="what the build detected")
    processes = models.JSONField(
        default=dict, blank=True, help_text="process type → start command of the release"
    )
    cancel_requested = models.BooleanField(default=False)
    # The worker that runs the deployment proves it is alive; the monitor fails deployments
    # whose worker stopped beating (DESIGN.md §5: the row is the truth).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The last restart the monitor made (a process past its memory limit), shown on the
    # service's page.
    restart_reason = models.CharField(max_length=300, blank=True)
    restarted_at = models.DateTimeField(null=True, blank=True)
    # The host (hosting.Host) that builds and runs it, and so keeps its release: its service's.
    host_name = models.CharField(max_length=63, blank=True)
    # The last sequence number given to one of its log lines (deployments.logstore).
    log_sequence = models.PositiveBigIntegerField(default=0)
    worker_host = models.CharField(max_length=255, blank=True)
    build_pgid = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["service", "number"], name="deployment_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.service} #{self.number}"

    @property
    def trigger_label(self) -> str:
        """How the page names what started it: a manual build of an earlier deployment's
        commit is a redeploy."""
        if self.trigger == Trigger.MANUAL and self.source_deployment_id:
            return "Redeploy"
        return self.get_trigger_display()

    @property
    def is_final(self) -> bool:
        return self.status in Status.FINAL

    @property
    def is_in_progress(self) -> bool:
        return self.status in Status.IN_PROGRESS

    @property
    def has_failed(self) -> bool:
        return self.status in (Status.FAILED, Status.CRASHED)

    def publish_changed(self) -> None:
        """Tell the workspace's open pages, once the transaction commits."""
        publish_on_commit("deployment_changed", service_id=self.service_id,
                          deployment_id=self.pk, status=str(self.status))
        transaction.on_commit(lambda: status_changed.send(sender=Deployment, deployment=self),
                              robust=True)  # a listener's failure is not the deployment's

    def transition(self, to: Status, *, reason: str = "") -> None:
        """Move to status `to`, or raise IllegalTransition. The one place statuses change.

        The update is conditional on the status the row has in the database, so two workers
        racing on one deployment cannot both move it.
        """
        to = Status(to)
        allowed_from = [status for status, targets in TRANSITIONS.items() if to in targets]
        now = timezone.now()
        changes: dict[str, object] = {"status": to}
        if to == Status.BUILDING or (to == Status.DEPLOYING and self.started_at is None):
            changes["started_at"] = now
        if to in Status.FINAL or to == Status.ACTIVE:
            changes["finished_at"] = now
        if reason:
            changes["error_reason"] = reason
        with transaction.atomic():
            moved = Deployment.objects.filter(pk=self.pk, status__in=allowed_from).update(**changes)
            if not moved:
                current = Deployment.objects.filter(pk=self.pk).values_list("status", flat=True)
                raise IllegalTransition(
                    f"deployment {self.pk} cannot move from {current.first()} to {to}"
                )
        for field, value in changes.items():
            setattr(self, field, value)
        self.publish_changed()


class Stream(models.TextChoices):
    BUILD = "build", "Build"
    DEPLOY = "deploy", "Deploy"
    STDOUT = "stdout", "stdout"
    STDERR = "stderr", "stderr"


class Phase(models.TextChoices):
    """The step of the pipeline a log line belongs to (DESIGN.md §5)."""

    FETCH = "fetch", "Fetch"
    BUILD = "build", "Build"
    RELEASE = "release", "Release"
    START = "start", "Start"
    HEALTH = "health", "Health"
    SWITCH = "switch", "Switch"
    RUNTIME = "runtime", "Runtime"
    MONITOR = "monitor", "Monitor"


class LogLine(models.Model):
    """One line of a deployment's log. The table is partitioned by `expires_on`, one partition
    a day, created as lines arrive and dropped whole once expired (deployments.logstore): the
    primary key in the database is (expires_on, id)."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="log_lines",
                                   db_index=False)
    service = models.ForeignKey("projects.Service", on_delete=models.CASCADE,
                                related_name="log_lines", db_index=False)
    sequence = models.PositiveBigIntegerField()
    stream = models.CharField(max_length=8, choices=Stream.choices)
    phase = models.CharField(max_length=8, choices=Phase.choices, blank=True)
    timestamp = models.DateTimeField(default=timezone.now)
    text = models.TextField()
    # Of a line that is a JSON object: its keys, and its level (lower-case) when it says one.
    level = models.CharField(max_length=16, blank=True)
    attributes = models.JSONField(null=True, blank=True)
    expires_on = models.DateField()

    class Meta:
        ordering = ["deployment", "sequence"]
        indexes = [
            models.Index(fields=["deployment", "sequence"], name="log_line_deployment"),
            models.Index(fields=["service", "timestamp"], name="log_line_service_time"),
            # The filter's words and phrases (icontains: UPPER(text) LIKE '%WORD%') without
            # reading every line: trigrams of the upper-cased text.
            GinIndex(OpClass(Upper("text"), name="gin_trgm_ops"), name="log_line_text_trgm"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment} {self.sequence}: {self.text[:60]}"


class LogVolume(models.Model):
    """How many lines and bytes of a service's log expire on a day: the size the service page
    shows, counted as lines are stored (a sum over the lines themselves would read them all)."""

    service = models.ForeignKey("projects.Service", on_delete=models.CASCADE,
                                related_name="log_volumes")
    expires_on = models.DateField()
    lines = models.PositiveBigIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "expires_on"],
                                               name="log_volume_unique")]

    def __str__(self) -> str:
        return f"{self.service_id} until {self.expires_on}: {self.lines} lines"


class ProcessSample(models.Model):
    """One reading of a deployment's process from PM2 by the monitor (kept for charts)."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="samples")
    process_name = models.CharField(max_length=200)
    status = models.CharField(max_length=20)
    restarts = models.PositiveIntegerField(default=0)
    cpu_percent = models.FloatField(default=0)
    memory_bytes = models.PositiveBigIntegerField(default=0)
    sampled_at = models.DateTimeField(default=timezone.now)
    # Left by a restart a user asked for: the monitor does not count it as a crash.
    requested_restart = models.BooleanField(default=False)

    class Meta:
        ordering = ["-sampled_at"]
        indexes = [models.Index(fields=["deployment", "sampled_at"]),
                   models.Index(fields=["sampled_at"], name="process_sample_age")]

    def __str__(self) -> str:
        return f"{self.process_name} {self.status} at {self.sampled_at:%H:%M:%S}"


class WebhookDelivery(models.Model):
    delivery_id = models.CharField(max_length=64, unique=True)
    event = models.CharField(max_length=64)
    outcome = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"
