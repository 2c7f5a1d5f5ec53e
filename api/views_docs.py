"""The OpenAPI 3 schema (drf-spectacular, generated from the views) and Swagger UI on it,
whose files (drf-spectacular-sidecar) the panel serves itself: no CDN, and no inline script
or style, so the page keeps the panel's Content-Security-Policy."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView

from api import schema  # noqa: F401 -- registers the token scheme with drf-spectacular
from api.errors import body
from api.permissions import WorkspaceRole
from tenants.access import membership_for


class SchemaView(SpectacularAPIView):
    """The schema (JSON; YAML with ?format=yaml), for members, like every other endpoint."""

    permission_classes = [WorkspaceRole]
    renderer_classes = [OpenApiJsonRenderer, OpenApiYamlRenderer]  # JSON unless ?format=yaml


@require_GET
def docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI for signed-in members; the same JSON errors as the API otherwise."""
    if not request.user.is_authenticated:
        return JsonResponse(body("not_authenticated", "Sign in to read the API's documentation."),
                            status=401)
    request.membership = membership_for(request.user, request.workspace)
    if request.membership is None:
        return JsonResponse(body("not_found", "No such workspace."), status=404)
    return render(request, "api/docs.html", {"schema_url": reverse("api-schema")})
