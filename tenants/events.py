"""Workspace events on the channel layer: group `events.<schema>` (DESIGN.md §3, §6).

Anything that changes what a workspace page shows publishes here; the events consumer
re-renders the affected fragment for every open page of that workspace.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def events_group(schema_name: str) -> str:
    return f"events.{schema_name}"


def publish(schema_name: str, event: str, **data: object) -> None:
    """Send `event` to every page of the workspace open right now (fire and forget)."""
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(
        events_group(schema_name), {"type": "workspace.event", "event": event, "data": data}
    )
