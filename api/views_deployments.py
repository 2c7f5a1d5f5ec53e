"""Deployments: listed with filters, started (the Deploy button), cancelled, rolled back to,
and their log lines after a sequence number."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import WorkspaceViewSet, body_of
from api.errors import Conflict
from api.pagination import int_param
from api.schema import CONFLICT
from api.serializers import (
    DeploymentCreateSerializer,
    DeploymentSerializer,
    LogPageSerializer,
    log_line_data,
)
from deployments.logview import lines_after
from deployments.models import Deployment, Status, Trigger
from deployments.services import (
    DeployRefused,
    cancel_deployment,
    rollback,
    trigger_deployment,
)
from projects.models import Service
from tenants.roles import Action

LOG_DEFAULT_LIMIT = 1000
LOG_MAX_LIMIT = 5000


class DeploymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    serializer_class = DeploymentSerializer
    ordering_fields = ("id", "number", "created_at", "status")
    default_ordering = ("-created_at",)
    filter_fields = {"service": "service_id", "environment": "service__environment_id",
                     "status": "status"}
    filter_choices = {"status": list(Status.values)}
    actions_required = {"create": Action.DEPLOY, "cancel": Action.DEPLOY,
                        "rollback": Action.DEPLOY, "logs": Action.READ_LOGS}

    def get_queryset(self):  # noqa: ANN201
        return Deployment.objects.visible()

    @extend_schema(request=DeploymentCreateSerializer,
                   responses={201: DeploymentSerializer, 409: CONFLICT})
    def create(self, request: Request) -> Response:
        """Deploy the head of the service's branch, as the Deploy button does."""
        data = body_of(request, ["service"])
        service_id = data.get("service")
        if not isinstance(service_id, int) or isinstance(service_id, bool):
            raise exceptions.ValidationError({"service": ["Give the service's id."]})
        service = Service.objects.visible().filter(pk=service_id).first()
        if service is None:
            raise exceptions.ValidationError({"service": ["No such service."]})
        try:
            deployment = trigger_deployment(service, Trigger.API,
                                            triggered_by=request.user.email)
        except DeployRefused as error:
            raise Conflict(str(error)) from None
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: DeploymentSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel a queued, building or deploying deployment (409 otherwise)."""
        deployment = self.get_object()
        try:
            cancel_deployment(deployment, by=request.user.email)
        except DeployRefused as error:
            raise Conflict(str(error)) from None
        deployment.refresh_from_db()
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={201: DeploymentSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, pk: str) -> Response:
        """A new deployment that starts this one's release again, without a rebuild."""
        deployment = self.get_object()
        try:
            new = rollback(deployment, triggered_by=request.user.email)
        except DeployRefused as error:
            raise Conflict(str(error)) from None
        return Response(DeploymentSerializer(new).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="the last sequence number already read"),
            OpenApiParameter("limit", int, description=(
                f"at most this many lines (default {LOG_DEFAULT_LIMIT}, max {LOG_MAX_LIMIT})")),
        ],
        responses=LogPageSerializer,
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def logs(self, request: Request, pk: str) -> Response:
        """Log lines after sequence `after`, in order; `last_sequence` is where to go on."""
        deployment = self.get_object()
        after = int_param(request, "after", 0)
        limit = min(int_param(request, "limit", LOG_DEFAULT_LIMIT, minimum=1), LOG_MAX_LIMIT)
        lines = lines_after(deployment.pk, after, None, "", None, limit + 1)
        shown = lines[:limit]
        return Response({
            "lines": [log_line_data(line, with_deployment=False) for line in shown],
            "has_more": len(lines) > limit,
            "last_sequence": shown[-1].sequence if shown else after,
            "status": deployment.status,
        })
