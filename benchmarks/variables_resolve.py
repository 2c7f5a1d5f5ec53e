"""Resolving a service's 1,000 variables for a deployment versus decrypting them raw.

A temporary database (`bench_paas_variables`) gets the migrations, the template schema and one
workspace with a project whose `production` environment has BENCH_SHARED_VARIABLES (40) shared
variables, a service `db` with 40 variables, and the service `web` with 1,000: most plain
values (tokens, URLs, numbers, flags, JSON), about 6 % referencing `${{ shared.X }}`, about 4 %
referencing `${{ db.Y }}` (some of them the platform's PAAS_PRIVATE_URL / PAAS_PUBLIC_DOMAIN),
a few several references in one value.

Then BENCH_RESOLVE_ROUNDS (31) rounds of resolve against raw, the order swapped every round,
and as many of "with fetch" against raw (a series of its own, so that its database work does
not cool the caches of the other two); each timed with the garbage collector paused, as timeit
does:

- resolve: what a deployment does with the service's stored ciphertexts once they are read:
  decrypt them through the keyring (with their associated data) and resolve the references,
  which also decrypts what the references reach (the shared variables and `db`'s):
  `projects.references.Resolver` fed the rows already read from the database;
- raw: `cryptography`'s AESGCM.decrypt of the same 1,000 ciphertexts, already in memory, with
  their nonces and associated data: the cost of the cryptography alone, the floor;
- with fetch (informational): `resolve_service(web)`, the same plus reading the rows and the
  services from PostgreSQL.

Three untimed rounds of each go first. The ratios are medians of the per-round ratios. The
database is dropped at the end, whatever happens.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import statistics
import time
from collections.abc import Callable

from django.core.management import call_command
from django.db import connection

from benchmarks._database import temporary_database
from benchmarks._timing import without_gc

BENCH_DATABASE = "bench_paas_variables"
VARIABLES = 1000
SHARED_VARIABLES = int(os.environ.get("BENCH_SHARED_VARIABLES", "40"))
OTHER_VARIABLES = 40
ROUNDS = int(os.environ.get("BENCH_RESOLVE_ROUNDS", "31"))
WARMUP = 3
GOAL = 2.0


def plain_value(rng: random.Random, number: int) -> str:
    """A value like those people keep in variables."""
    kind = number % 6
    if kind == 0:
        return rng.randbytes(24).hex()  # an API token
    if kind == 1:
        return f"https://api-{number}.example.com/v1/hooks?x={rng.randrange(10**9)}"
    if kind == 2:
        return str(rng.randrange(1, 65536))  # a port, a size, a timeout
    if kind == 3:
        return rng.choice(["true", "false", "production", "info", "debug", "eu-west-1"])
    if kind == 4:
        feature, rollout = rng.randbytes(4).hex(), rng.randrange(100)
        return f'{{"feature": "{feature}", "rollout": {rollout}, "allow": ["a", "b"]}}'
    return "-----BEGIN KEY-----\n" + rng.randbytes(300).hex() + "\n-----END KEY-----"


def web_values(rng: random.Random) -> dict[str, str]:
    values = {}
    for number in range(VARIABLES):
        key = f"WEB_{number:04d}"
        roll = number % 100
        if roll < 6:  # a shared variable
            values[key] = f"${{{{ shared.SHARED_{number % SHARED_VARIABLES:02d} }}}}"
        elif roll < 9:  # another service's variable
            values[key] = f"${{{{ db.DB_{number % OTHER_VARIABLES:02d} }}}}"
        elif roll == 9:  # several in one value, and the platform's
            values[key] = ("postgres://${{ shared.SHARED_00 }}:${{ db.DB_01 }}@"
                           "${{ db.PAAS_PUBLIC_DOMAIN }}/app?sslmode=require")
        else:
            values[key] = plain_value(rng, number)
    return values


def populate() -> object:
    """The workspace's project; returns the service `web` (1,000 variables)."""
    from projects.models import Environment, Variable
    from projects.services import create_project, create_service

    rng = random.Random(20250101)  # noqa: S311 - test data
    environment = create_project("Bench").environments.get(name=Environment.PRODUCTION)
    web = create_service(environment, "web")
    db = create_service(environment, "db")
    rows = []
    for owner, values in (
        (environment, {f"SHARED_{n:02d}": plain_value(rng, n) for n in range(SHARED_VARIABLES)}),
        (db, {f"DB_{n:02d}": plain_value(rng, n) for n in range(OTHER_VARIABLES)}),
        (web, web_values(rng)),
    ):
        for key, value in values.items():
            field = "environment" if owner is environment else "service"
            row = Variable(**{field: owner}, key=key)
            row.set_value(value)
            rows.append(row)
    Variable.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return web


def raw_material(service: object) -> list[tuple[object, bytes, bytes, bytes]]:
    """For each of the service's ciphertexts: the AESGCM of its key, nonce, sealed bytes, AAD."""
    from core.crypto import keyring, split
    from projects.models import Variable

    ring = keyring()
    material = []
    for variable in Variable.objects.filter(service=service):
        key_id, nonce, sealed = split(variable.ciphertext)
        cipher = ring._ciphers[key_id]  # noqa: SLF001 - the same AESGCM the keyring uses
        material.append((cipher, nonce, sealed, variable.associated_data()))
    return material


