"""A service's logs as `paas logs` reads them: `GET /services/{id}/logs/`, the lines of one
deployment (the active one unless `deployment` says which), runtime (stdout, stderr) or, with
`build=true`, its build and deploy lines; filtered by `since` (ISO 8601) and `filter` (the log
views' query language, deployments/logsearch.py). Without `after` the last `limit` lines;
with it, the lines after that sequence number. `last_sequence` is where to go on from."""

from __future__ import annotations

from django.db.models import Q
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import int_param
from api.serializers import LogLineSerializer, LogPageSerializer, log_line_data
from deployments.logsearch import FilterError, parse
from deployments.logview import RUNTIME_STREAMS, VIEW_FIELDS, LineView
from deployments.models import Deployment, LogLine, Stream
from projects.models import Service
from tenants.roles import Action

DEFAULT_LIMIT = 100
MAX_LIMIT = 5000
BUILD_STREAMS = (Stream.BUILD, Stream.DEPLOY)


class ServiceLogLineSerializer(LogLineSerializer):
    deployment = serializers.IntegerField()


class ServiceLogPageSerializer(LogPageSerializer):
    deployment = serializers.IntegerField(allow_null=True)
    lines = ServiceLogLineSerializer(many=True)


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


def _deployment_of(service: Service, request: Request) -> Deployment | None:
    deployments = Deployment.objects.visible().filter(service=service)
    if request.query_params.get("deployment"):
        deployment = deployments.filter(pk=int_param(request, "deployment", 0)).first()
        if deployment is None:
            raise exceptions.ValidationError({"deployment": ["No such deployment here."]})
        return deployment
    if service.active_deployment_id:
        return deployments.filter(pk=service.active_deployment_id).first()
    return deployments.order_by("-created_at", "-id").first()


def _rows(deployment: Deployment, request: Request) -> Q:
    streams = BUILD_STREAMS if _flag(request, "build") else RUNTIME_STREAMS
    where = Q(deployment_id=deployment.pk, stream__in=streams)
    since = request.query_params.get("since")
    if since:
        moment = parse_datetime(since)
        if moment is None or moment.tzinfo is None:
            raise exceptions.ValidationError(
                {"since": ["Give an ISO 8601 time with its offset, e.g. 2026-01-31T12:00Z."]})
        where &= Q(timestamp__gte=moment)
    try:
        log_filter = parse(request.query_params.get("filter", ""))
    except FilterError as error:
        raise exceptions.ValidationError({"filter": [str(error)]}) from None
    return where & log_filter.q()


class ServiceLogsView(APIView):
    actions_required = {"get": Action.READ_LOGS}

    @extend_schema(
        operation_id="services_logs_list",
        parameters=[
            OpenApiParameter("deployment", int, description="whose lines (default: the "
                             "active deployment, else the latest)"),
            OpenApiParameter("build", bool, description="build and deploy lines instead of "
                             "runtime output"),
            OpenApiParameter("after", int, description="the last sequence number already read; "
                             "without it, the last `limit` lines"),
            OpenApiParameter("since", str, description="ISO 8601 time: no earlier lines"),
            OpenApiParameter("filter", str, description="the log views' filter, e.g. "
                             "`@level:error timeout`"),
            OpenApiParameter("limit", int, description=(
                f"at most this many lines (default {DEFAULT_LIMIT}, max {MAX_LIMIT})")),
        ],
        responses=ServiceLogPageSerializer,
    )
    def get(self, request: Request, pk: int) -> Response:
        service = Service.objects.visible().filter(pk=pk).first()
        if service is None:
            raise exceptions.NotFound()
        deployment = _deployment_of(service, request)
        limit = min(int_param(request, "limit", DEFAULT_LIMIT, minimum=1), MAX_LIMIT)
        if deployment is None:
            return Response({"deployment": None, "status": None, "lines": [],
                             "has_more": False, "last_sequence": 0})
        where = _rows(deployment, request)
        cursor = Deployment.objects.filter(pk=deployment.pk).values_list(
            "log_sequence", flat=True).get()
        rows = LogLine.objects.filter(where)
        following = request.query_params.get("after") is not None
        if following:
            after = int_param(request, "after", 0)
            found = list(rows.filter(sequence__gt=after).order_by("sequence")
                         .values_list(*VIEW_FIELDS)[:limit + 1])
            shown = found[:limit]
        else:
            after = 0
            found = list(rows.order_by("-sequence").values_list(*VIEW_FIELDS)[:limit + 1])
            shown = list(reversed(found[:limit]))
        lines = [LineView.from_row(row) for row in shown]
        more = following and len(found) > limit
        last = lines[-1].sequence if lines else after
        return Response({
            "deployment": deployment.pk,
            "status": deployment.status,
            "lines": [log_line_data(line) for line in lines],
            "has_more": more if following else len(found) > limit,
            "last_sequence": last if more else max(last, cursor),
        })
