"""The log shipper (`manage.py ship_logs`, one per host): what the deployed processes print,
stored line by line under their deployment (DESIGN.md §6).

PM2 writes each process's stdout and stderr to files of their own,
`PAAS_APPS_DIR/logs/<schema>/<service id>/<deployment id>/<type>-<index>.{out,err}.log`
(deployments.engine.releases). The shipper follows every such file of the host: it looks for
new ones every SCAN_SECONDS, reads open ones every POLL_SECONDS when idle and in READ_BYTES
chunks when busy, splits lines (a last line without its newline waits PARTIAL_SECONDS for it,
then goes as it is), masks the deployment's variable values as builds do, and stores them
with stream stdout or stderr and phase runtime, in batches of up to BATCH_LINES lines or
BATCH_SECONDS per deployment (`deployments.logs.store_and_publish`: one COPY, one message).

Exactly once. How far each file was read (hosting.LogCursor: host, path, inode, offset) is
written in the transaction that stores its lines: a shipper killed at any moment starts
again where the stored lines end. A file is its path and its inode; one made again at the
same path is read from its start.

Rotation. A file whose stored part passes PAAS_LOG_FILE_MAX_BYTES has that part punched out
(its disk blocks freed; the file keeps its size and offsets, PM2 its descriptor, so nothing
written meanwhile is lost and a cursor stays valid). Where the filesystem cannot, or with
PAAS_LOG_ROTATION=rename, it is renamed aside (`.1` appended), PM2 is asked to reopen its
files (`reloadLogs`: a new one at the path), and the renamed one is read until the daemon no
longer holds it and to its end, then deleted; the new one is read only after it, so lines
keep their order. (PM2 7.0.4's reloadLogs drops what an app writes to stderr while it
reopens the files, hence punching first.) PM2's own log is trimmed too.

Trust. An app runs as its workspace's user and may write only in its own directories, not in
the logs tree (root's). Still, only regular files the daemon's user owns, reached without
following a link, are read; a path whose workspace or deployment does not exist is ignored.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, tenant_context

from deployments.engine import logfiles, pm2_daemon, releases
from deployments.engine.logfiles import ROTATED, STREAMS, Source
from deployments.logs import LogTarget, mask, secret_values, store_and_publish
from deployments.logstore import NewLine
from deployments.models import Deployment, Phase
from deployments.snapshots import read_snapshot
from hosting.models import LogCursor
from tenants.models import Workspace

logger = logging.getLogger(__name__)
POLL_SECONDS = 0.02
SCAN_SECONDS = 1.0
PARTIAL_SECONDS = 1.0
BATCH_LINES = 500
BATCH_SECONDS = 0.05
READ_BYTES = 1 << 20
# A line longer than this without a newline goes in parts (the store cuts it anyway).
MAX_PARTIAL_BYTES = 64 * 1024
# Lines read but not stored yet (the database is away) past which a deployment's files wait.
MAX_PENDING_LINES = 20 * BATCH_LINES
HELD_CHECK_SECONDS = 0.1
RELOAD_AGAIN_SECONDS = 2.0
CLEANUP_SECONDS = 60.0
RETRY_SECONDS = 1.0
@dataclass(slots=True)
class Target:
    workspace: Workspace
    log: LogTarget
    secrets: list[str]


@dataclass(eq=False, slots=True)
class Followed:
    """A file being read."""

    path: str  # where it is now (the live path, or the live path + ROTATED)
    live: str  # where PM2 writes it: the cursor's path
    identity: tuple[int, int]  # (device, inode)
    fd: int
    stream: str
    source: Source
    offset: int  # bytes read from it
    stored: int  # bytes whose lines are stored (the cursor)
    rotated: bool = False
    punched: int = 0  # bytes at its start whose disk blocks were freed
    partial: bytes = b""
    partial_since: float = 0.0
    gone: bool = False  # no longer in the tree (deleted with its service)
    reloaded_at: float = 0.0
    held_checked_at: float = 0.0


@dataclass(slots=True)
class Pending:
    """A deployment's lines read but not stored yet, each with its file and end offset."""

    lines: list[NewLine] = field(default_factory=list)
    files: list[Followed] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    since: float = 0.0