def stored_rows(service: object) -> tuple[list, dict[str, list[tuple[str, bytes]]]]:
    """The environment's services and every scope's (key, ciphertext) rows, read once."""
    from projects.models import Variable
    from projects.references import SHARED

    environment = service.environment
    services = list(environment.services.select_related("active_deployment",
                                                        "environment__project"))
    rows = {SHARED: list(Variable.objects.filter(environment=environment)
                         .values_list("key", "ciphertext"))}
    for each in services:
        rows[each.name] = list(Variable.objects.filter(service=each)
                               .values_list("key", "ciphertext"))
    return services, rows


def time_resolve(service: object, services: list, rows: dict) -> float:
    from projects.references import Resolver

    started = time.perf_counter()
    values = Resolver(service.environment, services=services, rows=rows.__getitem__).resolve(
        service.name
    )
    elapsed = time.perf_counter() - started
    if len(values) < VARIABLES:
        raise AssertionError(f"resolved {len(values)} variables, expected {VARIABLES} and more")
    return elapsed * 1000


def time_resolve_with_fetch(service: object) -> float:
    from projects.references import resolve_service

    started = time.perf_counter()
    values = resolve_service(service)
    elapsed = time.perf_counter() - started
    if len(values) < VARIABLES:
        raise AssertionError(f"resolved {len(values)} variables, expected {VARIABLES} and more")
    return elapsed * 1000


def alternate(measured: Callable[[], float], baseline: Callable[[], float]
              ) -> tuple[list[float], list[float]]:
    """ROUNDS timings of each, alternating which goes first, after WARMUP untimed rounds."""
    for _ in range(WARMUP):
        measured()
        baseline()
    timings: tuple[list[float], list[float]] = ([], [])
    for round_number in range(ROUNDS):
        pair = [(0, measured), (1, baseline)]
        for side, measure in pair if round_number % 2 == 0 else reversed(pair):
            timings[side].append(without_gc(measure))
    return timings



def time_raw(material: list[tuple[object, bytes, bytes, bytes]]) -> float:
    started = time.perf_counter()
    plaintexts = [cipher.decrypt(nonce, sealed, aad) for cipher, nonce, sealed, aad in material]
    elapsed = time.perf_counter() - started
    if len(plaintexts) != VARIABLES:
        raise AssertionError(f"decrypted {len(plaintexts)} values, expected {VARIABLES}")
    return elapsed * 1000


def check(service: object, material: list) -> None:
    """Both sides do the work they claim: the resolved values are the decrypted ones."""
    from projects.references import resolve_service

    resolved = resolve_service(service)
    plain = {resolved[k] for k in resolved if k.startswith("WEB_")}
    decrypted = {c.decrypt(n, s, a).decode() for c, n, s, a in material}
    unreferenced = {v for v in decrypted if "${{" not in v}
    if not unreferenced <= plain or any("${{" in value for value in resolved.values()):
        raise AssertionError("resolve_service did not return the decrypted, resolved values")


def profile(service: object) -> str:
    from projects.references import resolve_service

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        resolve_service(service)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def run() -> dict[str, dict]:
    from django_tenants.utils import tenant_context

    from tenants.models import User
    from tenants.services import create_workspace

    if ROUNDS < 1:
        raise ValueError("BENCH_RESOLVE_ROUNDS must be at least 1")
    with temporary_database(BENCH_DATABASE):
        call_command("migrate_template", verbosity=0)
        owner = User.objects.create_user("bench-owner@example.com", None, name="Bench Owner")
        workspace = create_workspace("bench-variables", "Bench variables", owner)
        with tenant_context(workspace):
            web = populate()
            material = raw_material(web)
            check(web, material)
            services, rows = stored_rows(web)
            resolve_ms, raw_ms = alternate(lambda: time_resolve(web, services, rows),
                                           lambda: time_raw(material))
            ratio = statistics.median(a / b for a, b in zip(resolve_ms, raw_ms, strict=True))
            fetch_ms, fetch_raw_ms = alternate(lambda: time_resolve_with_fetch(web),
                                               lambda: time_raw(material))
            fetch_ratio = statistics.median(
                a / b for a, b in zip(fetch_ms, fetch_raw_ms, strict=True)
            )
            print(f"  resolve {statistics.median(resolve_ms):.2f} ms, raw decrypt "
                  f"{statistics.median(raw_ms):.2f} ms; with fetch "
                  f"{statistics.median(fetch_ms):.2f} ms (medians of {ROUNDS} rounds)",
                  flush=True)
            if ratio > GOAL or os.environ.get("BENCH_PROFILE"):
                print(f"  ratio {ratio:.1f} > {GOAL}: where resolve_service spends its time "
                      "(5 calls)", flush=True)
                print(profile(web), flush=True)

    return {
        "variables_resolve_vs_raw_decrypt_ratio": {
            "value": round(ratio, 3), "unit": "ratio", "goal": f"<= {GOAL:g}",
        },
        "variables_resolve_ms": {
            "value": round(statistics.median(resolve_ms), 2), "unit": "ms",
            "goal": "informational",
        },
        "variables_resolve_with_fetch_vs_raw_decrypt_ratio": {
            "value": round(fetch_ratio, 3), "unit": "ratio", "goal": "informational",
        },
    }
