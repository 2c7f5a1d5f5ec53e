"""Log lines as pages show them: which stored lines a view starts with, where its live stream
resumes, and the HTML of one line.

A line's HTML is built here, in Python, not by a template: the first render of a page (through
the `log_line` template tag) and every live batch of the consumers use this one function, and
at thousands of lines a second a template per line would cost more than everything else.
Escaping is this module's job: the text goes through deployments.ansi (escaped, colours as
classes, every other escape sequence dropped), everything else through `escape`.

Views:
- a deployment's log: every stream, in sequence order, under a heading per phase;
- a service's runtime log (stdout and stderr of all its deployments), newest last;
- an environment's runtime log (all its services), with a time range.
Runtime views order lines by time; their live cursor is, per deployment, the last sequence
number the view has considered (DESIGN.md §6).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from html import escape

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from deployments.ansi import to_html
from deployments.logsearch import LogFilter
from deployments.models import Deployment, LogLine, Phase, Stream

PAGE_LINES = 5000  # lines a deployment page starts with (the last ones)
RUNTIME_PAGE_LINES = 1000  # lines a service's or an environment's log starts with
RUNTIME_STREAMS = (Stream.STDOUT, Stream.STDERR)
PHASE_LABELS = dict(Phase.choices)
STREAM_CLASSES = {
    Stream.BUILD: "text-slate-200", Stream.DEPLOY: "text-cyan-100",
    Stream.STDOUT: "text-slate-300", Stream.STDERR: "text-rose-200",
}
LEVEL_CLASSES = {
    "error": "bg-red-500/15 text-red-300", "fatal": "bg-red-500/25 text-red-200",
    "critical": "bg-red-500/25 text-red-200", "warning": "bg-amber-400/15 text-amber-200",
    "info": "bg-sky-400/10 text-sky-300", "debug": "bg-white/5 text-slate-400",
    "trace": "bg-white/5 text-slate-500",
}
MESSAGE_KEYS = ("msg", "message")


VIEW_FIELDS = ("deployment_id", "sequence", "stream", "phase", "timestamp", "text", "level",
               "attributes")


@dataclass(slots=True)
class LineView:
    """What the HTML of a line needs, from a stored row or a live message alike. The time is
    ISO text in UTC with microseconds, as the channel layer carries it (no parsing per line;
    such strings sort as the times do)."""

    deployment_id: int
    sequence: int
    stream: str
    phase: str
    timestamp: str
    text: str
    level: str = ""
    attributes: dict | None = None

    @classmethod
    def from_row(cls, row: tuple) -> LineView:
        """From `VIEW_FIELDS` values (cheaper than model instances, thousands at a time)."""
        deployment_id, sequence, stream, phase, moment, text, level, attributes = row
        return cls(deployment_id, sequence, stream, phase, iso_time(moment), text, level,
                   attributes)

    @classmethod
    def from_message(cls, deployment_id: int, line: Mapping) -> LineView:
        return cls(deployment_id, line["sequence"], line["stream"], line["phase"],
                   line["timestamp"], line["text"], line.get("level") or "",
                   line.get("attributes"))

    def as_filterable(self) -> dict:
        return {"text": self.text, "stream": self.stream, "level": self.level,
                "attributes": self.attributes}


def message_of(attributes: dict) -> str | None:
    for key in MESSAGE_KEYS:
        value = attributes.get(key)
        if isinstance(value, str):
            return value
    return None


def text_html(line: LineView) -> str:
    """The line's text; of a JSON line, its message and then its other keys, dimmed."""
    if line.attributes:
        message = message_of(line.attributes)
        if message is not None:
            rest = " ".join(
                f"{escape(str(key))}={escape(_short(value))}"
                for key, value in line.attributes.items()
                if key not in MESSAGE_KEYS and key not in ("level", "severity", "time", "ts"))
            dim = f' <span class="text-slate-500">{rest}</span>' if rest else ""
            return f"{to_html(message)}{dim}"
    return to_html(line.text)


