"""The API's live logs: WebSockets that send JSON, for the CLI and scripts. Same streams as the
pages' (deployments/log_consumers.py, whose never-lose-a-line logic they reuse: replay from
the store after the client's cursors, live batches in order, gaps read again, nothing twice);
only what goes out differs.

Paths, on a workspace's host, opened with `Authorization: Bearer paas_…` (api/socket_auth.py):

- `/api/v1/ws/deployments/{id}/logs/`: one deployment's lines, every stream in sequence order;
- `/api/v1/ws/services/{id}/logs/`: the runtime lines (stdout, stderr) of all the service's
  deployments, a new deployment's from its first line.

The server speaks first, once the socket is open: a `status` frame. The client then says
where it is, and again on every reconnection:

    {"type": "resume", "after": {"<deployment id>": <last sequence it has>, ...},
     "q": "<filter, the log views' language>", "stream": "" | "<one stream>",
     "build": true | false | null}      (build: deployments only; true: build and deploy
                                         lines, false: runtime lines, null: all)

and the server sends the stored lines after those cursors, then the live ones:

    {"type": "lines", "lines": [{"deployment": 7, "sequence": 41, "stream": "build",
      "phase": "build", "timestamp": "2026-…Z", "text": "…", "level": ""}, ...]}

    {"type": "status", "deployment": {<as GET /deployments/{id}/>}, "last_sequence": 41}
        (a deployment's socket: on opening and whenever the deployment moves;
         last_sequence: its last stored line then)
    {"type": "status", "service": {"id", "name", "active_deployment"},
     "deployment": {<its newest deployment>} | null, "cursors": {"<id>": <last sequence>}}
        (a service's socket; `cursors`, in the first frame only, is where each deployment's
         log stands: sent back as `after`, the stream starts from now)

A client keeps, per deployment, the last sequence it received, and sends that on reconnecting:
lines are neither lost nor repeated. Closes: 4401 (no token, or one that is unknown, expired,
revoked, of another workspace; also when the token is revoked or expires while streaming),
4404 (not found, or no longer a member), 4403 (the role does not allow reading logs), 4400 (a
message that is not a well-formed resume). The token and the role are checked on opening,
before each batch (at most once a second) and every IDLE_RECHECK_SECONDS while quiet.
"""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from rest_framework.utils.encoders import JSONEncoder

from api.serializers import DeploymentSerializer, log_line_data
from api.socket_auth import token_standing
from deployments import logview
from deployments.consumers import CLOSE_UNAUTHENTICATED
from deployments.log_consumers import (
    DeploymentLogConsumer,
    LogConsumer,
    ServiceLogConsumer,
    parse_resume,
)
from deployments.logview import LineView
from deployments.models import Deployment, Stream
from projects.models import Service
from tenants.models import User
from tenants.roles import Action

IDLE_RECHECK_SECONDS = 5.0
BUILD_STREAMS = (Stream.BUILD, Stream.DEPLOY)


def frame(kind: str, **fields: object) -> str:
    return json.dumps({"type": kind, **fields}, cls=JSONEncoder)


class TokenSocket(LogConsumer):
    """A log socket opened with a token: JSON out, and the token asked about again whenever
    the role is."""

    action = Action.READ_LOGS

    @database_sync_to_async
    def role_of(self, user: User) -> str | None:
        live, role = token_standing(self.scope.get("api_token"), self.workspace)
        self.token_lost = not live
        return role

    def lost_code(self, role: str | None) -> int:
        if getattr(self, "token_lost", False):
            return CLOSE_UNAUTHENTICATED
        return super().lost_code(role)

    async def catch_up(self) -> None:
        """Also once a second while nothing streams: a quiet socket is cut off too, within
        IDLE_RECHECK_SECONDS, when its token or its member is."""
        if await self.still_allowed(at_most_every=IDLE_RECHECK_SECONDS):
            await super().catch_up()

    async def send_lines(self, lines: list[LineView]) -> None:
        if lines:
            await self.send(text_data=frame("lines",
                                            lines=[log_line_data(line) for line in lines]))


class DeploymentLogSocket(TokenSocket, DeploymentLogConsumer):
    streams_wanted: tuple[str, ...] | None = None

    def parse(self, text: str | None) -> dict:
        return parse_resume(text, self.streams, flags=("build",))

    def resume_from(self, resume: dict) -> None:
        super().resume_from(resume)
        build = resume["build"]
        self.streams_wanted = (None if build is None
                               else BUILD_STREAMS if build else logview.RUNTIME_STREAMS)

    def read_streams(self) -> tuple[str, ...] | None:
        return self.streams_wanted

    def wanted(self, line: LineView) -> bool:
        if self.streams_wanted is not None and line.stream not in self.streams_wanted:
            return False
        return super().wanted(line)

    def render_status(self) -> str:
        deployment = Deployment.objects.visible().filter(pk=self.deployment.pk).first()
        if deployment is None:
            return ""
        return frame("status", deployment=DeploymentSerializer(deployment).data,
                     last_sequence=deployment.log_sequence)


class ServiceLogSocket(TokenSocket, ServiceLogConsumer):
    action = Action.READ_LOGS

    def render_status(self) -> str:
        service = Service.objects.visible().filter(pk=self.service.pk).first()
        if service is None:
            return ""
        deployments = Deployment.objects.filter(service=service)
        newest = deployments.order_by("-created_at", "-id").first()
        fields = {}
        if not getattr(self, "status_sent", False):
            fields["cursors"] = logview.cursors(deployments)
            self.status_sent = True
        return frame("status",
                     service={"id": service.pk, "name": service.name,
                              "active_deployment": service.active_deployment_id},
                     deployment=DeploymentSerializer(newest).data if newest else None,
                     **fields)
