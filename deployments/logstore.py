"""Where log lines are kept: one table per workspace schema, partitioned by the day each line
expires (DESIGN.md §6).

A line expires `Service.log_retention_days` after it was written. Its partition, one per
expiry day, is created when the first line for that day arrives, and dropped whole by the
clock once the day has come (`drop_expired`): retention never DELETEs rows, so the table
neither bloats nor needs a vacuum after a chatty app's lines go.

Sequence numbers come from a counter on the deployment row, taken in the same transaction as
the insert: two writers of one deployment (a build and the monitor, or the log shipper) get
numbers in the order they commit, with no gap and no clash, so a reader that has line N knows
that N+1 is the next to appear.

Lines go in with COPY. How many lines and bytes each service keeps is counted per expiry day
in LogVolume as they go in, so a page shows the size without reading the lines.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg.errors
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

MAX_LINE_BYTES = 8 * 1024
# What CREATE TABLE IF NOT EXISTS raises when another session creates the table meanwhile.
ALREADY_EXISTS = (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation)
TABLE = "deployments_logline"
PARTITION = re.compile(rf"{TABLE}_(\d{{8}})")
COLUMNS = ("deployment_id", "service_id", "sequence", "stream", "phase", "timestamp", "text",
           "level", "attributes", "expires_on")
# What JSON loggers call their level (pino, bunyan, zap, structlog, logrus, winston...).
LEVEL_KEYS = ("level", "severity", "lvl", "loglevel", "log.level")
LEVEL_NAMES = {"warn": "warning", "err": "error", "information": "info", "eror": "error",
               "crit": "critical", "dbg": "debug", "trc": "trace"}
# pino and bunyan write numbers.
NUMERIC_LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "fatal"}


@dataclass(slots=True)
class NewLine:
    """A line to store: what the engine or the shipper read."""

    text: str
    stream: str
    phase: str = ""
    timestamp: datetime | None = None


@dataclass(slots=True)
class StoredLine:
    deployment_id: int
    sequence: int
    stream: str
    phase: str
    timestamp: datetime
    text: str
    level: str
    attributes: dict | None

    def as_message(self) -> dict:
        """The line as it travels on the channel layer (msgpack: plain types only)."""
        return {"sequence": self.sequence, "stream": self.stream, "phase": self.phase,
                "timestamp": self.timestamp.astimezone(UTC).isoformat(timespec="microseconds"),
                "text": self.text,
                "level": self.level, "attributes": self.attributes}


def cut(text: str) -> str:
    """The line within MAX_LINE_BYTES, with a marker saying how much was cut; no NUL (a
    PostgreSQL text cannot hold one)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if len(text) * 4 <= MAX_LINE_BYTES:
        return text
    encoded = text.encode()
    if len(encoded) <= MAX_LINE_BYTES:
        return text
    kept = encoded[:MAX_LINE_BYTES].decode(errors="ignore")
    return f"{kept}… [line cut: {len(encoded) - len(kept.encode())} more bytes]"


def level_name(value: object) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return NUMERIC_LEVELS.get(int(value), "")
    if not isinstance(value, str):
        return ""
    name = value.strip().lower()
    return LEVEL_NAMES.get(name, name)[:16]


def structured(text: str) -> tuple[str, dict | None]:
    """(level, attributes) of a line that is a JSON object; ("", None) otherwise."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return "", None
    try:
        value = json.loads(stripped)
    except ValueError:
        return "", None
    if not isinstance(value, dict):
        return "", None
    for key in LEVEL_KEYS:
        if key in value:
            return level_name(value[key]), value
    return "", value


def expiry_day(moment: datetime, retention_days: int) -> date:
    return (moment.astimezone(UTC) + timedelta(days=retention_days)).date()


def partition_name(day: date) -> str:
    return f"{TABLE}_{day:%Y%m%d}"


def create_partition(day: date) -> None:
    """The partition of lines expiring on `day`, in the current workspace's schema."""
    quote = connection.ops.quote_name
    name = f"{quote(connection.schema_name)}.{quote(partition_name(day))}"
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {quote(TABLE)}"
                " FOR VALUES FROM (%s) TO (%s)", [day, day + timedelta(days=1)])
    except (IntegrityError, ProgrammingError) as error:
        # Another writer created it at the same moment: "already exists".
        if not isinstance(error.__cause__, ALREADY_EXISTS):
            raise


