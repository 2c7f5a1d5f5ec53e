"""GitHub's webhook endpoint under load: signed push deliveries verified, recorded and enqueued,
against a bare endpoint of the same server that only reads the body and answers 200.

A temporary database (`bench_paas_webhooks`) gets one workspace. The panel's web process runs
as production runs it (`python -m config.web`: PAAS_WEB_WORKERS uvicorn processes, the database
pool of PAAS_DB_POOL_SIZE, DEBUG off, the access log on, LOG_LEVEL INFO;
benchmarks._logstream.panel_server), with PAAS_ROOT_URLCONF set to benchmarks._webhook_urls,
which adds the bare endpoint beside the webhook's (same host, same middleware). Requests come
as Traefik passes them on (X-Forwarded-Proto: https, X-Forwarded-For). Each delivery has an id
of its own and GitHub's real push payload, for a repository no service tracks (it is still
verified, recorded and enqueued). The senders are a hand-written HTTP/1.1 client on kept-alive
connections, one per sender (a few % of a core; benchmarks._http), so the server under test
has the machine.

Two loads, each run for the bare endpoint and the webhook alternately (the order swapped every
round) over BENCH_WEBHOOK_ROUNDS (3) rounds, after an untimed closed-loop second of each;
each figure is the median over the rounds:

- `webhook_p99_ms`: the load GitHub sends, open loop. BENCH_WEBHOOK_SENDERS (50) senders
  jointly offer BENCH_WEBHOOK_RATE (300) deliveries a second for BENCH_WEBHOOK_OPEN_SECONDS
  (5): each sends on a fixed schedule (one every 50/300 s, the senders staggered evenly),
  whether or not the server has kept up, and a delivery's latency runs from the time it was
  scheduled to be sent until its answer is read. A sender still waiting for an answer sends
  its next delivery late, and that wait counts in the next one's latency, so queueing in the
  server is not hidden (coordinated omission). The 99th percentile of these latencies.
- `webhook_per_second`, `webhook_saturated_p99_ms`: saturation, closed loop. The same 50
  senders each send the next delivery as soon as the previous one is answered, for
  BENCH_WEBHOOK_SECONDS (3): deliveries answered per second, and the 99th percentile of their
  response times (send to answer). With 50 deliveries always in flight the mean latency is
  50 / rate (Little's law): this p99 says how the server queues when overloaded, not what
  GitHub sees (p99 under 100 ms this way would need over 500 deliveries a second).
- `webhook_vs_bare_ratio`: throughput ratio under saturation, webhook deliveries per second /
  bare requests per second (1 would mean the webhook's own work costs nothing).

The bare endpoint's figures of both loads are printed beside. Every answer must be 202
(webhook) or 200 (bare). At the end every delivery answered 202 must be recorded once (its id
among the workspace's deliveries, no other) and enqueued once (one message of handle_delivery
per recorded delivery in the queue, none other); the queue of the benchmark's own namespace
is flushed, and the database dropped.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import dramatiq
from django.conf import settings
from django.core.management import call_command

from benchmarks._database import temporary_database
from benchmarks._http import Phase, exchange, run_load
from benchmarks._logstream import panel_server
from benchmarks._webhook_urls import BARE_PATH
from benchmarks.deploy import database_url
from github.models import WebhookDelivery
from github.signatures import signature
from github.workspaces import WEBHOOK_PATH, webhook_secret
from tenants.models import User
from tenants.services import create_workspace

BENCH_DATABASE = "bench_paas_webhooks"
SENDERS = int(os.environ.get("BENCH_WEBHOOK_SENDERS", "50"))
RATE = float(os.environ.get("BENCH_WEBHOOK_RATE", "300"))
SECONDS = float(os.environ.get("BENCH_WEBHOOK_SECONDS", "3"))
OPEN_SECONDS = float(os.environ.get("BENCH_WEBHOOK_OPEN_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_WEBHOOK_ROUNDS", "3"))
WARM_UP_SECONDS = 1.0
PUSH = Path(settings.BASE_DIR) / "tests" / "fixtures" / "github" / "push" / \
    "with-new-branch.payload.json"
# One of the addresses GitHub's hooks come from, as Traefik forwards it.
GITHUB_ADDRESS = "140.82.115.1"


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
class Deliveries(Phase):
    accepted: list[str] = field(default_factory=list)  # delivery ids answered 202


@dataclass(frozen=True)
class Target:
    port: int
    host: str
    path: str
    body: bytes
    signature: str

    def request(self) -> tuple[str, bytes]:
        """A new delivery: its id and the request that sends it."""
        delivery = str(uuid.uuid4())
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                "Content-Type: application/json\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
                f"X-Forwarded-Proto: https\r\nX-Forwarded-For: {GITHUB_ADDRESS}\r\n"
                f"Content-Length: {len(self.body)}\r\nX-GitHub-Event: push\r\n"
                f"X-GitHub-Delivery: {delivery}\r\n"
                f"X-Hub-Signature-256: {self.signature}\r\n\r\n")
        return delivery, head.encode() + self.body


def measure(target: Target, load: str, seconds: float) -> Deliveries:
    """One load of SENDERS senders (benchmarks._http), each sending new deliveries."""
    phase = Deliveries()

    async def deliver(number: int, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> int:
        delivery, request = target.request()
        status, _ = await exchange(reader, writer, request)
        if status == 202:
            phase.accepted.append(delivery)
        return status

    run_load(phase, deliver, target.port, SENDERS, load, seconds, RATE)
    expected = 202 if target.path == WEBHOOK_PATH else 200
    if set(phase.statuses) != {expected}:
        raise AssertionError(f"{target.path} answered {phase.statuses}, not only {expected}")
    return phase


def queued_deliveries(known: set[bytes]) -> Counter[int]:
    """How many messages of handle_delivery each delivery (by pk) has in the benchmark's
    default queue, of the messages not in `known` (their ids)."""
    broker = dramatiq.get_broker()
    messages = broker.client.hgetall(f"{broker.namespace}:default.msgs")
    counts: Counter[int] = Counter()
    for message_id, data in messages.items():
        if message_id in known:
            continue
        message = dramatiq.Message.decode(data)
        if message.actor_name != "handle_delivery":
            raise AssertionError(f"unexpected message in the queue: {message.actor_name}")
        counts[message.args[0]] += 1
    return counts


def check_recorded_and_enqueued(workspace: object, accepted: list[str],
                                known: set[bytes]) -> None:
    """Every delivery answered 202 recorded once and enqueued once, and nothing else."""
    if len(set(accepted)) != len(accepted):
        raise AssertionError("the benchmark sent a delivery id twice")
    rows = dict(WebhookDelivery.objects.filter(workspace=workspace)
                .values_list("delivery_id", "pk"))
    if set(rows) != set(accepted):
        raise AssertionError(f"{len(accepted)} deliveries answered 202, {len(rows)} recorded; "
                             f"{len(set(accepted) - set(rows))} of them not recorded")
    queued = queued_deliveries(known)
    if queued != Counter(rows.values()):
        twice = sum(1 for count in queued.values() if count > 1)
        raise AssertionError(f"{len(rows)} deliveries recorded, {queued.total()} messages "
                             f"enqueued ({twice} twice, "
                             f"{len(set(rows.values()) - set(queued))} not at all)")


def run() -> dict[str, dict]:
    with temporary_database(BENCH_DATABASE):
        call_command("migrate_template", verbosity=0)
        owner = User.objects.create_user("bench-owner@example.com", None, name="Bench Owner")
        workspace = create_workspace("bench-hooks", "Bench hooks", owner)
        secret = webhook_secret(workspace)
        body = push_body()
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1",
               "PAAS_ROOT_URLCONF": "benchmarks._webhook_urls"}
        log = Path(settings.PAAS_DATA_DIR) / "bench-webhooks-uvicorn.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        broker = dramatiq.get_broker()
        known = set(broker.client.hkeys(f"{broker.namespace}:default.msgs"))
        phases: dict[tuple[str, str], list[Deliveries]] = {
            (load, kind): [] for load in ("closed", "open") for kind in ("bare", "webhook")}
        try:
            with panel_server(env, log) as port:
                targets = {kind: Target(port, workspace.hostname, path, body,
                                        signature(secret, body))
                           for kind, path in (("bare", BARE_PATH), ("webhook", WEBHOOK_PATH))}
                accepted: list[str] = []
                for target in targets.values():  # warm-up, untimed
                    accepted += measure(target, "closed", WARM_UP_SECONDS).accepted
                for load, seconds in (("closed", SECONDS), ("open", OPEN_SECONDS)):
                    for round_number in range(ROUNDS):
                        order = ("bare", "webhook") if round_number % 2 == 0 else \
                            ("webhook", "bare")
                        for kind in order:
                            phase = measure(targets[kind], load, seconds)
                            phases[load, kind].append(phase)
                            accepted += phase.accepted
                            print(f"  {load} loop, round {round_number + 1}, {kind}: "
                                  f"{phase.per_second:.0f}/s, p99 {phase.p99_ms:.1f} ms",
                                  flush=True)
            check_recorded_and_enqueued(workspace, accepted, known)
        finally:
            broker.flush_all()

    def median(load: str, kind: str, figure: str) -> float:
        return statistics.median(getattr(phase, figure) for phase in phases[load, kind])

    webhook_rate = median("closed", "webhook", "per_second")
    bare_rate = median("closed", "bare", "per_second")
    print(f"  bare endpoint: saturated {bare_rate:.0f}/s, p99 "
          f"{median('closed', 'bare', 'p99_ms'):.1f} ms; at {RATE:.0f}/s offered, p99 "
          f"{median('open', 'bare', 'p99_ms'):.1f} ms; "
          f"{len(accepted)} deliveries recorded and enqueued once each",
          file=sys.stderr, flush=True)
    return {
        "webhook_p99_ms": {"value": round(median("open", "webhook", "p99_ms"), 1),
                           "unit": f"ms, {RATE:.0f}/s offered by {SENDERS} senders",
                           "goal": "< 100"},
        "webhook_per_second": {"value": round(webhook_rate, 1), "unit": "deliveries/s",
                               "goal": ">= 300"},
        "webhook_saturated_p99_ms": {"value": round(median("closed", "webhook", "p99_ms"), 1),
                                     "unit": f"ms, {SENDERS} senders back to back",
                                     "goal": "report"},
        "webhook_vs_bare_ratio": {"value": round(webhook_rate / bare_rate, 3),
                                  "unit": "throughput, webhook/bare",
                                  "goal": "report (1 = free)"},
    }
