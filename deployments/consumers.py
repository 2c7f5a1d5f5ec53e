"""WebSocket consumers. Each checks membership and role on connect, and again before it
answers a message or passes an event on: a member removed meanwhile is cut off at once (the
log consumers, which pass on many batches a second, check at most once a second: within a
second) (DESIGN.md §3, §6).
"""

from __future__ import annotations

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string
from django_tenants.utils import tenant_context

from core.events import events_group
from projects.models import Project
from tenants.access import membership_for
from tenants.roles import Action, can

# Close codes: the HTTP status a page would have answered, in the 4000 range. A refused
# socket is accepted and closed at once with one of them: a handshake rejection would only
# say 403, and htmx's ws extension reconnects forever after abnormal closes, not these.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_MESSAGE = 4400


class WorkspaceConsumer(AsyncWebsocketConsumer):
    """A consumer inside one workspace, open to members whose role allows `action`."""

    action: Action = Action.VIEW

    async def connect(self) -> None:
        self.workspace = self.scope.get("workspace")
        user = self.scope.get("user")
        if self.workspace is None:
            return await self.refuse(CLOSE_NOT_FOUND)
        if user is None or not user.is_authenticated:
            return await self.refuse(CLOSE_UNAUTHENTICATED)
        role = await self.role_of(user)
        if role is None:
            return await self.refuse(self.lost_code(role))
        if self.workspace.suspended:
            return await self.refuse(CLOSE_NOT_FOUND)
        if not can(role, self.action):
            return await self.refuse(CLOSE_FORBIDDEN)
        self.role = role
        await self.joined()

    async def refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def joined(self) -> None:
        await self.accept()

    async def still_allowed(self, *, at_most_every: float = 0.0) -> bool:
        """Whether the user is still a member whose role allows `action` (the role may have
        changed, the membership gone); if not, the socket is closed. With `at_most_every`,
        an answer that recent is taken as it is: a stream of log batches asks for each one,
        and a query per batch would cost more than the batches."""
        if getattr(self, "cut_off", False):
            return False  # closed already: a second close would be an error of the server
        now = time.monotonic()
        if at_most_every and now - getattr(self, "checked_at", -at_most_every) < at_most_every:
            return True
        role = await self.role_of(self.scope["user"])
        if role is None or not can(role, self.action):
            self.cut_off = True
            await self.close(code=self.lost_code(role))
            return False
        self.role, self.checked_at = role, now
        return True

    def lost_code(self, role: str | None) -> int:
        """The close code of a socket whose user may no longer follow it: not a member (any
        more), or a role that does not allow `action`."""
        return CLOSE_NOT_FOUND if role is None else CLOSE_FORBIDDEN

    @database_sync_to_async
    def role_of(self, user: object) -> str | None:
        membership = membership_for(user, self.workspace)
        return membership.role if membership else None

    def in_workspace(self, function: object) -> object:
        """Run a synchronous function with the connection in this workspace's schema."""

        @database_sync_to_async
        def call(*args: object, **kwargs: object) -> object:
            with tenant_context(self.workspace):
                return function(*args, **kwargs)

        return call


class WorkspaceEventsConsumer(WorkspaceConsumer):
    """Live updates of the workspace home: the project list re-rendered on each change."""

    async def joined(self) -> None:
        self.group = events_group(self.workspace.schema_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Clients have nothing to say on this socket; whatever they send is ignored (once
        the sender is known to be still a member)."""
        await self.still_allowed()

    async def workspace_event(self, message: dict) -> None:
        if message.get("event") == "projects_changed" and await self.still_allowed():
            html = await self.in_workspace(self.render_project_list)()
            await self.send(text_data=html)

    def render_project_list(self) -> str:
        projects = Project.objects.visible().prefetch_related("environments__services")
        return render_to_string(
            "projects/workspace_home.html#project-list",
            {"projects": projects, "oob": True, "workspace": self.workspace,
             "can": {a.value: can(self.role, a) for a in Action}},
        )
