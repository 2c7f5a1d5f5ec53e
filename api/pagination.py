"""Lists: `?limit=` (default 100, at most 1000) and `?offset=`; the answer says `has_more`,
and `next_offset` when there is more."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# PostgreSQL's OFFSET is a bigint: past it the query fails (found by schemathesis).
MAX_OFFSET = 2**63 - 1 - (MAX_LIMIT + 1)


def int_param(request: Request, name: str, default: int, minimum: int = 0,
              maximum: int | None = MAX_OFFSET) -> int:
    """A non-negative integer from the query (at most `maximum`: what the database takes),
    or 400 naming the parameter."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
        raise exceptions.ValidationError({name: [f"Give a whole number of {minimum} or more."]})
    if maximum is not None and int(raw) > maximum:
        raise exceptions.ValidationError({name: [f"Give a whole number of at most {maximum}."]})
    return int(raw)


class LimitOffsetPagination(BasePagination):
    def paginate_queryset(self, queryset: QuerySet, request: Request,
                          view: object = None) -> list:
        self.limit = min(int_param(request, "limit", DEFAULT_LIMIT, minimum=1, maximum=None),
                         MAX_LIMIT)
        self.offset = int_param(request, "offset", 0)
        rows = list(queryset[self.offset:self.offset + self.limit + 1])
        self.has_more = len(rows) > self.limit
        return rows[:self.limit]

    def get_paginated_response(self, data: list) -> Response:
        answer = {"results": data, "limit": self.limit, "offset": self.offset,
                  "has_more": self.has_more}
        if self.has_more:
            answer["next_offset"] = self.offset + self.limit
        return Response(answer)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "limit", "offset", "has_more"],
            "properties": {
                "results": schema,
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
                "has_more": {"type": "boolean"},
                "next_offset": {"type": "integer"},
            },
        }

    def get_schema_operation_parameters(self, view: object) -> list[dict]:
        return [
            {"name": "limit", "in": "query", "required": False,
             "description": f"How many (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).",
             "schema": {"type": "integer", "minimum": 1}},
            {"name": "offset", "in": "query", "required": False,
             "description": "How many to skip.",
             "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}},
        ]
