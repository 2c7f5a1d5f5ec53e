"""Creating a workspace: cloning the template schema versus running every tenant migration.

A temporary database (`bench_paas`) gets the migrations, the template schema and
BENCH_EXISTING_WORKSPACES (200) workspaces made by `create_workspace`, as a panel in use would
have. Then, in
BENCH_WORKSPACE_ROUNDS (7) rounds, one workspace is created by each way -- the order swapped
every round -- timed around `tenants.services.create_workspace`, checked to have been made the
way it claims, and deleted. One untimed workspace of each kind goes first, as a warm-up. The
database is dropped at the end, whatever happens.

The migrations way is what django-tenants does without TENANT_CREATION_FAKES_MIGRATIONS:
`TenantMixin.create_schema` creates an empty schema and runs `migrate_schemas` on it. The clone
way is `tenants.cloning.clone_template`.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from benchmarks._database import temporary_database
from tenants.models import User
from tenants.services import create_workspace

BENCH_DATABASE = "bench_paas"
EXISTING_WORKSPACES = int(os.environ.get("BENCH_EXISTING_WORKSPACES", "200"))
ROUNDS = int(os.environ.get("BENCH_WORKSPACE_ROUNDS", "7"))


def database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def schema_footprint(schema: str) -> set[tuple[str, str]]:
    """The schema's relations (tables, indexes, sequences...) and constraints, by name and kind."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relkind::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "UNION ALL "
            "SELECT k.conname, 'constraint ' || k.contype::text FROM pg_constraint k "
            "JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname = %s",
            [schema, schema],
        )
        return set(cursor.fetchall())


def migrations_applied(schema: str) -> tuple[int, datetime]:
    """How many migrations the schema records, and when the earliest was applied."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*), min(applied) FROM "{schema}".django_migrations'  # noqa: S608
        )
        return cursor.fetchone()


def check_made_by(kind: str, schema: str, started: datetime) -> None:
    """Fail unless `schema` was made the way `kind` says, with the template's objects.

    A clone copies the template's django_migrations rows, applied before the benchmark
    started; running the migrations records every row anew. Either way the schema must hold
    the template's objects under the template's names.
    """
    template = settings.TENANT_BASE_SCHEMA
    count, earliest = migrations_applied(schema)
    template_count, _ = migrations_applied(template)
    if count != template_count:
        raise AssertionError(f"{schema} records {count} migrations, the template {template_count}")
    cloned = earliest < started
    if cloned != (kind == "clone"):
        how = "cloned" if cloned else "migrated"
        raise AssertionError(f"{schema} should have been made by {kind} but was {how}")
    made, expected = schema_footprint(schema), schema_footprint(template)
    if made != expected:
        raise AssertionError(
            f"{schema} ({kind}) differs from the template: missing "
            f"{sorted(name for name, _ in expected - made)}, "
            f"instead {sorted(name for name, _ in made - expected)}"
        )


def creation_settings(kind: str) -> override_settings:
    return override_settings(TENANT_CREATION_FAKES_MIGRATIONS=(kind == "clone"))


def timed_creation(kind: str, slug: str, owner: object) -> float:
    """Milliseconds to create the workspace `slug` by `kind`; it is deleted afterwards."""
    # Each creation with the connection a request gets (from the pool, or new without one).
    connection.close()
    connection.set_schema_to_public()
    started = database_now()
    with creation_settings(kind):
        before = time.perf_counter()
        workspace = create_workspace(slug, slug, owner)
        elapsed = time.perf_counter() - before
    try:
        check_made_by(kind, workspace.schema_name, started)
    finally:
        connection.set_schema_to_public()
        workspace.delete(force_drop=True)
    return elapsed * 1000


def populate(owner: object, count: int, progress: Callable[[str], None]) -> None:
    """`count` workspaces through create_workspace, as users would have made them."""
    for done in range(1, count + 1):
        create_workspace(f"bench-{done:04d}", f"Bench {done}", owner)
        if done % 50 == 0:
            progress(f"  {done}/{count} workspaces present")


def run() -> dict[str, dict]:
    def progress(message: str) -> None:
        print(message, flush=True)

    if ROUNDS < 1:
        raise ValueError("BENCH_WORKSPACE_ROUNDS must be at least 1")
    with temporary_database(BENCH_DATABASE):
        call_command("migrate_template", verbosity=0)
        owner = User.objects.create_user("bench-owner@example.com", None, name="Bench Owner")
        setup_started = time.perf_counter()
        populate(owner, EXISTING_WORKSPACES, progress)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # the statistics autovacuum would have caught up on
        progress(f"  set-up of {EXISTING_WORKSPACES} workspaces: "
                 f"{time.perf_counter() - setup_started:.1f} s")

        timings: dict[str, list[float]] = {"clone": [], "migrate": []}
        for kind in timings:
            timed_creation(kind, f"bench-warmup-{kind}", owner)
        for round_number in range(ROUNDS):
            order = ("clone", "migrate") if round_number % 2 == 0 else ("migrate", "clone")
            for kind in order:
                timings[kind].append(timed_creation(kind, f"bench-{kind}-{round_number}", owner))
            progress(f"  round {round_number + 1}/{ROUNDS}: "
                     f"clone {timings['clone'][-1]:.0f} ms, "
                     f"migrate {timings['migrate'][-1]:.0f} ms")
        connection.set_schema_to_public()

    clone_ms = statistics.median(timings["clone"])
    migrate_ms = statistics.median(timings["migrate"])
    return {
        "workspace_create_clone_vs_migrate_ratio": {
            "value": round(clone_ms / migrate_ms, 3), "unit": "ratio", "goal": "< 1",
        },
        "workspace_create_clone_ms": {
            "value": round(clone_ms, 1), "unit": "ms", "goal": "informational",
        },
    }