def append(deployment_id: int, service_id: int, retention_days: int,
           lines: Sequence[NewLine]) -> list[StoredLine]:
    """Store `lines` as the deployment's next ones, in one transaction (a savepoint inside the
    caller's). [] when the deployment is gone (deleted with its service)."""
    if not lines:
        return []
    now = timezone.now()
    stored = []
    for line in lines:
        text = cut(line.text)
        level, attributes = structured(text)
        stored.append(StoredLine(deployment_id, 0, line.stream, line.phase,
                                 line.timestamp or now, text, level, attributes))
    by_moment: dict[datetime, date] = {}  # a batch's lines mostly share their moment
    days = []
    for line in stored:
        day = by_moment.get(line.timestamp)
        if day is None:
            day = by_moment[line.timestamp] = expiry_day(line.timestamp, retention_days)
        days.append(day)
    try:
        return _insert(service_id, stored, days)
    except psycopg.errors.CheckViolation:  # no partition for a day yet
        for day in set(days):
            create_partition(day)
        return _insert(service_id, stored, days)


def _insert(service_id: int, lines: list[StoredLine], days: list[date]) -> list[StoredLine]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE deployments_deployment SET log_sequence = log_sequence + %s"
            " WHERE id = %s RETURNING log_sequence", [len(lines), lines[0].deployment_id])
        row = cursor.fetchone()
        if row is None:
            return []
        first = row[0] - len(lines) + 1
        with cursor.copy(f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for offset, (line, day) in enumerate(zip(lines, days, strict=True)):
                line.sequence = first + offset
                copy.write_row((
                    line.deployment_id, service_id, line.sequence, line.stream, line.phase,
                    line.timestamp, line.text, line.level,
                    Jsonb(line.attributes) if line.attributes is not None else None, day,
                ))
        _count(cursor, service_id, lines, days)
    return lines


def _count(cursor: object, service_id: int, lines: list[StoredLine], days: list[date]) -> None:
    counts: Counter[date] = Counter(days)
    sizes: Counter[date] = Counter()
    for line, day in zip(lines, days, strict=True):
        sizes[day] += len(line.text.encode())
    for day in sorted(counts):
        cursor.execute(
            "INSERT INTO deployments_logvolume (service_id, expires_on, lines, bytes)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (service_id, expires_on) DO UPDATE SET"
            " lines = deployments_logvolume.lines + EXCLUDED.lines,"
            " bytes = deployments_logvolume.bytes + EXCLUDED.bytes",
            [service_id, day, counts[day], sizes[day]])


def partitions() -> list[date]:
    """The expiry days that have a partition in the current workspace's schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits"
            " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
            " WHERE pg_inherits.inhparent = %s::regclass",
            [f"{connection.ops.quote_name(connection.schema_name)}.{TABLE}"])
        names = [name for (name,) in cursor.fetchall()]
    return sorted(date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:]))
                  for m in map(PARTITION.fullmatch, names) if m)


def drop_expired(today: date | None = None) -> list[date]:
    """Drop the partitions of lines that expired (their day has come), in the current
    workspace's schema; return their days."""
    today = today or timezone.now().astimezone(UTC).date()
    quote = connection.ops.quote_name
    dropped = [day for day in partitions() if day <= today]
    with transaction.atomic(), connection.cursor() as cursor:
        # Deferred foreign key checks of lines this transaction wrote would block the drop.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for day in dropped:
            cursor.execute(f"DROP TABLE IF EXISTS {quote(connection.schema_name)}."
                           f"{quote(partition_name(day))}")
        cursor.execute("DELETE FROM deployments_logvolume WHERE expires_on <= %s", [today])
    return dropped


def volumes(service_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """service id → (lines, bytes) of its stored log."""
    from_db: dict[int, tuple[int, int]] = {}
    today = timezone.now().astimezone(UTC).date()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT service_id, sum(lines), sum(bytes) FROM deployments_logvolume"
            " WHERE service_id = ANY(%s) AND expires_on > %s GROUP BY service_id",
            [list(service_ids), today])
        for service_id, lines, size in cursor.fetchall():
            from_db[service_id] = (int(lines), int(size))
    return from_db
