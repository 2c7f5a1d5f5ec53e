"""Recording a verified webhook delivery, once: what the endpoint does after the signature.

A delivery is known by its X-GitHub-Delivery id within its workspace. The first time it is
recorded (with the sha256 of its body) and, when it is work for the worker (push,
pull_request), its payload is kept and `handle_delivery` enqueued once the row commits. A
redelivery of the same body gets the stored outcome and enqueues nothing; the same id with
another body is a conflict and changes nothing. Two identical deliveries racing each other meet
at the unique constraint: one records, the other reads what it recorded.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import nullcontext
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from github import tasks
from github.models import Outcome, WebhookDelivery
from github.repositories import validate_full_name
from tenants.models import Workspace

# Events the worker handles; anything else is recorded as ignored at once.
WORKER_EVENTS = frozenset({"push", "pull_request"})
PING_MESSAGE = "Pong: the panel receives this webhook."
IGNORED_MESSAGE = "The panel does not act on {event} events."
EVENT = re.compile(r"[a-z0-9_.-]{1,50}")
DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")


class DeliveryConflict(Exception):
    """A delivery id already recorded with another body."""


class UnstorablePayload(Exception):
    """A payload PostgreSQL refuses to store (a NUL character in a string)."""


@dataclass(frozen=True)
class Recorded:
    delivery: WebhookDelivery
    created: bool  # False: a redelivery, answered with the stored outcome


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _text(value: object, limit: int) -> str:
    """A payload's field as text for the listing: printable, at most `limit` characters."""
    if not isinstance(value, str):
        return ""
    return "".join(char for char in value if char.isprintable())[:limit]


def _repository(payload: dict) -> str:
    repository = payload.get("repository")
    if not isinstance(repository, dict):
        return ""
    try:
        return validate_full_name(repository.get("full_name"))
    except ValidationError:
        return ""


def _summary(event: str, payload: dict) -> str:
    if event == "push":
        after = _text(payload.get("after"), 40)[:7]
        return _text(f"{_text(payload.get('ref'), 200)} {after}".strip(), 300)
    if event == "pull_request" and isinstance(payload.get("pull_request"), dict):
        pull = payload["pull_request"]
        number = payload.get("number")
        number = number if isinstance(number, int) and not isinstance(number, bool) else ""
        return _text(f"#{number} {_text(pull.get('title'), 250)}", 300)
    return ""


def _new_delivery(workspace: Workspace, delivery_id: str, event: str, sha256: str,
                  payload: dict) -> WebhookDelivery:
    delivery = WebhookDelivery(
        workspace=workspace, delivery_id=delivery_id, event=event, body_sha256=sha256,
        action=_text(payload.get("action"), 50), repository=_repository(payload),
        summary=_summary(event, payload),
    )
    if event in WORKER_EVENTS:
        delivery.payload = payload
    else:
        is_ping = event == "ping"
        delivery.outcome = Outcome.PING if is_ping else Outcome.IGNORED
        delivery.message = PING_MESSAGE if is_ping else IGNORED_MESSAGE.format(event=event)
        delivery.handled_at = timezone.now()
    return delivery


def record_delivery(workspace: Workspace, delivery_id: str, event: str, body: bytes,
                    payload: dict) -> Recorded:
    """Record a verified delivery (and enqueue its handling on commit), or find the one
    recorded before; DeliveryConflict when that one had another body."""
    sha256 = body_sha256(body)
    delivery = _new_delivery(workspace, delivery_id, event, sha256, payload)
    # One INSERT needs no transaction of its own: in autocommit it commits by itself and
    # on_commit enqueues at once (a BEGIN and a COMMIT fewer for every delivery). Inside a
    # caller's transaction a savepoint keeps a recorded id's IntegrityError from breaking it.
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            delivery.save(force_insert=True)
            if delivery.outcome == Outcome.QUEUED:
                tasks.send_on_commit(delivery)
        return Recorded(delivery, created=True)
    except DataError as error:
        raise UnstorablePayload(delivery_id) from error
    except IntegrityError:
        existing = WebhookDelivery.objects.filter(workspace=workspace,
                                                  delivery_id=delivery_id).first()
        if existing is None:  # not the unique constraint after all
            raise
    if existing.body_sha256 != sha256 or existing.event != event:
        raise DeliveryConflict(delivery_id)
    return Recorded(existing, created=False)


def answer(delivery: WebhookDelivery) -> dict[str, object]:
    """What the endpoint answers about a delivery (GitHub shows it under Recent Deliveries)."""
    return {"delivery": delivery.delivery_id, "event": delivery.event,
            "outcome": delivery.outcome, "message": delivery.message,
            "deployments": delivery.deployments}
