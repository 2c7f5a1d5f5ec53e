"""`?ordering=` by a whitelist (each view's `ordering_fields`, `-` for descending), with a
stable default (`default_ordering`, then the id); and each view's exact filters
(`filter_fields`: query parameter → lookup), ids as whole numbers, statuses as choices and
names (`filter_text`) as given."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from rest_framework import exceptions
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

if TYPE_CHECKING:  # rest_framework.views reads the settings that name this module
    from rest_framework.views import APIView


class OrderingFilter(BaseFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        allowed: tuple[str, ...] = getattr(view, "ordering_fields", ())
        raw = request.query_params.get("ordering", "")
        terms = [term.strip() for term in raw.split(",") if term.strip()]
        refused = [term for term in terms if term.lstrip("-") not in allowed]
        if refused:
            raise exceptions.ValidationError({"ordering": [
                f"Cannot order by {', '.join(refused)}; use {', '.join(allowed) or 'nothing'} "
                "(prefix - for descending)."]})
        ordering = terms or list(getattr(view, "default_ordering", ()))
        if not any(term.lstrip("-") == "id" for term in ordering):
            ordering.append("id")
        return queryset.order_by(*ordering)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict]:
        allowed = getattr(view, "ordering_fields", ())
        if not allowed:
            return []
        return [{"name": "ordering", "in": "query", "required": False,
                 "description": f"Comma-separated: {', '.join(allowed)}; - for descending.",
                 "schema": {"type": "string"}}]


class ExactFilter(BaseFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        fields: dict[str, str] = getattr(view, "filter_fields", {})
        choices: dict[str, list[str]] = getattr(view, "filter_choices", {})
        for param, lookup in fields.items():
            value = request.query_params.get(param)
            if value is None or value == "":
                continue
            if param in getattr(view, "filter_text", ()):
                pass
            elif param in choices:
                if value not in choices[param]:
                    raise exceptions.ValidationError(
                        {param: [f"One of {', '.join(choices[param])}."]})
            elif not (value.isascii() and value.isdigit()):
                raise exceptions.ValidationError({param: ["Give an id (a whole number)."]})
            queryset = queryset.filter(**{lookup: value})
        return queryset

    def get_schema_operation_parameters(self, view: APIView) -> list[dict]:
        choices = getattr(view, "filter_choices", {})
        text = getattr(view, "filter_text", ())
        return [{"name": param, "in": "query", "required": False,
                 "schema": ({"type": "string", "enum": choices[param]} if param in choices
                            else {"type": "string"} if param in text else {"type": "integer"})}
                for param in getattr(view, "filter_fields", {})]
