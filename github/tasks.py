"""Actors of the GitHub integration (Dramatiq). They take ids, never payloads or secrets: a
delivery's payload waits in its row until the worker has handled it."""

from __future__ import annotations

import dramatiq
from django.db import transaction

from github import events
from github.models import WebhookDelivery

MINUTE_MS = 60 * 1000


def send_on_commit(delivery: WebhookDelivery) -> None:
    """Enqueue the delivery's handling once the transaction that recorded it commits."""
    delivery_id = delivery.pk
    transaction.on_commit(lambda: handle_delivery.send(delivery_id))


@dramatiq.actor(queue_name="default", time_limit=10 * MINUTE_MS, max_retries=3)
def handle_delivery(delivery_id: int) -> None:
    """Act on a recorded push or pull_request delivery, in its workspace's schema; a delivery
    handled already (a second message) is left as it is."""
    events.handle_delivery(delivery_id)
