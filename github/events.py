"""What the worker does with a recorded delivery: the handler of its event, by name.

`HANDLERS` maps an event (X-GitHub-Event) to a function of its payload that returns what
handling it came to (github.handled.Handled); an event without one is recorded as ignored. The
delivery row is locked while it is handled and only a queued one is handled, so a message
delivered twice deploys nothing twice. A handler that raises leaves nothing of its work behind:
the delivery is recorded as failed with a message that names no detail, the traceback goes to
the worker's log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from deployments.models import Deployment
from github.handled import Handled
from github.models import Outcome, WebhookDelivery
from github.previews import handle_pull_request
from github.pushes import handle_push

logger = logging.getLogger(__name__)

HANDLERS: dict[str, Callable[[dict], Handled]] = {
    "push": handle_push,
    "pull_request": handle_pull_request,
}
FAILED_MESSAGE = "The panel could not handle this delivery (its worker's log says why)."


def deployment_summary(deployment: Deployment) -> dict[str, object]:
    """A deployment as a delivery keeps it: by value, as the deliveries live in the public
    schema and deployments in the workspace's."""
    return {"id": deployment.pk, "service": deployment.service.name,
            "number": deployment.number, "environment": deployment.service.environment.name}


def dispatch(event: str, payload: dict) -> Handled:
    handler = HANDLERS.get(event)
    if handler is None:
        return Handled(Outcome.IGNORED, f"The panel does not act on {event} events.")
    return handler(payload)


def handle_delivery(delivery_id: int) -> None:
    """Handle the delivery if it is still queued; store its outcome and empty its payload."""
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update().select_related("workspace")
                    .filter(pk=delivery_id).first())
        if delivery is None or delivery.outcome != Outcome.QUEUED:
            return
        with tenant_context(delivery.workspace):
            try:
                with transaction.atomic():
                    handled = dispatch(delivery.event, delivery.payload or {})
                    deployments = [deployment_summary(d) for d in handled.deployments]
            except Exception:
                logger.exception("GitHub delivery %s (%s) of %s failed", delivery.delivery_id,
                                 delivery.event, delivery.workspace.slug)
                handled, deployments = Handled(Outcome.FAILED, FAILED_MESSAGE), []
        delivery.outcome = handled.outcome
        delivery.message = handled.message
        delivery.deployments = deployments
        delivery.payload = None
        delivery.handled_at = timezone.now()
        delivery.save(update_fields=["outcome", "message", "deployments", "payload",
                                     "handled_at"])
