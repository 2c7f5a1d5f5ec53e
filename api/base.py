"""What every endpoint shares: the role check per action, pagination, ordering and filters,
and write bodies validated by the pages' forms (unknown fields refused, each error on its
field)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.forms import Form
from rest_framework import exceptions, viewsets
from rest_framework.request import Request

from api.errors import form_errors
from api.filters import ExactFilter, OrderingFilter
from api.pagination import LimitOffsetPagination


def body_of(request: Request, allowed: Iterable[str]) -> dict[str, Any]:
    """The JSON object of the request, or 400 if it is no object or has fields not in
    `allowed` (each named)."""
    data = request.data
    if not isinstance(data, dict):
        raise exceptions.ValidationError("The body must be a JSON object.")
    allowed = set(allowed)
    unknown = sorted(key for key in data if key not in allowed)
    if unknown:
        raise exceptions.ValidationError(
            {key: [f"Unknown field; known: {', '.join(sorted(allowed))}."] for key in unknown})
    return dict(data)


def validated(form: Form) -> Form:
    """The form, if valid; else 400 with its errors."""
    if not form.is_valid():
        raise form_errors(form)
    return form


def form_data(values: dict[str, Any]) -> dict[str, Any]:
    """JSON values as form data: null is blank, true/false as a checkbox sends them."""
    data = {}
    for key, value in values.items():
        if value is None:
            value = ""
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | dict):
            raise exceptions.ValidationError({key: ["Give a single value."]})
        data[key] = value
    return data


class WorkspaceViewSet(viewsets.GenericViewSet):
    """A viewset of the workspace's objects: `actions_required` maps each action to the
    tenants.roles Action it needs (VIEW when absent)."""

    pagination_class = LimitOffsetPagination
    filter_backends = [ExactFilter, OrderingFilter]
    ordering_fields: tuple[str, ...] = ("id",)
    default_ordering: tuple[str, ...] = ("id",)
    actions_required: dict = {}
