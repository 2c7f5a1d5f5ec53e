"""Upload deploys: `POST /services/{id}/uploads/` with a .tar.gz of a source tree as the raw
body (`Content-Type: application/gzip`), as `paas up` sends it. The body is read in chunks and
refused with 413 once it passes PAAS_UPLOAD_MAX_BYTES (at once when Content-Length says so);
deployments.services.deploy_upload checks every entry before anything is stored (400 with its
message otherwise) and starts the deployment."""

from __future__ import annotations

from typing import BinaryIO

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import DeploymentSerializer, ErrorSerializer
from deployments.models import Trigger
from deployments.services import DeployRefused, deploy_upload
from projects.models import Service
from tenants.roles import Action

MEDIA_TYPES = ("application/gzip", "application/x-gzip", "application/octet-stream")
CLI_AGENT = "paas-cli"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The archive is too large."


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The archive is larger than {limit} bytes (PAAS_UPLOAD_MAX_BYTES).")


class GzipParser(BaseParser):
    """Declares the media type (for content negotiation and the schema); the view reads the
    body itself, as a stream."""

    media_type = "application/gzip"

    def parse(self, stream: BinaryIO, media_type: str | None = None,
              parser_context: dict | None = None) -> BinaryIO:
        return stream


class CappedBody:
    """The request body as a file, raising 413 once more than `limit` bytes are read."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self.stream, self.limit, self.read_bytes = stream, limit, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size if size and size > 0 else self.limit + 1)
        self.read_bytes += len(data)
        if self.read_bytes > self.limit:
            raise too_large(self.limit)
        return data


class UploadView(APIView):
    actions_required = {"post": Action.DEPLOY}
    parser_classes = [GzipParser]

    @extend_schema(
        operation_id="services_uploads_create",
        request={"application/gzip": OpenApiTypes.BINARY},
        responses={201: DeploymentSerializer,
                   400: OpenApiResponse(ErrorSerializer, description="the archive is refused"),
                   413: OpenApiResponse(ErrorSerializer, description="over "
                                        "PAAS_UPLOAD_MAX_BYTES")},
        description="Deploy a .tar.gz of a source tree (the raw body), built like a checkout.",
    )
    def post(self, request: Request, pk: int) -> Response:
        service = Service.objects.visible().filter(pk=pk).first()
        if service is None:
            raise exceptions.NotFound()
        media_type = request.content_type.split(";")[0].strip().lower()
        if media_type not in MEDIA_TYPES:
            raise exceptions.UnsupportedMediaType(media_type or "(none)")
        limit = settings.PAAS_UPLOAD_MAX_BYTES
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) > limit:
            raise too_large(limit)
        agent = request.META.get("HTTP_USER_AGENT", "")
        trigger = Trigger.CLI if agent.lower().startswith(CLI_AGENT) else Trigger.API
        try:
            deployment = deploy_upload(service, CappedBody(request._request, limit),
                                       trigger=trigger, triggered_by=request.user.email)
        except DeployRefused as error:
            raise exceptions.ValidationError(str(error)) from None
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)
