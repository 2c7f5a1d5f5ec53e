"""A deployment's log: every line stored (LogLine, batched) and published live to
`logs.<schema>.<deployment>` (DESIGN.md §6).

The deploy engine writes git, build, health and switch output through a LogWriter. Lines are
buffered and flushed in batches (one INSERT and one channel-layer message per batch), so a
chatty build does not cost a query per line. Values of the deployment's variables are masked
before a line is stored or sent: a build that echoes a secret does not leak it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from core.events import logs_group, send_to_group
from deployments.models import Deployment, LogLine, Phase, Stream

logger = logging.getLogger(__name__)
MASK = "*****"
# Values shorter than this are not masked: "1" or "true" would blank out every line.
MIN_MASKED_LENGTH = 5
MAX_LINE_LENGTH = 8 * 1024
FLUSH_LINES = 100
FLUSH_SECONDS = 0.3


def secret_values(variables: dict[str, str]) -> list[str]:
    """The values to mask, longest first (so that a value containing another is masked whole).
    The platform's own PAAS_* values (domain, names) are not secrets."""
    values = set()
    for key, value in variables.items():
        if key.startswith("PAAS_"):
            continue
        # A multi-line value (a key file) reaches the log one line at a time.
        values.update(part for part in (value, *value.splitlines())
                      if len(part.strip()) >= MIN_MASKED_LENGTH)
    return sorted(values, key=len, reverse=True)


class LogWriter:
    """Appends lines to one deployment's log. Use as a context manager, or call close().

    Other threads (a build's output reader) may write; only the thread that made the writer
    stores and publishes (its database connection is in the workspace's schema), when a batch
    is due or on flush_if_due()/flush()."""

    def __init__(self, deployment: Deployment, *, secrets: Iterable[str] = ()) -> None:
        self.deployment_id = deployment.pk
        self.schema_name = connection.schema_name
        self.secrets = list(secrets)
        self._pending: list[LogLine] = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._next_sequence: int | None = None
        self._owner = threading.get_ident()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def mask(self, text: str) -> str:
        for value in self.secrets:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def add_secrets(self, values: Iterable[str]) -> None:
        with self._lock:
            self.secrets = sorted({*self.secrets, *values}, key=len, reverse=True)

    def write(self, text: str, *, phase: Phase, stream: Stream = Stream.BUILD) -> None:
        """Queue one line (or several, split on newlines) for the log."""
        now = timezone.now()
        lines = text.rstrip("\n").split("\n") if text else [""]
        with self._lock:
            for line in lines:
                line = self.mask(line.rstrip("\r"))[:MAX_LINE_LENGTH]
                self._pending.append(LogLine(
                    deployment_id=self.deployment_id, stream=stream, phase=phase,
                    timestamp=now, text=line, sequence=0,
                ))
        self.flush_if_due()

    def flush_if_due(self) -> None:
        with self._lock:
            due = (len(self._pending) >= FLUSH_LINES
                   or time.monotonic() - self._last_flush >= FLUSH_SECONDS)
        if due:
            self.flush()

    def flush(self) -> None:
        if threading.get_ident() != self._owner:
            return
        with self._lock:
            batch, self._pending = self._pending, []
            self._last_flush = time.monotonic()
        if not batch:
            return
        self._store(batch)
        self._publish(batch)

    def close(self) -> None:
        self.flush()

    def _store(self, batch: list[LogLine]) -> None:
        for attempt in range(3):
            if self._next_sequence is None or attempt:
                last = LogLine.objects.filter(deployment_id=self.deployment_id).aggregate(
                    last=Max("sequence"))["last"]
                self._next_sequence = (last or 0) + 1
            for offset, line in enumerate(batch):
                line.sequence = self._next_sequence + offset
            try:
                with transaction.atomic():
                    LogLine.objects.bulk_create(batch)
            except IntegrityError:  # another writer (the monitor) took those numbers
                if not Deployment.objects.filter(pk=self.deployment_id).exists():
                    return  # deleted with its project: nowhere to store the lines
                continue
            self._next_sequence += len(batch)
            return
        raise RuntimeError(f"could not store log lines of deployment {self.deployment_id}")

    def _publish(self, batch: list[LogLine]) -> None:
        message = {
            "type": "log.lines",
            "lines": [
                {"sequence": line.sequence, "stream": line.stream, "phase": line.phase,
                 "timestamp": line.timestamp.isoformat(), "text": line.text}
                for line in batch
            ],
        }
        try:
            send_to_group(logs_group(self.schema_name, self.deployment_id), message)
        except Exception:  # the stored log is the guarantee (DESIGN.md §6)
            logger.warning("could not publish log lines of deployment %s", self.deployment_id,
                           exc_info=True)


def log_once(deployment: Deployment, text: str, *, phase: Phase,
             stream: Stream = Stream.DEPLOY) -> None:
    """Store and publish one line at once (the monitor, a restart, a stop)."""
    with LogWriter(deployment) as writer:
        writer.write(text, phase=phase, stream=stream)
