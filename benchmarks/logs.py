"""Live logs: ingest, lines lost under load, latency, search (README, Live logs).

A temporary database (`bench_logs`) with three workspaces: one whose project has the services
`ingest` and `stream`, one whose log table has no trigram index on the text (`ingest`), one
for `search` (its million lines loaded before its text index is built: faster); a
temporary apps directory with its own PM2 daemon, the log shipper (`manage.py ship_logs`) and
the panel under uvicorn, as the Procfile runs them. The lines are those of
benchmarks._loglines (access lines, plain messages, JSON lines with levels, about 1 % errors).

- `log_ingest_lines_per_second`: store_and_publish (COPY into the partitioned table, the
  counters, group_send to the deployment's and the environment's group, each followed by a
  page's channel) of BENCH_LOG_INGEST_LINES (100,000) lines for one deployment, in batches of
  the shipper's size (deployments.engine.shipper.BATCH_LINES, 500), each in a transaction as
  the shipper stores them, in BENCH_LOG_INGEST_ROUNDS (5) rounds after a warm-up batch.
- `log_throughput_vs_raw_ratio`: each round against, alternating, the same lines sent with the
  channel layer's group_send alone (the same batches and messages, to the same two groups, no
  store): our time / raw time, median of the rounds.
- `log_ingest_text_index_cost_ratio`: each round also against the same lines stored in a
  second workspace whose log table has no trigram index on the text (dropped by the
  benchmark): time with the index / without, median of the rounds.
- `log_lines_lost`: an app under the panel's PM2 prints 10,000 lines a second for 10 s (to
  stdout and stderr) while 20 real WebSocket clients (the `websockets` package, in this
  process) follow the deployment's log socket. Each client keeps the distinct sequence
  numbers it received; once the stream settles (every client has every line, none got one for
  SETTLE_QUIET_SECONDS, or SETTLE_LIMIT_SECONDS passed), lost = expected - received of the
  worst client, plus any line the store misses or holds twice (count and distinct
  sequences). `log_stream_settle_seconds`: how long after the last line was printed.
- `log_latency_p50_ms`, `log_latency_p99_ms`: lines carrying time.time_ns() of their printing,
  50 a second for 10 s, to their arrival at each of the 20 clients.
- `log_search_ms_1m_lines`: BENCH_LOG_SEARCH_LINES (1,000,000) lines of one service over 8
  hours and 4 deployments, loaded through logstore.append in batches of 50,000, the text
  index built and the table vacuumed and analysed (as autovacuum would have); then
  logview.runtime_lines of the service's deployments with each filter of SEARCHES, median of
  3 runs each; the figure is the slowest filter.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from benchmarks import _loglines
from benchmarks._database import temporary_database
from benchmarks._logstream import Follower, Followers, panel_server, printed, shipper, start_app
from benchmarks.deploy import database_url
from deployments.engine.shipper import BATCH_LINES

BENCH_DATABASE = "bench_logs"
INGEST_LINES = int(os.environ.get("BENCH_LOG_INGEST_LINES", "100000"))
INGEST_ROUNDS = int(os.environ.get("BENCH_LOG_INGEST_ROUNDS", "5"))
STREAM_RATE, STREAM_SECONDS = 10_000, 10
LATENCY_RATE, LATENCY_SECONDS = 50, 10
CLIENTS = 20
SETTLE_QUIET_SECONDS, SETTLE_LIMIT_SECONDS = 20.0, 60.0
SEARCH_LINES = int(os.environ.get("BENCH_LOG_SEARCH_LINES", "1000000"))
SEARCH_DEPLOYMENTS = 4
SEARCH_HOURS = 8
LOAD_BATCH = 50_000
SEARCH_RUNS = 3
SEARCHES = ("@level:error", "timeout", '"connection refused" -@level:debug',
            "@level:error OR @level:warning", "zebrafish")


def run() -> dict[str, dict]:
    from deployments.engine import accounts, pm2
    from tenants.models import User
    from tenants.services import create_workspace

    root = Path(tempfile.mkdtemp(prefix="paas-bench-logs-"))
    root.chmod(0o711)  # with isolation, the workspace's user goes through it
    saved = {name: getattr(settings, name) for name in
             ("PAAS_APPS_DIR", "PAAS_PM2_HOME", "PAAS_WORKSPACE_UIDS")}
    settings.PAAS_APPS_DIR = root / "apps"
    settings.PAAS_PM2_HOME = settings.PAAS_APPS_DIR / "pm2"
    settings.PAAS_WORKSPACE_UIDS = (3_700_000, 3_700_999)  # the benchmark's own users
    try:
        with temporary_database(BENCH_DATABASE):
            call_command("migrate_template", verbosity=0)
            owner = User.objects.create_user("bench@example.com", "x" * 20)
            workspace = create_workspace("bench-logs", "Bench logs", owner)
            deployments = make_deployments(workspace, ingest=1, stream=2)
            # The same without the text index, for what the index costs ingest.
            plain = create_workspace("bench-logs-plain", "Bench logs plain", owner)
            with tenant_context(plain):
                drop_text_index()
            plain_deployment = make_deployments(plain, ingest=1)["ingest"][0]
            searched = create_workspace("bench-logs-search", "Bench logs search", owner)
            deployments["search"] = make_deployments(
                searched, search=SEARCH_DEPLOYMENTS)["search"]
            try:
                figures = ingest_figures(workspace, deployments["ingest"][0], plain,
                                         plain_deployment)
                figures.update(stream_figures(workspace, owner, *deployments["stream"], root))
                figures.update(search_figures(searched, deployments["search"]))
            finally:
                pm2.kill_daemon()
                for account in accounts.accounts_on_host():
                    accounts.remove(account)
                for each in (workspace, plain):
                    forget_groups(each.schema_name)
            connection.set_schema_to_public()
        return figures
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)
        shutil.rmtree(root, ignore_errors=True)


def drop_text_index() -> str | None:
    """Drop the current workspace's trigram index on the log text; its definition, or None
    when there is none (the migration that makes it reverted)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                       " AND indexname = 'log_line_text_trgm'")
        row = cursor.fetchone()
        cursor.execute("DROP INDEX IF EXISTS log_line_text_trgm")
    # pg_indexes says ON ONLY of a partitioned table's index: it would skip the partitions.
    return row[0].replace(" ON ONLY ", " ON ") if row else None


