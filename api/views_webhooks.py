"""The GitHub webhook deliveries the workspace received, as its GitHub settings page lists
them (owners and admins): what came, and what the panel did with it. Never the payload."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import mixins

from api.base import WorkspaceViewSet
from api.serializers import WebhookDeliverySerializer
from github.models import Outcome, WebhookDelivery
from tenants.roles import Action


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                             WorkspaceViewSet):
    """Deliveries, newest first; `deployments` names what each one started."""

    serializer_class = WebhookDeliverySerializer
    ordering_fields = ("id", "received_at", "event", "outcome")
    default_ordering = ("-received_at",)
    filter_fields = {"event": "event", "outcome": "outcome"}
    filter_text = ("event",)
    filter_choices = {"outcome": Outcome.values}
    actions_required = {"list": Action.EDIT_WORKSPACE, "retrieve": Action.EDIT_WORKSPACE}

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # the schema: the type of the id
            return WebhookDelivery.objects.none()
        return (WebhookDelivery.objects.filter(workspace=self.request._request.workspace)
                .defer("payload"))
