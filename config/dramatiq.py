"""Dramatiq wiring: actors run in the schema of the workspace that enqueued them.

The broker itself is configured by django_dramatiq from settings.DRAMATIQ_BROKER; this module
holds the middleware it lists. On enqueue it stamps the current schema on the message; before
the actor runs it switches the worker's connection to that schema, and back to public after.

django_dramatiq builds the broker, and so imports this module, while Django populates its
app registry: models (and Django's connection) can only be imported once a message arrives.
"""

from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

SCHEMA_OPTION = "schema_name"


class HostRegistrationMiddleware(Middleware):
    """A worker that starts registers its machine as a host (hosting.Host): name, address."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from hosting.models import Host

        Host.objects.register_this_host()


class WorkspaceSchemaMiddleware(Middleware):
    def before_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int
    ) -> None:
        from django.db import connection

        message.options.setdefault(SCHEMA_OPTION, connection.schema_name)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        from django.db import connection
        from django_tenants.utils import get_public_schema_name

        from tenants.models import Workspace

        schema_name = message.options.get(SCHEMA_OPTION) or get_public_schema_name()
        connection.set_schema_to_public()
        if schema_name == get_public_schema_name():
            return
        workspace = Workspace.objects.filter(schema_name=schema_name).first()
        if workspace is None:
            raise dramatiq.middleware.SkipMessage(f"workspace schema {schema_name} is gone")
        if workspace.suspended:
            raise dramatiq.middleware.SkipMessage(f"workspace {workspace.slug} is suspended")
        connection.set_tenant(workspace)

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *, result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        from django.db import connection

        connection.set_schema_to_public()

    after_skip_message = after_process_message