def _short(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


def iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@lru_cache(maxsize=10_000)
def deployment_url(deployment_id: int) -> str:
    return reverse("deployment_detail", args=[deployment_id])


def render_line(line: LineView, *, label: str | None = None) -> str:
    """One line's HTML. `label`: its deployment ("#3", or "web #3" where several services
    show), linked to the deployment's page, in runtime views."""
    level = line.level
    level_html = (f'<span class="log-level shrink-0 rounded px-1 uppercase '
                  f'{LEVEL_CLASSES.get(level, "bg-white/5 text-slate-300")}">'
                  f"{escape(level[:5])}</span>" if level else "")
    deployment_html = (
        f'<a class="shrink-0 text-purple-300/80 hover:text-purple-200" href="'
        f'{deployment_url(line.deployment_id)}">{escape(label)}</a>'
        if label is not None else "")
    stamp = line.timestamp  # 2026-12-03T14:05:09.123456+00:00
    return (
        f'<div class="log-line group flex gap-3 px-4 py-px hover:bg-white/[0.03] '
        f'{STREAM_CLASSES.get(line.stream, "text-slate-200")}" '
        f'id="log-line-{line.deployment_id}-{line.sequence}" data-log-line '
        f'data-deployment="{line.deployment_id}" data-sequence="{line.sequence}" '
        f'data-phase="{escape(line.phase)}" data-stream="{escape(line.stream)}"'
        f'{f" data-level={chr(34)}{escape(level)}{chr(34)}" if level else ""}>'
        f'<time class="log-time hidden w-24 shrink-0 select-none text-slate-600" '
        f'datetime="{stamp}">{stamp[11:23]}'
        f"</time>{deployment_html}{level_html}"
        f'<span class="min-w-0 flex-1 whitespace-pre-wrap break-all" data-log-text>'
        f"{text_html(line)}</span></div>"
    )


def phase_heading(phase: str) -> str:
    return (
        '<p class="sticky top-0 z-10 mt-2 flex items-center gap-2 border-y border-white/5 '
        "bg-slate-900/95 px-4 py-1 font-sans text-[11px] font-medium uppercase tracking-wider "
        f'text-purple-300 first:mt-0" data-phase-heading="{escape(phase)}">'
        f"{escape(PHASE_LABELS.get(phase, 'Output'))}</p>"
    )


class RenderCache:
    """The HTML of recent lines, shared by the consumers of one process: twenty pages
    following one deployment render each line once, not twenty times."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._html: OrderedDict[tuple, str] = OrderedDict()

    def render(self, line: LineView, label: str | None = None) -> str:
        key = (line.deployment_id, line.sequence, label)
        html = self._html.get(key)
        if html is None:
            html = self._html[key] = render_line(line, label=label)
            if len(self._html) > self.size:
                self._html.popitem(last=False)
        return html


def render_deployment_lines(lines: Iterable[LineView], last_phase: str | None,
                            cache: RenderCache | None = None) -> tuple[str, str | None]:
    """A deployment's lines with a heading where the phase changes; returns the HTML and the
    phase of the last line."""
    parts = []
    for line in lines:
        if line.phase != last_phase:
            parts.append(phase_heading(line.phase))
            last_phase = line.phase
        parts.append(cache.render(line) if cache else render_line(line))
    return "".join(parts), last_phase


def render_runtime_lines(lines: Iterable[LineView], labels: Mapping[int, str],
                         cache: RenderCache | None = None) -> str:
    return "".join(
        cache.render(line, labels.get(line.deployment_id)) if cache
        else render_line(line, label=labels.get(line.deployment_id))
        for line in lines)


def deployment_labels(deployment_ids: Iterable[int], *, with_service: bool) -> dict[int, str]:
    """How runtime views name these deployments: "#3", or "web #3"."""
    rows = Deployment.objects.filter(pk__in=set(deployment_ids)).values_list(
        "pk", "number", "service__name")
    return {pk: f"{name} #{number}" if with_service else f"#{number}"
            for pk, number, name in rows}


# Stored lines --------------------------------------------------------------------------------


def filtered(lines: QuerySet[LogLine], log_filter: LogFilter | None,
             stream: str = "") -> QuerySet[LogLine]:
    if stream:
        lines = lines.filter(stream=stream)
    if log_filter:
        lines = lines.filter(log_filter.q())
    return lines


def deployment_lines(deployment: Deployment, log_filter: LogFilter | None = None,
                     stream: str = "", limit: int = PAGE_LINES) -> tuple[list[LineView], bool]:
    """The last `limit` matching lines of a deployment in order, and whether earlier ones
    were left out."""
    rows = filtered(LogLine.objects.filter(deployment=deployment), log_filter, stream)
    last = list(rows.order_by("-sequence").values_list(*VIEW_FIELDS)[:limit + 1])
    return [LineView.from_row(row) for row in reversed(last[:limit])], len(last) > limit


def runtime_lines(deployments: QuerySet[Deployment], log_filter: LogFilter | None = None,
                  stream: str = "", since: datetime | None = None, until: datetime | None = None,
                  limit: int = RUNTIME_PAGE_LINES) -> tuple[list[LineView], bool]:
    """The last `limit` matching runtime lines of these deployments (a service's, an
    environment's), oldest first, and whether earlier ones were left out."""
    rows = LogLine.objects.filter(
        service__in=deployments.values("service").distinct(), stream__in=RUNTIME_STREAMS)
    if since is not None:
        rows = rows.filter(timestamp__gte=since)
    if until is not None:
        rows = rows.filter(timestamp__lte=until)
    rows = filtered(rows, log_filter, stream)
    last = list(rows.order_by("-timestamp", "-deployment_id", "-sequence")
                .values_list(*VIEW_FIELDS)[:limit + 1])
    return [LineView.from_row(row) for row in reversed(last[:limit])], len(last) > limit


def cursors(deployments: QuerySet[Deployment]) -> dict[str, int]:
    """Where a view of these deployments' logs resumes: deployment id → the last sequence
    number stored. Read before the lines a page shows (the page's script takes the larger of
    this and the last line it shows)."""
    return {str(pk): last for pk, last in deployments.values_list("pk", "log_sequence")}


def lines_after(deployment_id: int, after: int, log_filter: LogFilter | None, stream: str,
                streams: tuple[str, ...] | None, limit: int) -> list[LineView]:
    rows = LogLine.objects.filter(deployment_id=deployment_id, sequence__gt=after)
    if streams:
        rows = rows.filter(stream__in=streams)
    rows = filtered(rows, log_filter, stream)
    return [LineView.from_row(row)
            for row in rows.order_by("sequence").values_list(*VIEW_FIELDS)[:limit]]


def as_safe(html: str) -> SafeString:
    return mark_safe(html)  # noqa: S308 -- built by render_line, which escapes everything