def forget_groups(schema_name: str) -> None:
    """The channel layer's groups of the benchmark's workspaces (consumers cut off by the
    server's stop leave theirs to expire in a day)."""
    import redis
    from channels.layers import get_channel_layer

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{get_channel_layer().prefix}:group:*.{schema_name}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def make_deployments(workspace: object, **services: int) -> dict[str, list]:
    """Services of one project, each with that many active deployments."""
    from deployments.models import Deployment, Status
    from projects.services import create_project, create_service

    with tenant_context(workspace):
        environment = create_project("Bench").environments.get()
        made = {}
        for name, count in services.items():
            service = create_service(environment, name)
            made[name] = [Deployment.objects.create(service=service, number=number,
                                                    status=Status.ACTIVE)
                          for number in range(1, count + 1)]
        return made


# Ingest ------------------------------------------------------------------------------------


def ingest_figures(workspace: object, deployment: object, plain: object,
                   plain_deployment: object) -> dict[str, dict]:
    from channels.layers import get_channel_layer

    from deployments.logs import LogTarget

    texts = _loglines.lines(INGEST_LINES)
    size = -(-INGEST_LINES // INGEST_ROUNDS)
    layer = get_channel_layer()
    with tenant_context(plain):
        plain_target = LogTarget.of(plain_deployment)
    with tenant_context(workspace):
        target = LogTarget.of(deployment)
    groups = page_groups(target) + page_groups(plain_target)
    pages = [async_to_sync(layer.new_channel)() for _ in groups]  # an open page each
    for group, page in zip(groups, pages, strict=True):
        async_to_sync(layer.group_add)(group, page)
    times: dict[str, list[float]] = {"ours": [], "plain": [], "raw": []}
    try:
        for each, each_target in ((workspace, target), (plain, plain_target)):
            store_lines(each, each_target, texts[:BATCH_LINES])  # warm-ups: partitions...
        send_raw(layer, groups[:2], raw_messages(target, texts[:BATCH_LINES], 0))
        for number, start in enumerate(range(0, INGEST_LINES, size)):
            chunk = texts[start:start + size]
            messages = raw_messages(target, chunk, BATCH_LINES + start)
            steps = [("ours", lambda c=chunk: store_lines(workspace, target, c)),
                     ("plain", lambda c=chunk: store_lines(plain, plain_target, c)),
                     ("raw", lambda m=messages: send_raw(layer, groups[:2], m))]
            for side, step in steps[number % 3:] + steps[:number % 3]:
                times[side].append(step())
    finally:
        for group, page in zip(groups, pages, strict=True):
            async_to_sync(layer.group_discard)(group, page)
    for each, each_deployment in ((workspace, deployment), (plain, plain_deployment)):
        with tenant_context(each):
            stored = count_lines(each_deployment.pk)
        if stored != (INGEST_LINES + BATCH_LINES,) * 3:
            raise AssertionError(f"the ingest stored {stored} (lines, distinct, last), "
                                 f"expected {INGEST_LINES + BATCH_LINES}")
    ours, plain_times, raw = times["ours"], times["plain"], times["raw"]
    rate = INGEST_LINES / sum(ours)
    ratio = statistics.median(a / b for a, b in zip(ours, raw, strict=True))
    index_ratio = statistics.median(a / b for a, b in zip(ours, plain_times, strict=True))
    rounds = ", ".join(f"{a:.2f}/{b:.2f}/{c:.2f}"
                       for a, b, c in zip(ours, plain_times, raw, strict=True))
    print(f"  ingest: {rate:,.0f} lines/s ({sum(ours):.2f} s for {INGEST_LINES:,} lines in "
          f"batches of {BATCH_LINES}); without the text index "
          f"{INGEST_LINES / sum(plain_times):,.0f} lines/s; group_send alone "
          f"{INGEST_LINES / sum(raw):,.0f} lines/s; rounds ours/without index/raw {rounds} s",
          flush=True)
    return {
        "log_ingest_lines_per_second": {
            "value": round(rate),
            "unit": f"lines/s stored and published, batches of {BATCH_LINES}",
            "goal": ">= 10000"},
        "log_throughput_vs_raw_ratio": {
            "value": round(ratio, 3), "unit": "x time of group_send alone (same batches)",
            "goal": "informational"},
        "log_ingest_text_index_cost_ratio": {
            "value": round(index_ratio, 3),
            "unit": "x ingest time with the trigram index vs without", "goal": "informational"},
    }


def page_groups(target: object) -> list[str]:
    from core.events import environment_logs_group, logs_group

    return [logs_group(target.schema_name, target.deployment_id),
            environment_logs_group(target.schema_name, target.environment_id)]


def store_lines(workspace: object, target: object, texts: list[tuple[str, str]]) -> float:
    """Seconds to store and publish `texts` in the shipper's batches."""
    from deployments.logs import store_and_publish
    from deployments.logstore import NewLine

    started = time.perf_counter()
    for start in range(0, len(texts), BATCH_LINES):
        now = timezone.now()
        with tenant_context(workspace), transaction.atomic():  # published once committed
            store_and_publish(target, [NewLine(text, stream, "runtime", now)
                                       for text, stream in texts[start:start + BATCH_LINES]])
    return time.perf_counter() - started


def raw_messages(target: object, texts: list[tuple[str, str]], after: int) -> list[dict]:
    """The messages deployments.logs.publish sends for these lines, numbered after `after`."""
    from deployments.logstore import StoredLine, cut, structured

    now = timezone.now()
    messages = []
    for start in range(0, len(texts), BATCH_LINES):
        lines = []
        for offset, (text, stream) in enumerate(texts[start:start + BATCH_LINES]):
            text = cut(text)
            lines.append(StoredLine(target.deployment_id, after + start + offset + 1, stream,
                                    "runtime", now, text, *structured(text)).as_message())
        messages.append({"type": "log.lines", "deployment": target.deployment_id,
                         "service": target.service_id, "lines": lines})
    return messages


def send_raw(layer: object, groups: list[str], messages: list[dict]) -> float:
    async def send() -> None:
        for message in messages:
            for group in groups:
                await layer.group_send(group, message)

    started = time.perf_counter()
    async_to_sync(send)()
    return time.perf_counter() - started


def count_lines(deployment_id: int) -> tuple[int, int, int]:
    """(lines, distinct sequences, last sequence) the store holds of the deployment."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT sequence), coalesce(max(sequence), 0)"
                       " FROM deployments_logline WHERE deployment_id = %s", [deployment_id])
        return tuple(cursor.fetchone())


# Streaming: lines lost, latency -------------------------------------------------------------


def stream_figures(workspace: object, owner: object, loss_deployment: object,
                   latency_deployment: object, root: Path) -> dict[str, dict]:
    from deployments.engine import pm2

    client = Client(HTTP_HOST="panel.localhost")
    client.force_login(owner)
    cookie = client.cookies["sessionid"].value
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1",
           "PAAS_APPS_DIR": str(settings.PAAS_APPS_DIR),
           "PAAS_WORKSPACE_UIDS": "-".join(map(str, settings.PAAS_WORKSPACE_UIDS))}
    expected, probes = STREAM_RATE * STREAM_SECONDS, LATENCY_RATE * LATENCY_SECONDS
    lines_file = root / "lines.txt"
    lines_file.write_text("".join(f"{'E' if stream == 'stderr' else 'O'}{text}\n"
                                  for text, stream in _loglines.lines(expected, seed=7)))
    apps = []

    def follow(deployment: object, count: int, rate: int, **app: object
               ) -> tuple[list[Follower], float, tuple[float, str]]:
        async def scenario() -> tuple[list[Follower], float, tuple[float, str]]:
            async with Followers(port, workspace.hostname, cookie, deployment.pk,
                                 CLIENTS) as clients:
                name, done = await asyncio.to_thread(start_app, workspace, deployment, root,
                                                     count=count, rate=rate, **app)
                apps.append(name)
                seconds = await asyncio.to_thread(printed, done, 10 * count / rate + 30)
                settled = await clients.settle(count, SETTLE_QUIET_SECONDS,
                                               SETTLE_LIMIT_SECONDS)
            return clients.followers, seconds, settled
        return asyncio.run(scenario())

    try:
        with (panel_server(env, root / "uvicorn.log") as port,
              shipper(env, root / "shipper.log")):
            followers, seconds, (settled, how) = follow(loss_deployment, expected,
                                                        STREAM_RATE, lines_file=lines_file)
            probed, _, _ = follow(latency_deployment, probes, LATENCY_RATE, delay=2.0)
    finally:
        if apps:
            pm2.delete(apps)
    with tenant_context(workspace):
        lines, distinct, last = count_lines(loss_deployment.pk)
    worst = max(expected - len(f.seen) for f in followers)
    store_errors = abs(expected - distinct) + (lines - distinct)
    duplicates = sum(f.duplicates for f in followers)
    closed = sorted({f.closed for f in followers + probed if f.closed})
    got = sorted(len(f.seen) for f in followers)
    print(f"  stream: {expected:,} lines printed in {seconds:.1f} s by a PM2-run app; "
          f"{CLIENTS} clients got {got[0]:,}-{got[-1]:,} distinct lines ({duplicates} twice) "
          f"in {sum(f.frames for f in followers):,} frames, {sum(got) / (seconds + settled):,.0f} "
          f"lines/s to them all; {how} {settled:.1f} s after the last was printed; store: "
          f"{lines:,} lines, {distinct:,} distinct, last {last:,}"
          f"{'; ' + ', '.join(closed) if closed else ''}", flush=True)
    latencies = sorted(ms for f in probed for ms in f.latencies_ms)
    if len(latencies) < probes * CLIENTS:
        print(f"  latency: only {len(latencies)} of {probes * CLIENTS} probe arrivals")
    p50, p99 = statistics.median(latencies), statistics.quantiles(latencies, n=100)[98]
    print(f"  latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms over "
          f"{len(latencies):,} arrivals ({probes} lines at {LATENCY_RATE}/s, {CLIENTS} clients)",
          flush=True)
    unit = "ms from a PM2-run app's print to a WebSocket client"
    return {
        "log_lines_lost": {
            "value": worst + store_errors,
            "unit": f"lines of {expected:,} at {STREAM_RATE:,}/s the worst of {CLIENTS} clients "
                    f"lacked {SETTLE_LIMIT_SECONDS:.0f} s after, + store errors", "goal": "== 0"},
        "log_stream_settle_seconds": {
            "value": round(settled, 1),
            "unit": f"s after the last line until all {CLIENTS} clients had every line "
                    f"({SETTLE_LIMIT_SECONDS:.0f} at most)", "goal": "informational"},
        "log_latency_p50_ms": {"value": round(p50, 1), "unit": unit, "goal": "informational"},
        "log_latency_p99_ms": {"value": round(p99, 1), "unit": unit, "goal": "< 250"},
    }


# Search ------------------------------------------------------------------------------------


def search_figures(workspace: object, deployments: list) -> dict[str, dict]:
    from deployments import logsearch, logview
    from deployments.models import Deployment

    service = deployments[0].service
    with tenant_context(workspace):
        # Loaded without the text index, which is built after: faster than keeping it on.
        index = drop_text_index()
        started = time.perf_counter()
        load(service, deployments)
        loaded = time.perf_counter() - started
        with connection.cursor() as cursor:
            if index:
                cursor.execute(index)
            built = time.perf_counter() - started - loaded
            cursor.execute("VACUUM (ANALYZE) deployments_logline")  # as autovacuum would have
        print(f"  search: {SEARCH_LINES:,} lines loaded in {loaded:.1f} s "
              f"({SEARCH_LINES / loaded:,.0f} lines/s through logstore.append), "
              + (f"the text index built in {built:.1f} s" if index else "no text index"),
              flush=True)
        medians = {}
        for query in SEARCHES:
            log_filter = logsearch.parse(query)
            runs = []
            for _ in range(SEARCH_RUNS):
                before = time.perf_counter()
                lines, more = logview.runtime_lines(Deployment.objects.filter(service=service),
                                                    log_filter)
                runs.append((time.perf_counter() - before) * 1000)
            medians[query] = statistics.median(runs)
            print(f"    {query:40} {medians[query]:8.1f} ms  "
                  f"({len(lines)}{'+' if more else ''} lines)", flush=True)
    slowest = max(medians, key=medians.get)
    return {"log_search_ms_1m_lines": {
        "value": round(medians[slowest], 1),
        "unit": f"ms, slowest filter ({slowest}) of {len(SEARCHES)}, median of {SEARCH_RUNS}, "
                f"{SEARCH_LINES:,} lines", "goal": "< 300"}}


def load(service: object, deployments: list) -> None:
    from datetime import timedelta

    from deployments import logstore
    from deployments.logstore import NewLine

    texts = _loglines.lines(SEARCH_LINES, seed=11)
    first = timezone.now() - timedelta(hours=SEARCH_HOURS)
    step = timedelta(hours=SEARCH_HOURS) / SEARCH_LINES
    for start in range(0, SEARCH_LINES, LOAD_BATCH):
        deployment = deployments[start * len(deployments) // SEARCH_LINES]
        lines = [NewLine(text, stream, "runtime", first + step * (start + offset))
                 for offset, (text, stream) in enumerate(texts[start:start + LOAD_BATCH])]
        logstore.append(deployment.pk, service.pk, service.log_retention_days, lines)
