"""Events on the channel layer, and the names of their groups (DESIGN.md §3, §6).

    events.<schema>                 what a workspace's pages show changed (a project, a
                                    deployment's status); the events consumer re-renders
    logs.<schema>.<deployment id>   a deployment's log lines, as they are stored
    logs.<schema>.environment.<id>  the lines of every deployment of an environment's services

An action publishes once its transaction commits (`publish_on_commit`): a page that reacts
then reads what the action wrote, never a state that was rolled back.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction


def events_group(schema_name: str) -> str:
    return f"events.{schema_name}"


def logs_group(schema_name: str, deployment_id: int) -> str:
    return f"logs.{schema_name}.{deployment_id}"


def environment_logs_group(schema_name: str, environment_id: int) -> str:
    return f"logs.{schema_name}.environment.{environment_id}"


def send_to_group(group: str, message: dict) -> None:
    """Send `message` to every consumer of `group` now (fire and forget)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def publish(schema_name: str, event: str, **data: object) -> None:
    """Send `event` to every page of the workspace open right now."""
    send_to_group(events_group(schema_name),
                  {"type": "workspace.event", "event": event, "data": data})


def publish_on_commit(event: str, **data: object) -> None:
    """Publish `event` to the current workspace once the transaction commits (at once
    outside a transaction)."""
    schema_name = connection.schema_name
    transaction.on_commit(lambda: publish(schema_name, event, **data))
