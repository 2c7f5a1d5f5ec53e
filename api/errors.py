"""The API's one error format:

    {"error": {"code": "...", "message": "...", "fields": {"name": ["..."]}}}

with the HTTP status of the error. `fields` names the refused fields of a request body or
query (validation, 400) and is absent otherwise.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.forms import Form
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD = "non_field_errors"
MESSAGES = {
    status.HTTP_400_BAD_REQUEST: "The request is not valid.",
    status.HTTP_404_NOT_FOUND: "Not found.",
}


class Conflict(exceptions.APIException):
    """The action is not possible in the object's present state (deployments.services says
    why)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "Not possible now."


def body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{key}: {text}" for key, value in detail.items() for text in _flatten(value)]
    if isinstance(detail, list):
        return [text for item in detail for text in _flatten(item)]
    return [str(detail)]


def _code_of(detail: Any, default: str) -> str:
    codes = detail.get_codes() if hasattr(detail, "get_codes") else None
    return codes if isinstance(codes, str) else default


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    request = context.get("request")
    if request is not None:  # errors are JSON whatever the endpoint renders (the schema: YAML)
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(detail, dict):
            fields = {key: _flatten(value) for key, value in detail.items() if key != NON_FIELD}
            general = _flatten(detail.get(NON_FIELD, []))
        else:
            fields, general = {}, _flatten(detail)
        message = " ".join(general) or MESSAGES[400]
        if fields and not general:
            message = "Invalid " + ", ".join(sorted(fields)) + "."
        response.data = body("invalid", message, fields)
    else:
        code = getattr(exc, "default_code", "error")
        response.data = body(_code_of(detail, code), " ".join(_flatten(detail)))
    return response


def form_errors(form: Form) -> exceptions.ValidationError:
    """A form's errors as the API's 400: each on its field, the others in the message."""
    errors = {(NON_FIELD if name == "__all__" else name): [str(m) for m in messages]
              for name, messages in form.errors.items()}
    return exceptions.ValidationError(errors)


@csrf_exempt  # it changes nothing: a POST there is this 404, not the CSRF check's HTML 403
def not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """404 for a path under /api/ that names no endpoint (a negative id too: `<int:>`
    matches none)."""
    return JsonResponse(body("not_found", "No such endpoint."), status=404)
