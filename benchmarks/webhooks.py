"""GitHub's webhook endpoint under load: signed push deliveries verified, recorded and enqueued,
against a bare endpoint of the same server that only reads the body and answers 200.

A temporary database (`bench_paas_webhooks`) gets one workspace. The panel's real server runs
as production does (uvicorn config.asgi:application, one process) with PAAS_ROOT_URLCONF set to
benchmarks.webhook_urls, which adds the bare endpoint beside the webhook's (same host, same
middleware). BENCH_WEBHOOK_SENDERS (50) concurrent senders post for BENCH_WEBHOOK_SECONDS (3)
per phase, over BENCH_WEBHOOK_ROUNDS (3) rounds alternating bare and webhook (the order swapped
every round) after an untimed warm-up of each; each delivery has an id of its own and GitHub's
real push payload, for a repository no service tracks (it is still verified, recorded and
enqueued). The figures are the medians over the rounds. Every answer must be 202 (webhook) or
200 (bare), and every delivery answered 202 must be recorded and enqueued once; the queue of
the benchmark's own namespace is flushed at the end, and the database dropped.

The server runs with PAAS_DB_CONN_MAX_AGE=0 unless the environment says otherwise: Django's
ASGI handler runs each request's sync code in a thread of its own, so persistent connections
(the default 60 s) are never reused and pile up until PostgreSQL refuses new clients ("too many
clients", 500s) at 50 concurrent senders. The senders are a hand-written HTTP/1.1 client on
kept-alive connections (about 1% of a core), so the server under test has the machine.

webhook_vs_bare_ratio is a throughput ratio: webhook deliveries per second / bare requests
per second (1 would mean the webhook's own work costs nothing).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import dramatiq
from django.conf import settings
from django.core.management import call_command

from benchmarks._database import temporary_database
from benchmarks._logstream import panel_server
from benchmarks.deploy import database_url
from benchmarks.webhook_urls import BARE_PATH
from github.models import WebhookDelivery
from github.signatures import signature
from github.workspaces import WEBHOOK_PATH, webhook_secret
from tenants.models import User
from tenants.services import create_workspace

BENCH_DATABASE = "bench_paas_webhooks"
SENDERS = int(os.environ.get("BENCH_WEBHOOK_SENDERS", "50"))
SECONDS = float(os.environ.get("BENCH_WEBHOOK_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_WEBHOOK_ROUNDS", "3"))
WARM_UP_SECONDS = 1.0
PUSH = Path(settings.BASE_DIR) / "tests" / "fixtures" / "github" / "push" / \
    "with-new-branch.payload.json"


def push_body() -> bytes:
    """GitHub's push payload, for a repository no service of the workspace tracks."""
    payload = json.loads(PUSH.read_text())
    url = "https://github.com/bench/untracked"
    payload["repository"].update(full_name="bench/untracked", name="untracked",
                                 html_url=url, clone_url=f"{url}.git",
                                 git_url="git://github.com/bench/untracked.git",
                                 ssh_url="git@github.com:bench/untracked.git")
    return json.dumps(payload).encode()


