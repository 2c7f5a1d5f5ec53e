"""The REST API under load: `GET /api/v1/services/` of a workspace with 50 services, with a
personal access token, against a plain Django view of the same server answering the same JSON
without Django REST framework.

A temporary database (`bench_paas_api`) gets one workspace with 5 projects of 10 services each
(a repository, commands, one custom domain in three, an active deployment each), and one token
per client, all of the owner (api.tokens.create_token), as 50 scripts of one team would have
them. The panel's web process runs as production runs it (`python -m config.web`; see
benchmarks.webhooks and benchmarks._logstream.panel_server), with PAAS_ROOT_URLCONF set to
benchmarks._api_urls, which adds the plain view at /api/plain/services/ beside the API (same
host, same middleware; its docstring says what it does and does not do: the same token,
membership and role checks, the same rows and the same fields, by hand). Requests come as
Traefik passes them on (Host: <slug>.PAAS_DOMAIN, X-Forwarded-Proto: https, X-Forwarded-For),
`Authorization: Bearer <token>`. The clients are benchmarks._http's hand-written HTTP/1.1
client on kept-alive connections, one per client. Before the loads the benchmark checks that
the API and the plain view answer the same JSON, listing the 50 services; under load every
answer must be 200 with that same body.

Two loads, each run for the plain view and the API alternately (the order swapped every
round) over BENCH_API_ROUNDS (3) rounds, after an untimed closed-loop second of each; each
figure is the median over the rounds:

- `api_per_second`, `plain_per_second`: saturation, closed loop. BENCH_API_CLIENTS (50)
  clients each send their next request as soon as the previous one is answered, for
  BENCH_API_SECONDS (3): requests answered per second.
- `api_vs_plain_ratio`: the two in the same round divided, API / plain (1 would mean DRF and
  what the API adds cost nothing).
- `api_p99_ms`: the 99th percentile of the API's latency at 50 clients, open loop. Closed
  loop, 50 requests are always in flight, so the mean latency is 50 / throughput (Little's
  law): a p99 under 100 ms that way would need well over 500 answers a second, four times
  what even the plain view serves on two cores (about 120); that p99 says how the server
  queues when saturated (printed beside), not what a client sees. So the same 50 clients
  each send one request a second (BENCH_API_RATE, 50 a second in all, as 50 scripts polling
  the list) for BENCH_API_OPEN_SECONDS (5), on fixed schedules whether or not the server keeps
  up, a latency counted from the request's scheduled time (a late answer delays the client's
  next request, and that wait counts: coordinated omission is not hidden). The rate is
  stated, not searched for: an offered rate near the API's saturation (about 90 a second on
  two shared cores) measures the queue, not the request (100 a second there: p99 0.15-1.4 s).

The plain view's p99 of both loads and both saturated p99s are printed beside. The database is
dropped at the end, and the tokens' throttle counters deleted from the cache.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from api.throttling import TokenRateThrottle
from api.tokens import create_token
from benchmarks._api_urls import PLAIN_PATH
from benchmarks._database import temporary_database
from benchmarks._http import Phase, exchange, run_load
from benchmarks._logstream import panel_server
from benchmarks.deploy import database_url
from deployments.models import Deployment, Status
from hosting.models import CustomDomain
from projects.models import Environment
from projects.services import create_project, create_service
from tenants.models import User
from tenants.services import create_workspace

BENCH_DATABASE = "bench_paas_api"
API_PATH = "/api/v1/services/"
PROJECTS, SERVICES_PER_PROJECT = 5, 10
SERVICES = PROJECTS * SERVICES_PER_PROJECT
CLIENTS = int(os.environ.get("BENCH_API_CLIENTS", "50"))
RATE = float(os.environ.get("BENCH_API_RATE", "50"))
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "3"))
OPEN_SECONDS = float(os.environ.get("BENCH_API_OPEN_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", "3"))
WARM_UP_SECONDS = 1.0
CLIENT_ADDRESS = "203.0.113.7"  # as Traefik forwards it


def populate() -> None:
    """The workspace's 5 projects of 10 services, each with an active deployment (in the
    connection's workspace)."""
    for p in range(PROJECTS):
        environment = create_project(f"project-{p}").environments.get(
            name=Environment.PRODUCTION)
        for s in range(SERVICES_PER_PROJECT):
            name = f"service-{p}-{s}"
            service = create_service(
                environment, name, repository_url=f"https://github.com/bench/{name}.git",
                build_command="npm ci && npm run build", start_command="node server.js",
                healthcheck_path="/health")
            if s % 3 == 0:
                CustomDomain.objects.create(hostname=f"{name}.example.com",
                                            schema_name=connection.schema_name,
                                            service_id=service.pk)
            service.active_deployment = Deployment.objects.create(
                service=service, number=1, status=Status.ACTIVE, commit_sha="a" * 40,
                commit_message="Bench commit", commit_author="Bench Owner", runtime="node",
                timings={"build": 12.5, "deploy": 3.1})
            service.save(update_fields=["active_deployment"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


@dataclass
class Answers(Phase):
    unexpected_bodies: int = 0


@dataclass(frozen=True)
class Target:
    kind: str  # "api" or "plain"
    port: int
    requests: tuple[bytes, ...]  # one per client: its token
    body: bytes = b""  # what every answer must be

    @classmethod
    def of(cls, kind: str, port: int, host: str, tokens: list[str]) -> Target:
        path = API_PATH if kind == "api" else PLAIN_PATH
        return cls(kind, port, tuple(
            (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
             f"User-Agent: bench-api/1\r\nAuthorization: Bearer {token}\r\n"
             f"X-Forwarded-Proto: https\r\nX-Forwarded-For: {CLIENT_ADDRESS}\r\n\r\n").encode()
            for token in tokens))


async def _fetch_once(target: Target) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    try:
        return await exchange(reader, writer, target.requests[0])
    finally:
        writer.close()


def expected_body(api: Target, plain: Target) -> tuple[bytes, bytes]:
    """The body of each (the same JSON, listing the 50 services, on one page)."""
    bodies = []
    for target in (api, plain):
        status, body = asyncio.run(_fetch_once(target))
        if status != 200:
            raise AssertionError(f"{target.kind} answered {status}: {body[:500]!r}")
        bodies.append(body)
    answers = [json.loads(body) for body in bodies]
    listed = len(answers[0]["results"])
    if listed != SERVICES or answers[0]["has_more"]:
        raise AssertionError(f"the API listed {listed} services, not {SERVICES}")
    if answers[0] != answers[1]:
        raise AssertionError(f"the plain view's answer differs from the API's:\n"
                             f"{answers[1]['results'][0]}\n{answers[0]['results'][0]}")
    return bodies[0], bodies[1]


def measure(target: Target, load: str, seconds: float) -> Answers:
    phase = Answers()

    async def get(number: int, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> int:
        status, body = await exchange(reader, writer, target.requests[number])
        if body != target.body:
            phase.unexpected_bodies += 1
        return status

    run_load(phase, get, target.port, CLIENTS, load, seconds, RATE)
    if set(phase.statuses) != {200} or phase.unexpected_bodies:
        raise AssertionError(f"{target.kind} answered {phase.statuses}, "
                             f"{phase.unexpected_bodies} bodies other than the 50 services")
    return phase


def forget_throttles(workspace: object, token_ids: list[int]) -> None:
    with tenant_context(workspace):
        cache.delete_many([TokenRateThrottle.cache_format % {
            "scope": TokenRateThrottle.scope, "ident": f"token:{pk}"} for pk in token_ids])


def run() -> dict[str, dict]:
    if ROUNDS < 1 or CLIENTS < 1:
        raise ValueError("BENCH_API_ROUNDS and BENCH_API_CLIENTS must be at least 1")
    with temporary_database(BENCH_DATABASE):
        call_command("migrate_template", verbosity=0)
        owner = User.objects.create_user("bench-owner@example.com", None, name="Bench Owner")
        workspace = create_workspace("bench-api", "Bench API", owner)
        with tenant_context(workspace):
            populate()
        made = [create_token(workspace, owner, f"client {n}", 30) for n in range(CLIENTS)]
        tokens = [token for _, token in made]
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1",
               "PAAS_ROOT_URLCONF": "benchmarks._api_urls"}
        log = Path(settings.PAAS_DATA_DIR) / "bench-api-uvicorn.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        phases: dict[tuple[str, str], list[Answers]] = {
            (load, kind): [] for load in ("closed", "open") for kind in ("plain", "api")}
        try:
            with panel_server(env, log) as port:
                api = Target.of("api", port, workspace.hostname, tokens)
                plain = Target.of("plain", port, workspace.hostname, tokens)
                api_body, plain_body = expected_body(api, plain)
                targets = {"api": Target("api", port, api.requests, api_body),
                           "plain": Target("plain", port, plain.requests, plain_body)}
                for target in targets.values():  # warm-up, untimed
                    measure(target, "closed", WARM_UP_SECONDS)
                for load, seconds in (("closed", SECONDS), ("open", OPEN_SECONDS)):
                    for round_number in range(ROUNDS):
                        order = ("plain", "api") if round_number % 2 == 0 else ("api", "plain")
                        for kind in order:
                            phase = measure(targets[kind], load, seconds)
                            phases[load, kind].append(phase)
                            print(f"  {load} loop, round {round_number + 1}, {kind}: "
                                  f"{phase.per_second:.0f}/s, p99 {phase.p99_ms:.1f} ms",
                                  flush=True)
        finally:
            forget_throttles(workspace, [row.pk for row, _ in made])

    def median(load: str, kind: str, figure: str) -> float:
        return statistics.median(getattr(phase, figure) for phase in phases[load, kind])

    ratio = statistics.median(
        api.per_second / plain.per_second
        for api, plain in zip(phases["closed", "api"], phases["closed", "plain"], strict=True))
    print(f"  saturated p99: API {median('closed', 'api', 'p99_ms'):.1f} ms, plain "
          f"{median('closed', 'plain', 'p99_ms'):.1f} ms; at {RATE:.0f}/s offered, plain p99 "
          f"{median('open', 'plain', 'p99_ms'):.1f} ms", file=sys.stderr, flush=True)
    return {
        "api_per_second": {"value": round(median("closed", "api", "per_second"), 1),
                           "unit": f"requests/s, {CLIENTS} clients back to back",
                           "goal": "report"},
        "plain_per_second": {"value": round(median("closed", "plain", "per_second"), 1),
                             "unit": f"requests/s, {CLIENTS} clients back to back",
                             "goal": "report"},
        "api_vs_plain_ratio": {"value": round(ratio, 3), "unit": "throughput, API/plain",
                               "goal": ">= 0.5"},
        "api_p99_ms": {"value": round(median("open", "api", "p99_ms"), 1),
                       "unit": f"ms, {RATE:.0f}/s offered by {CLIENTS} clients",
                       "goal": "< 100"},
    }
