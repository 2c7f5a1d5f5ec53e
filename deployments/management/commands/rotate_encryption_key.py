"""Re-encrypt every stored secret under the newest key of PAAS_ENCRYPTION_KEYS (DESIGN.md §7).

    python manage.py rotate_encryption_key [--batch-size 500]

Rotation: put a new key first in PAAS_ENCRYPTION_KEYS, keeping the old ones after it; restart
the panel and workers; run this command; once a run moves 0 values and reports no problem, the
old keys may be removed.

Every workspace schema is visited: variables, staged changes and deployment snapshots. Each
value not under the newest key is decrypted with its own key and encrypted with the newest,
bound to the same owner (associated data). Rows go in primary-key order, in batches that are
each one transaction with their rows locked, so the command can be interrupted and run again;
values already under the newest key are not touched. A value that does not decrypt is reported
(workspace, kind, id, name and key id: never a value) and left as it is, the others go on, and
the command exits non-zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models.functions import Substr
from django_tenants.utils import get_public_schema_name, tenant_context

from core.crypto import SEPARATOR, DecryptionError, Keyring, KeyringError, key_id_of, keyring
from deployments.models import Deployment
from deployments.snapshots import snapshot_associated_data
from projects.models import StagedChange, Variable
from tenants.models import Workspace

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class Kind:
    """A kind of stored secret: where it lives and what its ciphertext is bound to."""

    label: str
    model: type[models.Model]
    field: str
    columns: tuple[str, ...]
    associated_data: Callable[[models.Model], bytes]
    describe: Callable[[models.Model], str]

    def pending(self, ring: Keyring) -> models.QuerySet:
        """Rows with a value that is not under the newest key (checked again row by row)."""
        prefix = ring.primary_id.encode() + SEPARATOR
        return (
            self.model.objects.filter(**{f"{self.field}__isnull": False})
            .annotate(_key_prefix=Substr(self.field, 1, len(prefix),
                                         output_field=models.BinaryField()))
            .exclude(_key_prefix=prefix)
            .only("pk", self.field, *self.columns)
            .order_by("pk")
        )


def kinds() -> list[Kind]:
    def owned(row: Variable | StagedChange) -> str:
        return f"{row.owner_type} {row.owner_id}, {row.key}"

    return [
        Kind("variables", Variable, "ciphertext", ("service_id", "environment_id", "key"),
             lambda row: row.associated_data(), owned),
        Kind("staged changes", StagedChange, "ciphertext", ("service_id", "environment_id", "key"),
             lambda row: row.associated_data(), owned),
        Kind("deployment snapshots", Deployment, "variables_snapshot", ("service_id", "number"),
             snapshot_associated_data,
             lambda row: f"service {row.service_id}, deployment #{row.number}"),
    ]


@dataclass(frozen=True)
class Problem:
    workspace: str
    kind: str
    row_id: int
    name: str
    key_id: str
    reason: str

    def __str__(self) -> str:
        return (f"{self.workspace}: {self.kind} id {self.row_id} ({self.name}), "
                f"key {self.key_id!r}: {self.reason}")


class Command(BaseCommand):
    help = ("Re-encrypt every stored secret (variables, staged changes, deployment snapshots) "
            "of every workspace under the newest key of PAAS_ENCRYPTION_KEYS.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
            help=f"rows per transaction (default {DEFAULT_BATCH_SIZE})",
        )

    def handle(self, *args: object, batch_size: int, **options: object) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            ring = keyring()
        except KeyringError as error:
            raise CommandError(str(error)) from None
        older = [key_id for key_id in ring.key_ids if key_id != ring.primary_id]
        self.stdout.write(f"Newest key: {ring.primary_id!r}; older keys: "
                          f"{', '.join(repr(k) for k in older) or 'none'}.")

        self.moved: Counter[str] = Counter()
        self.problems: list[Problem] = []
        workspaces = Workspace.objects.exclude(schema_name=get_public_schema_name()).order_by("pk")
        try:
            for workspace in workspaces:
                with tenant_context(workspace):
                    before = sum(self.moved.values())
                    for kind in kinds():
                        self.rotate_kind(workspace.slug, kind, ring, batch_size)
                    moved_here = sum(self.moved.values()) - before
                if moved_here:
                    self.stdout.write(f"  {workspace.slug}: {moved_here} value(s) moved")
        except KeyboardInterrupt:
            self.report(ring)
            raise CommandError(
                "Interrupted. The values above were moved; the batch in progress was rolled "
                "back. Run the command again to move the rest.", returncode=130,
            ) from None
        self.report(ring)
        if self.problems:
            raise CommandError(
                f"{len(self.problems)} value(s) could not be decrypted and are still under "
                "their old key (listed above). Keep the old keys until they are dealt with."
            )

    def rotate_kind(self, workspace: str, kind: Kind, ring: Keyring, batch_size: int) -> None:
        last_pk = 0
        while True:
            with transaction.atomic():
                rows = list(
                    kind.pending(ring).filter(pk__gt=last_pk).select_for_update()[:batch_size]
                )
                if not rows:
                    return
                last_pk = rows[-1].pk
                moved = self.rotate_batch(workspace, kind, rows, ring)
            self.moved[kind.label] += moved
            if len(rows) < batch_size:
                return

    def rotate_batch(self, workspace: str, kind: Kind, rows: list[models.Model],
                     ring: Keyring) -> int:
        """Re-encrypt the rows (locked, in a transaction); return how many were moved."""
        changed = []
        for row in rows:
            token = bytes(getattr(row, kind.field))
            try:
                if ring.is_current(token):
                    continue
                data = kind.associated_data(row)
                setattr(row, kind.field, ring.encrypt(ring.decrypt(token, data), data))
            except DecryptionError as error:
                self.problems.append(Problem(
                    workspace, kind.label, row.pk, kind.describe(row), safe_key_id(token),
                    str(error),
                ))
                continue
            changed.append(row)
        if changed:
            kind.model.objects.bulk_update(changed, [kind.field])
        return len(changed)

    def report(self, ring: Keyring) -> None:
        total = sum(self.moved.values())
        by_kind = ", ".join(f"{label}: {self.moved[label]}" for label in
                            (kind.label for kind in kinds()))
        self.stdout.write(f"Moved {total} value(s) to key {ring.primary_id!r} ({by_kind}).")
        for problem in self.problems:
            self.stderr.write(f"Could not decrypt: {problem}")


def safe_key_id(token: bytes) -> str:
    try:
        return key_id_of(token)
    except DecryptionError:
        return "?"
