"""Traefik's dynamic configuration for 1,000 routes: what the panel spends on each of
Traefik's polls (every 5 s by default).

A temporary database (`bench_paas_traefik`) gets one workspace with BENCH_TRAEFIK_SUBDOMAINS
(100) subdomains of the panel and 1,000 routes: generated domains, previews and custom
domains, a tenth of them balanced over two or three upstreams, a few on another host.

Then BENCH_TRAEFIK_ROUNDS (31) rounds, alternating which goes first, each timed with the
garbage collector paused:

- endpoint: GET /traefik/config through Django's test client with the bearer token, as
  Traefik asks for it: the middleware, the two queries, the checks of every hostname and
  upstream, the routers and services, the sorted JSON and its ETag;
- baseline: the same two queries and a bare `json.dumps` of the rows they read, the least any
  endpoint serving this table could do.

Three untimed rounds go first. `traefik_config_ms_1000_routes` is the endpoint's median,
`traefik_config_vs_bare_ratio` the median of the per-round ratios, and
`traefik_config_cold_ms_1000_routes` one request with the hostname checks forgotten (the
first poll after the panel starts). The database is dropped at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable

from django.conf import settings
from django.core.management import call_command
from django.test import Client

from benchmarks._database import temporary_database
from benchmarks._timing import without_gc
from hosting import traefik
from hosting.models import Route
from tenants.models import Domain, User
from tenants.services import create_workspace

BENCH_DATABASE = "bench_paas_traefik"
ROUTES = 1000
SUBDOMAINS = int(os.environ.get("BENCH_TRAEFIK_SUBDOMAINS", "100"))
ROUNDS = int(os.environ.get("BENCH_TRAEFIK_ROUNDS", "31"))
WARMUP = 3
GOAL_MS = 50
TOKEN = "bench-traefik-token-" + "0" * 32


def populate() -> None:
    owner = User.objects.create_user("bench-traefik@example.com", None, name="Bench")
    workspace = create_workspace("bench-traefik", "Bench Traefik", owner)
    Domain.objects.bulk_create(
        Domain(domain=f"team-{n}.{settings.PAAS_DOMAIN}", tenant=workspace, is_primary=False)
        for n in range(SUBDOMAINS))
    rows = []
    for n in range(ROUTES):
        kind = n % 10
        if kind < 6:
            hostname = f"svc{n}-team{n % 40}.{settings.PAAS_APPS_DOMAIN}"
        elif kind < 8:
            hostname = f"web-pr-{n}-team{n % 40}.{settings.PAAS_APPS_DOMAIN}"
        else:
            hostname = f"www.shop-{n}.example.org"
        address = "10.0.0.2" if n % 50 == 0 else "127.0.0.1"
        ports = [20000 + n, 21000 + n, 22000 + n][: 1 + (n % 10 == 0) + (n % 20 == 0)]
        rows.append(Route(hostname=hostname, upstream=",".join(f"{address}:{p}" for p in ports),
                          schema_name=workspace.schema_name, service_id=n + 1,
                          deployment_id=n + 1))
    Route.objects.bulk_create(rows)


def endpoint(client: Client) -> Callable[[], float]:
    def measure() -> float:
        started = time.perf_counter()
        response = client.get("/traefik/config", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise AssertionError(f"/traefik/config answered {response.status_code}")
        routers = json.loads(response.content)["http"]["routers"]
        if len(routers) < 2 * (ROUTES + SUBDOMAINS):
            raise AssertionError(f"{len(routers)} routers for {ROUTES} routes")
        return elapsed * 1000
    return measure


def baseline() -> float:
    started = time.perf_counter()
    routes = list(Route.objects.order_by("hostname").values_list("hostname", "upstream"))
    domains = list(Domain.objects.filter(domain__endswith=f".{settings.PAAS_DOMAIN}")
                   .order_by("domain").values_list("domain", flat=True))
    body = json.dumps({"routes": routes, "domains": domains}).encode()
    elapsed = time.perf_counter() - started
    if len(routes) != ROUTES or not body:
        raise AssertionError(f"read {len(routes)} routes, expected {ROUTES}")
    return elapsed * 1000



def run() -> dict[str, dict]:
    if ROUNDS < 1:
        raise ValueError("BENCH_TRAEFIK_ROUNDS must be at least 1")
    saved = {"PAAS_TRAEFIK_TOKEN": settings.PAAS_TRAEFIK_TOKEN, "SECURE": settings.SECURE}
    settings.PAAS_TRAEFIK_TOKEN, settings.SECURE = TOKEN, True
    try:
        with temporary_database(BENCH_DATABASE):
            call_command("migrate_template", verbosity=0)
            populate()
            client = Client(HTTP_HOST=settings.PAAS_DOMAIN)
            measure = endpoint(client)
            # The first poll after a start: the middleware and URLs loaded (a refused
            # request does that), no name checked yet.
            client.get("/traefik/config")
            for remembered in (traefik.checked, traefik.rule, traefik.name,
                               traefik.server_urls):
                remembered.cache_clear()
            cold_ms = without_gc(measure)
            for _ in range(WARMUP):
                measure()
                baseline()
            endpoint_ms: list[float] = []
            baseline_ms: list[float] = []
            for round_number in range(ROUNDS):
                pair = [(endpoint_ms, measure), (baseline_ms, baseline)]
                for timings, timed in pair if round_number % 2 == 0 else reversed(pair):
                    timings.append(without_gc(timed))
            ratio = statistics.median(a / b for a, b in zip(endpoint_ms, baseline_ms,
                                                            strict=True))
            print(f"  endpoint {statistics.median(endpoint_ms):.2f} ms, bare json.dumps of "
                  f"the rows {statistics.median(baseline_ms):.2f} ms, first poll "
                  f"{cold_ms:.2f} ms (medians of {ROUNDS} rounds)", flush=True)
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)
    return {
        "traefik_config_ms_1000_routes": {
            "value": round(statistics.median(endpoint_ms), 2), "unit": "ms",
            "goal": f"< {GOAL_MS}",
        },
        "traefik_config_vs_bare_ratio": {
            "value": round(ratio, 2), "unit": "ratio", "goal": "informational",
        },
        "traefik_config_cold_ms_1000_routes": {
            "value": round(cold_ms, 2), "unit": "ms", "goal": "informational",
        },
    }
