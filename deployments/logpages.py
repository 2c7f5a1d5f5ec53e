"""The log sections of pages and their downloads: a deployment's log, a service's runtime log
(its Logs tab) and an environment's log explorer. Each starts with the stored lines a filter
selects and carries what its socket needs to continue live from there (deployments.consumers).

Filters come from the query string: `q` (deployments.logsearch's syntax), `stream`, and for the
explorer `since`/`until`. A bad one is said in one line above an empty log, never a 500.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString
from django_tenants.utils import tenant_context

from deployments import logsearch, logview
from deployments.ansi import to_text
from deployments.models import Deployment, LogLine, Status, Stream
from projects.models import Environment, Service

STREAM_CHOICES = [("", "All streams"), *Stream.choices]
RUNTIME_STREAM_CHOICES = [("", "stdout and stderr"), (Stream.STDOUT, "stdout"),
                          (Stream.STDERR, "stderr")]
RANGES = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "6h": timedelta(hours=6),
          "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DOWNLOAD_CHUNK = 2000


@dataclass
class LogSection:
    html: SafeString
    cursor: str  # JSON: deployment id → the last sequence number the page has considered
    socket: str  # where the live stream continues; "" when it does not (a past range)
    page_url: str
    download_url: str
    q: str = ""
    stream: str = ""
    stream_choices: list = field(default_factory=lambda: STREAM_CHOICES)
    error: str = ""
    earlier: bool = False
    count: int = 0
    runtime: bool = False
    waiting: bool = True  # whether more lines may come (the empty log says so)
    range: str = ""
    since: str = ""
    until: str = ""


@dataclass
class Query:
    q: str
    stream: str
    log_filter: logsearch.LogFilter | None
    error: str


def read_query(request: HttpRequest, streams: list[tuple[str, str]]) -> Query:
    q = request.GET.get("q", "")
    stream = request.GET.get("stream", "")
    if stream not in {value for value, _ in streams}:
        return Query(q, "", None, "Unknown stream: choose one from the list.")
    try:
        return Query(q, stream, logsearch.parse(q), "")
    except logsearch.FilterError as error:
        return Query(q, stream, None, f"Filter: {error}")


def deployment_log(request: HttpRequest, deployment: Deployment) -> LogSection:
    query = read_query(request, STREAM_CHOICES)
    page_url = reverse("deployment_detail", args=[deployment.pk])
    section = LogSection(
        html=SafeString(""), cursor="{}", socket="", page_url=page_url,
        download_url=reverse("deployment_log_download", args=[deployment.pk]),
        q=query.q, stream=query.stream, error=query.error,
        waiting=deployment.is_in_progress or deployment.status == Status.ACTIVE)
    if query.error:
        return section
    cursor = logview.cursors(Deployment.objects.filter(pk=deployment.pk))
    lines, section.earlier = logview.deployment_lines(deployment, query.log_filter,
                                                      query.stream)
    html, _ = logview.render_deployment_lines(lines, None)
    section.html, section.count = logview.as_safe(html), len(lines)
    section.cursor = json.dumps(cursor)
    section.socket = f"/ws/deployments/{deployment.pk}/logs/"
    return section


def runtime_log(request: HttpRequest, deployments: QuerySet[Deployment], *, socket: str,
                page_url: str, download_url: str, ranged: bool = False) -> LogSection:
    """The runtime lines of these deployments; with `ranged`, within `?range=` (a preset) or
    `?since=`/`?until=` (ISO times), live only when the range reaches now."""
    query = read_query(request, RUNTIME_STREAM_CHOICES)
    section = LogSection(
        html=SafeString(""), cursor="{}", socket="", page_url=page_url,
        download_url=download_url, q=query.q, stream=query.stream, error=query.error,
        stream_choices=RUNTIME_STREAM_CHOICES, runtime=True)
    since = until = None
    if ranged:
        since, until, range_error = read_range(request, section)
        section.error = section.error or range_error
    if section.error:
        return section
    cursor = logview.cursors(deployments)
    lines, section.earlier = logview.runtime_lines(deployments, query.log_filter, query.stream,
                                                   since, until)
    labels = logview.deployment_labels({line.deployment_id for line in lines},
                                       with_service=ranged)
    section.html = logview.as_safe(logview.render_runtime_lines(lines, labels))
    section.count = len(lines)
    section.cursor = json.dumps(cursor)
    section.socket = socket if until is None else ""
    return section


def read_range(request: HttpRequest, section: LogSection) -> tuple[datetime | None,
                                                                   datetime | None, str]:
    section.range = request.GET.get("range", "")
    section.since = request.GET.get("since", "")
    section.until = request.GET.get("until", "")
    if section.range:
        if section.range not in RANGES:
            return None, None, "Unknown time range."
        return timezone.now() - RANGES[section.range], None, ""
    moments = []
    for name, text in (("since", section.since), ("until", section.until)):
        if not text:
            moments.append(None)
            continue
        try:
            moment = parse_datetime(text)
        except ValueError:
            moment = None
        if moment is None:
            return None, None, f"{name.capitalize()}: not a date and time (2026-12-03T14:00)."
        moments.append(timezone.make_aware(moment) if timezone.is_naive(moment) else moment)
    since, until = moments
    if since and until and since > until:
        return None, None, "Since is after until."
    return since, until, ""


def service_log(request: HttpRequest, service: Service) -> LogSection:
    return runtime_log(
        request, Deployment.objects.filter(service=service),
        socket=f"/ws/services/{service.pk}/",
        page_url=reverse("service_logs", args=[service.pk]),
        download_url=reverse("service_log_download", args=[service.pk]))


def environment_log(request: HttpRequest, environment: Environment) -> LogSection:
    return runtime_log(
        request, Deployment.objects.filter(service__environment=environment),
        socket=f"/ws/environments/{environment.pk}/logs/",
        page_url=reverse("environment_logs", args=[environment.pk]), download_url="",
        ranged=True)


# Downloads ----------------------------------------------------------------------------------


def as_text(line: LogLine) -> str:
    return f"{line.timestamp.isoformat()} [{line.stream}] {to_text(line.text)}\n"


def download(lines: QuerySet[LogLine], filename: str) -> StreamingHttpResponse:
    """Every stored line as plain text (colours and escapes taken out), read DOWNLOAD_CHUNK
    lines at a time in (timestamp, id) order, each chunk in the workspace's schema (the
    response is streamed after the view has returned)."""
    workspace = connection.tenant

    def chunk_after(last: tuple | None) -> tuple[str, tuple | None]:
        with tenant_context(workspace):
            rows = lines.order_by("timestamp", "id")
            if last is not None:
                rows = rows.filter(Q(timestamp__gt=last[0]) | Q(timestamp=last[0], id__gt=last[1]))
            batch = list(rows[:DOWNLOAD_CHUNK])
        if not batch:
            return "", None
        return "".join(map(as_text, batch)), (batch[-1].timestamp, batch[-1].pk)

    async def chunks() -> AsyncIterator[str]:
        text, last = await sync_to_async(chunk_after)(None)
        while text:
            yield text
            text, last = await sync_to_async(chunk_after)(last)

    response = StreamingHttpResponse(chunks(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def deployment_download(deployment: Deployment) -> StreamingHttpResponse:
    return download(LogLine.objects.filter(deployment=deployment),
                    f"{deployment.service.name}-{deployment.number}.log")


def service_download(service: Service) -> StreamingHttpResponse:
    lines = LogLine.objects.filter(service=service, stream__in=logview.RUNTIME_STREAMS)
    return download(lines, f"{service.name}-runtime.log")
