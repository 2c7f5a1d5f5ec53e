"""A deployment's log as the deploy engine writes it: every line stored (deployments.logstore)
and published live to `logs.<schema>.<deployment>` and to its environment's
`logs.<schema>.environment.<id>` (DESIGN.md §6).

The deploy engine writes git, build, health and switch output through a LogWriter. Lines are
buffered and flushed in batches (one COPY and one channel-layer message per group per batch),
so a chatty build does not cost a query per line. Values of the deployment's variables are
masked before a line is stored or sent: a build that echoes a secret does not leak it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from core.events import environment_logs_group, logs_group, send_to_group
from deployments import logstore
from deployments.logstore import NewLine, StoredLine
from deployments.models import Deployment, Phase, Stream

logger = logging.getLogger(__name__)
MASK = "*****"
# Values shorter than this are not masked: "1" or "true" would blank out every line.
MIN_MASKED_LENGTH = 5
FLUSH_LINES = 500
FLUSH_SECONDS = 0.05


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


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every value of `secrets` (longest first: secret_values) replaced by MASK."""
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    return text


@dataclass(frozen=True, slots=True)
class LogTarget:
    """Where a deployment's lines go: its rows and its channel groups."""

    schema_name: str
    deployment_id: int
    service_id: int
    environment_id: int
    retention_days: int

    @classmethod
    def of(cls, deployment: Deployment) -> LogTarget:
        service = deployment.service
        return cls(connection.schema_name, deployment.pk, service.pk, service.environment_id,
                   service.log_retention_days)


def store_and_publish(target: LogTarget, lines: Sequence[NewLine]) -> list[StoredLine]:
    """Store the lines (in the caller's transaction) and publish them once it commits."""
    stored = logstore.append(target.deployment_id, target.service_id, target.retention_days,
                             lines)
    if stored:
        transaction.on_commit(lambda: publish(target, stored))
    return stored


def publish(target: LogTarget, lines: Sequence[StoredLine]) -> None:
    """Send stored lines to the deployment's and the environment's open pages. A message the
    layer drops (Redis down, a full channel) is not lost: readers catch up from the store."""
    message = {"type": "log.lines", "deployment": target.deployment_id,
               "service": target.service_id, "lines": [line.as_message() for line in lines]}
    for group in (logs_group(target.schema_name, target.deployment_id),
                  environment_logs_group(target.schema_name, target.environment_id)):
        try:
            send_to_group(group, message)
        except Exception:  # the stored log is the guarantee (DESIGN.md §6)
            logger.warning("could not publish log lines of deployment %s",
                           target.deployment_id, exc_info=True)


class LogWriter:
    """Appends lines to one deployment's log. Use as a context manager, or call close().

    Other threads (a build's output reader) may write; only the thread that made the writer
    stores and publishes (its database connection is in the workspace's schema), when a batch
    is due or on flush_if_due()/flush()."""

    def __init__(self, deployment: Deployment, *, secrets: Iterable[str] = ()) -> None:
        self.target = LogTarget.of(deployment)
        self.deployment_id = deployment.pk
        self.secrets = list(secrets)
        self._pending: list[NewLine] = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._owner = threading.get_ident()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def mask(self, text: str) -> str:
        return mask(text, self.secrets)

    def add_secrets(self, values: Iterable[str]) -> None:
        with self._lock:
            self.secrets = sorted({*self.secrets, *values}, key=len, reverse=True)

    def write(self, text: str, *, phase: Phase, stream: Stream = Stream.BUILD) -> None:
        """Queue one line (or several, split on newlines) for the log."""
        now = timezone.now()
        lines = text.rstrip("\n").split("\n") if text else [""]
        with self._lock:
            for line in lines:
                self._pending.append(NewLine(self.mask(line.rstrip("\r")), stream, phase, now))
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
        if batch:
            store_and_publish(self.target, batch)

    def close(self) -> None:
        self.flush()


def log_once(deployment: Deployment, text: str, *, phase: Phase,
             stream: Stream = Stream.DEPLOY) -> None:
    """Store and publish one line at once (the monitor, a restart, a stop)."""
    with LogWriter(deployment) as writer:
        writer.write(text, phase=phase, stream=stream)
