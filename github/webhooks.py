"""GitHub's webhook endpoint of a workspace: POST https://<slug>.PAAS_DOMAIN/webhooks/github/.

Anyone on the internet can post here, so the order is strict: the body's size (413 over
GITHUB_WEBHOOK_MAX_BYTES, from Content-Length before reading, else while reading), then its
signature over the raw bytes (401: nothing recorded, nothing enqueued), then the headers and
the JSON (400). Only then is the delivery recorded (github.deliveries) and its work enqueued;
the view does nothing slower, as GitHub waits 10 s at most and never retries by itself.

No session is needed (PAAS_PUBLIC_PATHS); a suspended workspace is refused by
MembershipMiddleware before this runs.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from github import signatures
from github.deliveries import (
    DELIVERY_ID,
    EVENT,
    DeliveryConflict,
    Recorded,
    UnstorablePayload,
    answer,
    record_delivery,
)
from github.models import Outcome
from github.workspaces import webhook_secret

READ_CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    pass


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, at most `limit` bytes; BodyTooLarge past it (or a Content-Length over it),
    never reading more than one chunk beyond."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    while True:
        chunk = request.read(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)


def _header(request: HttpRequest, name: str) -> str:
    value = request.headers.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _status_of(recorded: Recorded) -> int:
    if not recorded.created or recorded.delivery.outcome == Outcome.PING:
        return 200
    return 202


@csrf_exempt
@require_POST
def github_webhook(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    try:
        body = read_body(request, settings.GITHUB_WEBHOOK_MAX_BYTES)
    except BodyTooLarge:
        return _error(413, "The body is larger than GitHub sends (25 MB).")
    if not signatures.is_valid(webhook_secret(workspace), body,
                               request.headers.get("X-Hub-Signature-256")):
        return _error(401, "X-Hub-Signature-256 is missing or wrong.")
    event = _header(request, "X-GitHub-Event")
    if not EVENT.fullmatch(event):
        return _error(400, "X-GitHub-Event is missing or not an event name.")
    delivery_id = _header(request, "X-GitHub-Delivery")
    if not DELIVERY_ID.fullmatch(delivery_id):
        return _error(400, "X-GitHub-Delivery is missing or not a delivery id.")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        return _error(400, "malformed JSON: the body must be a JSON object "
                           "(set the webhook's content type to application/json).")
    try:
        recorded = record_delivery(workspace, delivery_id, event, body, payload)
    except DeliveryConflict:
        return _error(409, "This X-GitHub-Delivery was received before with another body.")
    except UnstorablePayload:
        return _error(400, "malformed JSON: the payload holds characters it cannot be "
                           "stored with (NUL).")
    return JsonResponse(answer(recorded.delivery), status=_status_of(recorded))