class Shipper:
    def __init__(self) -> None:
        self.host_name = settings.PAAS_HOST_NAME
        self.root = releases.logs_root()
        self.punch = settings.PAAS_LOG_ROTATION == "punch"
        self.followed: dict[tuple[int, int], Followed] = {}
        self.ignored: set[tuple[int, int]] = set()
        self.targets: dict[Source, Target | None] = {}
        self.pending: dict[Source, Pending] = defaultdict(Pending)
        self.cursors: dict[tuple[str, int], int] = {}
        self.stopping = False
        self.scanned_at = 0.0
        self.cleaned_at = time.monotonic()
        self.failed_at = 0.0
        self.complete = False  # whether the last scan looked up every file it found
        self.lines_stored = 0

    # The loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Until stop(): then what was read is stored, and the files closed."""
        self.cursors = {(path, inode): offset for path, inode, offset in LogCursor.objects
                        .filter(host_name=self.host_name)
                        .values_list("path", "inode", "offset")}
        self.scan()
        self.forget_cursors()
        try:
            while not self.stopping:
                if not self.step():
                    time.sleep(POLL_SECONDS)
        finally:
            self.flush(force=True)
            for followed in list(self.followed.values()):
                os.close(followed.fd)
            self.followed.clear()

    def stop(self, *_: object) -> None:
        self.stopping = True

    def step(self) -> bool:
        """One pass over the files; whether there was something to read."""
        now = time.monotonic()
        if now - self.scanned_at >= SCAN_SECONDS:
            self.scan()
        busy = False
        waiting = {followed.live for followed in self.followed.values() if followed.rotated}
        for followed in list(self.followed.values()):
            if not followed.rotated and followed.path in waiting:
                continue  # its rotated predecessor is read to its end first
            if len(self.pending[followed.source].lines) >= MAX_PENDING_LINES:
                continue
            busy |= self.read(followed, now)
        self.flush()
        if now - self.cleaned_at >= CLEANUP_SECONDS:
            self.forget_cursors()
        return busy

    def read(self, followed: Followed, now: float) -> bool:
        if self.targets.get(followed.source, True) is None:  # the deployment went
            self.close(followed, ignore=True)
            return False
        try:
            data = os.read(followed.fd, READ_BYTES)
        except OSError:
            data = b""
        if data:
            self.take(followed, data, now)
            return True
        if followed.partial and (now - followed.partial_since >= PARTIAL_SECONDS
                                 or followed.gone):
            self.take_partial(followed)
        if followed.rotated:
            self.finish_rotated(followed, now)
        elif followed.gone:
            self.close(followed)
        return False

    def take(self, followed: Followed, data: bytes, now: float) -> None:
        """Split what was read into lines; a last one without its newline waits."""
        start = followed.offset - len(followed.partial)
        followed.offset += len(data)
        if followed.partial:
            data = followed.partial + data
        elif data:
            followed.partial_since = now  # what does not end with a newline waits from now
        parts = data.split(b"\n")
        rest = parts.pop()
        ends, end = [], start
        for part in parts:
            end += len(part) + 1
            ends.append(end)
        if parts:
            followed.partial_since = now
        followed.partial = rest
        if parts:
            self.add(followed, parts, ends)
        if len(rest) >= MAX_PARTIAL_BYTES:
            self.take_partial(followed)

    def take_partial(self, followed: Followed) -> None:
        """The last line read, though its newline has not come (yet)."""
        self.add(followed, [followed.partial], [followed.offset])
        followed.partial = b""

    def add(self, followed: Followed, parts: list[bytes], ends: list[int]) -> None:
        target = self.target(followed.source)
        if target is None:
            return
        now = timezone.now()
        stream, secrets = followed.stream, target.secrets
        lines = []
        for part in parts:
            text = part.decode("utf-8", "replace")
            if text.endswith("\r"):
                text = text[:-1]
            lines.append(NewLine(mask(text, secrets), stream, Phase.RUNTIME, now))
        pending = self.pending[followed.source]
        if not pending.lines:
            pending.since = time.monotonic()
        pending.lines += lines
        pending.files += [followed] * len(lines)
        pending.ends += ends

    # Storing -----------------------------------------------------------------------------

    def flush(self, *, force: bool = False, only: Source | None = None) -> bool:
        """Store the batches that are due (all of them with force); whether all went."""
        now = time.monotonic()
        if not force and now - self.failed_at < RETRY_SECONDS:
            return False
        for source, pending in list(self.pending.items()):
            if only is not None and source != only:
                continue
            while pending.lines and (force or len(pending.lines) >= BATCH_LINES
                                     or now - pending.since >= BATCH_SECONDS):
                try:
                    self.store(source, pending)
                except DatabaseError:
                    logger.exception("log shipper: storing lines failed; trying again")
                    self.failed_at = time.monotonic()
                    connection.close()
                    return False
            if not pending.lines:
                del self.pending[source]
        return True

    def store(self, source: Source, pending: Pending) -> None:
        """The first BATCH_LINES lines and their files' cursors, in one transaction."""
        target = self.targets.get(source)
        count = min(BATCH_LINES, len(pending.lines))
        lines = pending.lines[:count]
        cursors: dict[Followed, int] = {}
        for followed, end in zip(pending.files[:count], pending.ends[:count], strict=True):
            cursors[followed] = end
        stored = True
        if target is not None:
            with tenant_context(target.workspace), transaction.atomic():
                stored = bool(store_and_publish(target.log, lines))
                LogCursor.objects.bulk_create(
                    [LogCursor(host_name=self.host_name, path=followed.live,
                               inode=followed.identity[1], offset=end)
                     for followed, end in cursors.items()],
                    update_conflicts=True, unique_fields=["host_name", "path", "inode"],
                    update_fields=["offset", "updated_at"])
        del pending.lines[:count], pending.files[:count], pending.ends[:count]
        pending.since = time.monotonic()
        for followed, end in cursors.items():
            followed.stored = end
            self.rotate_if_due(followed)
        self.lines_stored += count if stored else 0
        if not stored:  # the deployment went meanwhile
            self.targets[source] = None
            pending.lines.clear()
            pending.files.clear()
            pending.ends.clear()

    def target(self, source: Source) -> Target | None:
        """Where a deployment's lines go, with the values to mask (read once); None when its
        workspace or the deployment does not exist (its lines are skipped)."""
        if source in self.targets:
            return self.targets[source]
        target = None
        workspace = (Workspace.objects.filter(schema_name=source.schema_name)
                     .exclude(schema_name__in=[get_public_schema_name(),
                                               settings.TENANT_BASE_SCHEMA]).first())
        if workspace is not None:
            with tenant_context(workspace):
                deployment = (Deployment.objects.select_related("service")
                              .filter(pk=source.deployment_id,
                                      service_id=source.service_id).first())
                if deployment is not None:
                    target = Target(workspace, LogTarget.of(deployment),
                                    secret_values(read_snapshot(deployment)))
        self.targets[source] = target
        return target

    # Files -------------------------------------------------------------------------------

    def scan(self) -> None:
        """Follow the files that appeared; mark those that went."""
        self.scanned_at = time.monotonic()
        present: dict[tuple[int, int], tuple[str, Source, str]] = {}
        for path, source, suffix in logfiles.candidates(self.root):
            try:
                status = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(status.st_mode):
                present[(status.st_dev, status.st_ino)] = (path, source, suffix)
        for identity, followed in list(self.followed.items()):
            if identity not in present:
                followed.gone = True
            else:
                followed.path = present[identity][0]
                followed.rotated = followed.path.endswith(ROTATED)
        self.ignored &= present.keys()
        self.complete = True
        for identity, (path, source, suffix) in present.items():
            if identity not in self.followed and identity not in self.ignored:
                try:
                    self.follow(identity, path, source, suffix)
                except DatabaseError:  # tried again on the next scan; its cursor kept
                    logger.exception("log shipper: looking up %s failed", path)
                    self.complete = False
                    connection.close()
        pm2_daemon.trim_daemon_log(settings.PAAS_LOG_FILE_MAX_BYTES)

    def follow(self, identity: tuple[int, int], path: str, source: Source,
               suffix: str) -> None:
        if self.target(source) is None:
            self.ignored.add(identity)
            return
        opened = logfiles.open_checked(path, identity)
        if opened is None:
            self.ignored.add(identity)
            return
        fd, size = opened
        rotated = path.endswith(ROTATED)
        live = path.removesuffix(ROTATED) if rotated else path
        offset = self.cursors.pop((live, identity[1]), 0)
        if offset > size:  # not the file the cursor was for
            offset = 0
        os.lseek(fd, offset, os.SEEK_SET)
        self.followed[identity] = Followed(
            path=path, live=live, identity=identity, fd=fd, stream=STREAMS[suffix],
            source=source, offset=offset, stored=offset, rotated=rotated)

    def rotate_if_due(self, followed: Followed) -> None:
        """Keep the file's disk use near PAAS_LOG_FILE_MAX_BYTES, losing nothing.

        Where the filesystem can, the part whose lines are stored is punched out (its blocks
        freed; offsets and the daemon's descriptor unchanged, so a line written meanwhile
        lands as ever). Else the file is renamed aside and PM2 asked to reopen its files:
        PM2 7.0.4's `reloadLogs` drops what a process writes to stderr while it reopens."""
        limit = settings.PAAS_LOG_FILE_MAX_BYTES
        if followed.rotated or followed.gone:
            return
        if self.punch:
            if followed.stored - followed.punched < limit:
                return
            freed = logfiles.punch_hole(followed.path, followed.identity, followed.stored)
            if freed is not None:
                followed.punched = max(followed.punched, freed)
                return
            logger.warning("log shipper: %s cannot punch holes; rotating by renaming",
                           followed.path)
            self.punch = False
        if followed.offset >= limit:
            self.rotate(followed)

    def rotate(self, followed: Followed) -> None:
        """Rename the file aside and have PM2 start a new one at its path."""
        aside = followed.path + ROTATED
        if os.path.lexists(aside):
            return  # the previous one is still being read
        try:
            os.rename(followed.path, aside)
        except OSError:
            return
        followed.path, followed.rotated = aside, True
        followed.reloaded_at = time.monotonic()
        pm2_daemon.reload_logs()

    def finish_rotated(self, followed: Followed, now: float) -> None:
        """A rotated file the daemon no longer writes, read to its end: delete it."""
        if now - followed.held_checked_at < HELD_CHECK_SECONDS:
            return
        followed.held_checked_at = now
        if followed.identity in pm2_daemon.open_files():
            if now - followed.reloaded_at >= RELOAD_AGAIN_SECONDS:
                followed.reloaded_at = now
                pm2_daemon.reload_logs()
            return
        if os.fstat(followed.fd).st_size > followed.offset:
            return  # written before the daemon let go: the next pass reads it
        if followed.partial:
            self.take_partial(followed)
        if not self.flush(force=True, only=followed.source):
            return
        try:
            os.unlink(followed.path)
        except FileNotFoundError:
            pass
        self.close(followed)

    def close(self, followed: Followed, *, ignore: bool = False) -> None:
        """Stop following a file that is done (its lines stored), or whose deployment went
        (`ignore`: not opened again), and forget its cursor."""
        if not ignore and any(pending_file is followed for pending_file in
                              self.pending.get(followed.source, Pending()).files):
            if not self.flush(force=True, only=followed.source):
                return
        os.close(followed.fd)
        del self.followed[followed.identity]
        if ignore:
            self.ignored.add(followed.identity)
        try:
            LogCursor.objects.filter(host_name=self.host_name, path=followed.live,
                                     inode=followed.identity[1]).delete()
        except DatabaseError:
            connection.close()  # forget_cursors removes it later

    def forget_cursors(self) -> None:
        """Remove the cursors of files that are no longer followed (once a scan looked at
        every file: one it could not look up keeps its cursor)."""
        self.cleaned_at = time.monotonic()
        if not self.complete:
            return
        self.cursors.clear()
        kept = {(followed.live, followed.identity[1]) for followed in self.followed.values()}
        try:
            for pk, path, inode in (LogCursor.objects.filter(host_name=self.host_name)
                                    .values_list("pk", "path", "inode")):
                if (path, inode) not in kept:
                    LogCursor.objects.filter(pk=pk).delete()
        except DatabaseError:
            connection.close()