@dataclass
class Phase:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)  # delivery ids answered 202
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[98]


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                request: bytes) -> int:
    """One request on a kept-alive connection; the answer's status (its body read and
    dropped). A hand-written HTTP/1.1 client: httpx spent half a core of this machine on the
    senders' side, which the server under test would not get."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _send(port: int, host: str, path: str, body: bytes, secret: str,
                seconds: float) -> Phase:
    phase = Phase()
    sign = signature(secret, body)
    deadline = time.perf_counter() + seconds

    async def sender() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                delivery = str(uuid.uuid4())
                request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
                           "Content-Type: application/json\r\n"
                           f"Content-Length: {len(body)}\r\nX-GitHub-Event: push\r\n"
                           f"X-GitHub-Delivery: {delivery}\r\n"
                           f"X-Hub-Signature-256: {sign}\r\n\r\n").encode() + body
                before = time.perf_counter()
                status = await _post(reader, writer, request)
                phase.latencies_ms.append((time.perf_counter() - before) * 1000)
                phase.statuses[status] = phase.statuses.get(status, 0) + 1
                if status == 202:
                    phase.accepted.append(delivery)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    phase.seconds = time.perf_counter() - started
    return phase


def measure(port: int, host: str, path: str, body: bytes, secret: str,
            seconds: float) -> Phase:
    phase = asyncio.run(_send(port, host, path, body, secret, seconds))
    expected = 202 if path == WEBHOOK_PATH else 200
    if set(phase.statuses) != {expected}:
        raise AssertionError(f"{path} answered {phase.statuses}, not only {expected}")
    return phase


def queued_messages() -> int:
    broker = dramatiq.get_broker()
    return broker.client.hlen(f"{broker.namespace}:default.msgs")


def run() -> dict[str, dict]:
    with temporary_database(BENCH_DATABASE):
        call_command("migrate_template", verbosity=0)
        owner = User.objects.create_user("bench-owner@example.com", None, name="Bench Owner")
        workspace = create_workspace("bench-hooks", "Bench hooks", owner)
        secret = webhook_secret(workspace)
        body = push_body()
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1",
               "PAAS_ROOT_URLCONF": "benchmarks.webhook_urls", "LOG_LEVEL": "WARNING",
               "PAAS_DB_CONN_MAX_AGE": os.environ.get("PAAS_DB_CONN_MAX_AGE", "0")}
        log = Path(settings.PAAS_DATA_DIR) / "bench-webhooks-uvicorn.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        broker = dramatiq.get_broker()
        queued_before = queued_messages()
        try:
            with panel_server(env, log) as port:
                phases: dict[str, list[Phase]] = {"bare": [], "webhook": []}
                paths = {"bare": BARE_PATH, "webhook": WEBHOOK_PATH}
                accepted: list[str] = []
                for path in paths.values():  # warm-up, untimed
                    accepted += measure(port, workspace.hostname, path, body, secret,
                                        WARM_UP_SECONDS).accepted
                for round_number in range(ROUNDS):
                    order = ("bare", "webhook") if round_number % 2 == 0 else \
                        ("webhook", "bare")
                    for kind in order:
                        phase = measure(port, workspace.hostname, paths[kind], body, secret,
                                        SECONDS)
                        phases[kind].append(phase)
                        accepted += phase.accepted
                        print(f"  round {round_number + 1} {kind}: "
                              f"{phase.per_second:.0f}/s, p99 {phase.p99_ms:.1f} ms",
                              flush=True)
            recorded = WebhookDelivery.objects.filter(workspace=workspace).count()
            enqueued = queued_messages() - queued_before
            if recorded != len(accepted) or enqueued != len(accepted):
                raise AssertionError(f"{len(accepted)} deliveries answered 202, {recorded} "
                                     f"recorded, {enqueued} enqueued")
        finally:
            broker.flush_all()

    webhook_rate = statistics.median(p.per_second for p in phases["webhook"])
    bare_rate = statistics.median(p.per_second for p in phases["bare"])
    webhook_p99 = statistics.median(p.p99_ms for p in phases["webhook"])
    print(f"  bare endpoint: {bare_rate:.0f}/s, p99 "
          f"{statistics.median(p.p99_ms for p in phases['bare']):.1f} ms; "
          f"{len(accepted)} deliveries recorded and enqueued", file=sys.stderr, flush=True)
    return {
        "webhook_p99_ms": {"value": round(webhook_p99, 1), "unit": "ms", "goal": "< 100"},
        "webhook_per_second": {"value": round(webhook_rate, 1), "unit": "deliveries/s",
                               "goal": ">= 300"},
        "webhook_vs_bare_ratio": {"value": round(webhook_rate / bare_rate, 3),
                                  "unit": "throughput, webhook/bare",
                                  "goal": "report (1 = free)"},
    }
