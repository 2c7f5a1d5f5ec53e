"""WebSocket consumers of logs: a deployment's, a service's and an environment's. They never lose
a line:

- the page says, in a `resume` message, the last sequence number it has of each deployment
  (again on every reconnection: htmx's ws extension reconnects by itself);
- the consumer sends the stored lines after those, then the live ones in order; a batch that
  does not follow the last line sent (the channel layer dropped one: a full channel, a Redis
  restart) makes it read the gap from the store;
- once a second it also compares each deployment's sequence counter with what it sent, which
  catches a dropped last batch, and reads what is missing. Nothing is sent twice: lines at or
  below the last sent are skipped.

A page that stops reading does not hold anyone up: its consumer waits on its own socket, the
layer drops what overflows its channel, and the consumer catches up from the store after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Mapping

from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string

from core.events import environment_logs_group, events_group, logs_group
from deployments import logsearch, logview
from deployments.consumers import (
    CLOSE_BAD_MESSAGE,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    WorkspaceConsumer,
)
from deployments.logview import LineView, RenderCache
from deployments.models import Deployment, Status, Stream
from deployments.panel import panel_for
from deployments.views import summary_html
from projects.models import Environment, Service
from tenants.access import membership_for
from tenants.roles import Action, can

CATCH_UP_SECONDS = 1.0
RECHECK_SECONDS = 1.0  # how long an answer of the role check holds while lines stream
CATCH_UP_LINES = 1000  # lines read from the store at a time
MAX_CURSORS = 10_000
MAX_SEQUENCE = 2**63 - 1
DIGITS = re.compile(r"[0-9]{1,19}")
PHASE = re.compile(r"[a-z]{0,16}")
RENDERED = RenderCache()  # shared by this process's consumers
# Deployments whose processes may be printing (the runtime views watch their counters).
RUNNING = (Status.DEPLOYING, Status.ACTIVE, Status.CRASHED)


class BadMessage(ValueError):
    """A client message that is not a well-formed `resume`: the socket is closed."""


def parse_resume(text: str | None, streams: tuple[str, ...], flags: tuple[str, ...] = ()) -> dict:
    """The one message a log page sends:
    {"type": "resume", "after": {"<deployment id>": <last sequence>, ...}, "q": "<filter>",
     "stream": "" | one of `streams`, "phase": "<phase of the last line shown>"}.
    `flags` are further keys a consumer accepts, true, false or null (None when absent)."""
    try:
        message = json.loads(text or "")
    except ValueError:
        raise BadMessage("not JSON") from None
    if not isinstance(message, dict) or message.get("type") != "resume":
        raise BadMessage("not a resume message")
    if set(message) - {"type", "after", "q", "stream", "phase", *flags}:
        raise BadMessage("unknown keys")
    if any(message.get(flag) not in (True, False, None) for flag in flags):
        raise BadMessage("flags are true, false or null")
    after = message.get("after", {})
    if not isinstance(after, dict) or len(after) > MAX_CURSORS:
        raise BadMessage("after must be an object")
    cursors = {}
    for key, value in after.items():
        if (not DIGITS.fullmatch(key) or type(value) is not int
                or not 0 <= value <= MAX_SEQUENCE):
            raise BadMessage("after must map deployment ids to sequence numbers")
        cursors[int(key)] = value
    q, stream, phase = (message.get(key, "") for key in ("q", "stream", "phase"))
    if not isinstance(q, str) or not isinstance(stream, str) or not isinstance(phase, str):
        raise BadMessage("q, stream and phase are text")
    if stream and stream not in streams:
        raise BadMessage("unknown stream")
    if not PHASE.fullmatch(phase):
        raise BadMessage("unknown phase")
    try:
        log_filter = logsearch.parse(q)
    except logsearch.FilterError as error:
        raise BadMessage(str(error)) from None
    return {"after": cursors, "filter": log_filter, "stream": stream, "phase": phase,
            **{flag: message.get(flag) for flag in flags}}


def page_request(scope: Mapping, membership: object) -> HttpRequest:
    """A request for the templates a consumer renders again (the CSRF token of the page's
    cookie in its forms, the member's role for its buttons)."""
    request = HttpRequest()
    request.user = scope["user"]
    request.workspace = scope["workspace"]
    request.membership = membership
    request.htmx = False
    request.META["CSRF_COOKIE"] = (scope.get("cookies") or {}).get("csrftoken", "")
    host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
    request.META.update(HTTP_HOST=host, SERVER_NAME=host.partition(":")[0],
                        SERVER_PORT=host.partition(":")[2] or "80")
    return request


class LogConsumer(WorkspaceConsumer):
    """The common part of the log consumers. A subclass says what it follows (`find`), which
    deployments' counters to watch, how a batch becomes HTML, and what else it refreshes."""

    action = Action.READ_LOGS
    streams: tuple[str, ...] = tuple(Stream.values)
    lines_target = "log-lines"

    async def joined(self) -> None:
        object_id = int(self.scope["url_route"]["kwargs"]["object_id"])
        if not await self.in_workspace(self.find)(object_id):
            return await self.refuse(CLOSE_NOT_FOUND)
        self.lock = asyncio.Lock()
        self.after: dict[int, int] | None = None  # None until the page said where it is
        self.groups_joined = self.groups_to_join()
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.ticker = asyncio.create_task(self.tick())
        # The state as of now: a deployment that moved between the page's render and this
        # subscription (or while a dropped socket reconnected) sent its event to nobody.
        html = await self.in_workspace(self.render_status)()
        if html:
            await self.send(text_data=html)

    async def disconnect(self, code: int) -> None:
        ticker = getattr(self, "ticker", None)
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        for group in getattr(self, "groups_joined", ()):
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not await self.still_allowed():
            return
        try:
            resume = self.parse(text_data)
        except BadMessage:
            return await self.close(code=CLOSE_BAD_MESSAGE)
        async with self.lock:
            self.resume_from(resume)
            await self.catch_up()

    def parse(self, text: str | None) -> dict:
        return parse_resume(text, self.streams)

    def resume_from(self, resume: dict) -> None:
        """Where the client is and what it wants (a parsed `resume`)."""
        self.filter, self.stream = resume["filter"], resume["stream"]
        self.last_phase = resume["phase"] or None
        self.after = resume["after"]

    async def log_lines(self, message: dict) -> None:
        """A batch from the channel layer: sent when it follows what was sent, else the gap
        is read from the store."""
        if self.after is None or not self.follows(message):
            return
        async with self.lock:
            deployment_id = message["deployment"]
            last = self.after.get(deployment_id, 0)
            lines = message["lines"]
            if not lines or lines[-1]["sequence"] <= last:
                return
            if lines[0]["sequence"] > last + 1:
                return await self.catch_up()
            if not await self.still_allowed(at_most_every=RECHECK_SECONDS):
                return
            fresh = [LineView.from_message(deployment_id, line) for line in lines
                     if line["sequence"] > last]
            self.after[deployment_id] = lines[-1]["sequence"]
            await self.send_lines([line for line in fresh if self.wanted(line)])

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(CATCH_UP_SECONDS)
            if self.after is not None:
                async with self.lock:
                    await self.catch_up()

    async def catch_up(self) -> None:
        """Send what the store has after the cursors, up to the counters."""
        while True:
            counters = await self.in_workspace(self.counters)()
            behind = {pk: last for pk, last in counters.items() if last > self.after.get(pk, 0)}
            if not behind:
                return
            lines, done = await self.in_workspace(self.read_behind)(behind)
            if lines and not await self.still_allowed(at_most_every=RECHECK_SECONDS):
                return
            await self.send_lines(lines)
            if done:
                return

    def read_behind(self, counters: dict[int, int]) -> tuple[list[LineView], bool]:
        """Up to CATCH_UP_LINES lines after the cursors of these deployments; whether that
        was all there was up to the counters. Moves the cursors."""
        lines: list[LineView] = []
        for deployment_id, counter in sorted(counters.items()):
            room = CATCH_UP_LINES - len(lines)
            if room <= 0:
                return lines, False
            found = logview.lines_after(deployment_id, self.after.get(deployment_id, 0),
                                        self.filter, self.stream, self.read_streams(), room)
            lines += found
            # All lines up to the counter are stored (it moves in their transaction); the
            # store may hold later ones already, read with them.
            last_found = found[-1].sequence if found else 0
            self.after[deployment_id] = (last_found if len(found) == room
                                         else max(counter, last_found))
        return lines, True

    def read_streams(self) -> tuple[str, ...] | None:
        return None

    def wanted(self, line: LineView) -> bool:
        if self.stream and line.stream != self.stream:
            return False
        return not self.filter or self.filter.matches(line.as_filterable())

    async def send_lines(self, lines: list[LineView]) -> None:
        """One frame of lines, rendered here in the event loop (the HTML needs no query; a
        trip to the database thread per batch, shared by every consumer, cost more)."""
        if lines:
            await self.prepare(lines)
            html = self.render_lines(lines)
            await self.send(text_data=f'<div id="{self.lines_target}" hx-swap-oob="beforeend">'
                                      f"{html}</div>")

    async def prepare(self, lines: list[LineView]) -> None:
        """Read what rendering these lines needs from the database, if anything."""

    async def workspace_event(self, message: dict) -> None:
        if message.get("event") == "deployment_changed" and self.concerns(message["data"]):
            if await self.still_allowed(at_most_every=RECHECK_SECONDS):
                html = await self.in_workspace(self.render_status)()
                if html:
                    await self.send(text_data=html)

    def membership(self) -> object:
        return membership_for(self.scope["user"], self.workspace)

    # What a subclass says -----------------------------------------------------------------

    def find(self, object_id: int) -> bool:
        raise NotImplementedError

    def groups_to_join(self) -> list[str]:
        raise NotImplementedError

    def follows(self, message: dict) -> bool:
        return True

    def counters(self) -> dict[int, int]:
        raise NotImplementedError

    def render_lines(self, lines: list[LineView]) -> str:
        raise NotImplementedError

    def concerns(self, data: dict) -> bool:
        return False

    def render_status(self) -> str:
        return ""


class DeploymentLogConsumer(LogConsumer):
    """A deployment's page: its build, deploy and runtime lines, and its summary (status,
    timings, actions) again whenever the deployment moves."""

    def find(self, object_id: int) -> bool:
        self.deployment = Deployment.objects.visible().filter(pk=object_id).first()
        return self.deployment is not None

    def groups_to_join(self) -> list[str]:
        schema = self.workspace.schema_name
        return [logs_group(schema, self.deployment.pk), events_group(schema)]

    def follows(self, message: dict) -> bool:
        return message.get("deployment") == self.deployment.pk

    def counters(self) -> dict[int, int]:
        return dict(Deployment.objects.filter(pk=self.deployment.pk)
                    .values_list("pk", "log_sequence"))

    def render_lines(self, lines: list[LineView]) -> str:
        html, self.last_phase = logview.render_deployment_lines(lines, self.last_phase, RENDERED)
        return html

    def concerns(self, data: dict) -> bool:
        return data.get("deployment_id") == self.deployment.pk

    def render_status(self) -> str:
        deployment = Deployment.objects.visible().filter(pk=self.deployment.pk).first()
        if deployment is None:
            return ""
        return summary_html(page_request(self.scope, self.membership()), deployment)


class RuntimeLogConsumer(LogConsumer):
    """Runtime lines (stdout, stderr) of several deployments, in the order they come; each
    line says its deployment ("#3"; "web #3" where several services show)."""

    streams = logview.RUNTIME_STREAMS
    several_services = False

    def groups_to_join(self) -> list[str]:
        return [environment_logs_group(self.workspace.schema_name, self.environment_id)]

    async def log_lines(self, message: dict) -> None:
        if self.after is not None and self.follows(message):
            self.seen.add(message["deployment"])
        await super().log_lines(message)

    def deployments(self) -> object:
        raise NotImplementedError

    def counters(self) -> dict[int, int]:
        """Those of deployments that may be printing: running, or seen printing lately."""
        running = Q(status__in=RUNNING) | Q(pk__in=self.seen)
        return dict(self.deployments().filter(running).values_list("pk", "log_sequence"))

    def read_streams(self) -> tuple[str, ...]:
        return logview.RUNTIME_STREAMS

    def read_behind(self, counters: dict[int, int]) -> tuple[list[LineView], bool]:
        lines, done = super().read_behind(counters)
        lines.sort(key=lambda line: line.timestamp)
        return lines, done

    def wanted(self, line: LineView) -> bool:
        return line.stream in logview.RUNTIME_STREAMS and super().wanted(line)

    async def prepare(self, lines: list[LineView]) -> None:
        unknown = {line.deployment_id for line in lines} - self.labels.keys()
        if unknown:
            self.labels.update(await self.in_workspace(logview.deployment_labels)(
                unknown, with_service=self.several_services))

    def render_lines(self, lines: list[LineView]) -> str:
        return logview.render_runtime_lines(lines, self.labels, RENDERED)


class ServiceLogConsumer(RuntimeLogConsumer):
    """A service's pages: its runtime log (once the page resumes it), and its deployments
    section and status again whenever one of its deployments moves."""

    action = Action.VIEW

    def find(self, object_id: int) -> bool:
        self.service = Service.objects.visible().filter(pk=object_id).first()
        if self.service is None:
            return False
        self.environment_id, self.seen, self.labels = self.service.environment_id, set(), {}
        return True

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Only members who may read logs get the log (the page shows the tab to them)."""
        if not can(self.role, Action.READ_LOGS):
            return await self.close(code=CLOSE_FORBIDDEN)
        await super().receive(text_data, bytes_data)

    def groups_to_join(self) -> list[str]:
        return [*super().groups_to_join(), events_group(self.workspace.schema_name)]

    def follows(self, message: dict) -> bool:
        return message.get("service") == self.service.pk

    def deployments(self) -> object:
        return Deployment.objects.filter(service=self.service)

    def concerns(self, data: dict) -> bool:
        return data.get("service_id") == self.service.pk

    def render_status(self) -> str:
        service = Service.objects.visible().filter(pk=self.service.pk).first()
        if service is None:
            return ""
        request = page_request(self.scope, self.membership())
        panel = panel_for(request, service)
        panel.live = True
        return render_to_string("deployments/_panel.html", {"panel": panel}, request=request)


class EnvironmentLogConsumer(RuntimeLogConsumer):
    """The log explorer of an environment: the runtime lines of all its services."""

    several_services = True

    def find(self, object_id: int) -> bool:
        environment = Environment.objects.filter(pk=object_id, project__deleting=False).first()
        if environment is None:
            return False
        self.environment_id, self.seen, self.labels = environment.pk, set(), {}
        return True

    def deployments(self) -> object:
        return Deployment.objects.filter(service__environment_id=self.environment_id)
