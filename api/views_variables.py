"""Variables of a service, and the shared ones of an environment, as on the variable editor:
members see keys, never values; owners and admins see values only when they ask
(`?reveal=true`), each reveal recorded as the editor records it. Writes are checked by the
editor's form and apply at once (staged and applied as "Apply" does, leaving others' staged
changes of other keys staged), as scripts expect. No value is ever quoted in an error.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils.cache import add_never_cache_headers
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import WorkspaceViewSet, body_of
from api.errors import Conflict
from api.schema import CONFLICT
from api.serializers import (
    ResolvedVariablesSerializer,
    VariablesChangedSerializer,
    VariableSerializer,
    VariableValueSerializer,
)
from projects.dotenv import validate_key
from projects.forms import VariableForm
from projects.models import Environment, Service, Variable, owner_filter
from projects.references import VariableReferenceError
from projects.variables import reveal, reveal_resolved, set_now
from tenants.access import allowed
from tenants.roles import Action

Owner = Service | Environment
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")
BULK = {"application/json": {
    "type": "object", "additionalProperties": {"type": "string", "nullable": True},
    "description": '{"KEY": "value", "OTHER": null}: set each key, delete those given null',
    "example": {"DATABASE_URL": "postgres://…", "OLD_KEY": None}}}


def reveal_param(request: Request) -> bool:
    raw = request.query_params.get("reveal", "").lower()
    if raw not in TRUE + FALSE:
        raise exceptions.ValidationError({"reveal": ["Give true or false."]})
    return raw in TRUE


@sensitive_variables()
def checked(values: dict[str, Any]) -> dict[str, str | None]:
    """Each key and value as the editor's form checks them (a key given null is deleted and
    needs a valid name only, reserved or not); 400 naming each refused key, never a value."""
    refused: dict[str, list[str]] = {}
    changes: dict[str, str | None] = {}
    for key, value in values.items():
        if value is None:
            try:
                validate_key(key)
            except DjangoValidationError as error:
                refused[key] = error.messages
            else:
                changes[key] = None
            continue
        if not isinstance(value, str):
            refused[key] = ["Give a string, or null to delete the variable."]
            continue
        form = VariableForm({"key": key, "value": value})
        if form.is_valid():
            changes[key] = form.cleaned_data["value"]
        else:
            refused[key] = [str(m) for messages in form.errors.values() for m in messages]
    if refused:
        raise exceptions.ValidationError(refused)
    return changes


def changed(changes: dict[str, str | None], applied: int) -> dict[str, Any]:
    return {"set": sorted(k for k, v in changes.items() if v is not None),
            "deleted": sorted(k for k, v in changes.items() if v is None), "applied": applied}


class VariableViewSet(WorkspaceViewSet):
    """A service's variables (`services/{id}/variables/`); EnvironmentVariableViewSet: the
    shared ones of an environment."""

    owner_model: type[Service] | type[Environment] = Service
    serializer_class = VariableSerializer
    ordering_fields = ("key", "updated_at")
    default_ordering = ("key",)
    actions_required = {"bulk_update": Action.EDIT_VARIABLES, "update": Action.EDIT_VARIABLES,
                        "destroy": Action.EDIT_VARIABLES, "resolved": Action.READ_SECRETS}

    def owner(self) -> Owner:
        return get_object_or_404(self.owner_model.objects.visible(), pk=self.kwargs["owner_id"])

    def get_queryset(self) -> QuerySet:
        return Variable.objects.filter(**owner_filter(self.owner()))

    @extend_schema(parameters=[OpenApiParameter("reveal", bool, description=(
        "also the values (owners and admins; each reveal is recorded in the audit log)"))])
    @sensitive_variables()
    def list(self, request: Request, owner_id: str) -> Response:
        """The applied variables: keys (and when they changed); values only when asked."""
        show = reveal_param(request)
        if show and not allowed(request._request, Action.READ_SECRETS):
            raise exceptions.PermissionDenied(
                f"Your role in this workspace does not allow {Action.READ_SECRETS}.")
        queryset = self.filter_queryset(self.get_queryset())
        if not show:
            queryset = queryset.defer("ciphertext")
        rows = [{"key": variable.key, "updated_at": variable.updated_at,
                 **({"value": reveal(variable, request.user)} if show else {})}
                for variable in self.paginate_queryset(queryset)]
        response = self.get_paginated_response(VariableSerializer(rows, many=True).data)
        add_never_cache_headers(response)
        return response

    @extend_schema(request=BULK, responses=VariablesChangedSerializer)
    @sensitive_variables()
    def bulk_update(self, request: Request, owner_id: str) -> Response:
        """Set several keys and delete others (null), at once and together."""
        owner = self.owner()
        data = request.data
        if not isinstance(data, dict) or not data:
            raise exceptions.ValidationError(
                'Give an object of keys: {"KEY": "value", "OTHER": null}.')
        changes = checked(data)
        return Response(changed(changes, set_now(owner, changes, request.user)))

    @extend_schema(request=VariableValueSerializer, responses=VariablesChangedSerializer)
    @sensitive_variables()
    def update(self, request: Request, owner_id: str, key: str) -> Response:
        """Set one variable (made if new), at once."""
        owner = self.owner()
        data = body_of(request, ["value"])
        if not isinstance(data.get("value"), str):
            raise exceptions.ValidationError({"value": ["Give the value as a string."]})
        form = VariableForm({"key": key, "value": data["value"]})
        if not form.is_valid():
            raise exceptions.ValidationError(
                {name: [str(m) for m in messages] for name, messages in form.errors.items()})
        changes = {key: form.cleaned_data["value"]}
        return Response(changed(changes, set_now(owner, changes, request.user)))

    @extend_schema(request=None, responses=VariablesChangedSerializer)
    def destroy(self, request: Request, owner_id: str, key: str) -> Response:
        """Delete one variable, at once."""
        owner = self.owner()
        try:
            validate_key(key)
        except DjangoValidationError as error:
            raise exceptions.ValidationError({"key": error.messages}) from None
        get_object_or_404(self.get_queryset(), key=key)
        changes: dict[str, str | None] = {key: None}
        return Response(changed(changes, set_now(owner, changes, request.user)))


class EnvironmentVariableViewSet(VariableViewSet):
    owner_model = Environment


class ServiceResolvedViewSet(VariableViewSet):
    """`services/{id}/variables/resolved/`: GET is what a deployment would run with; PUT and
    DELETE still reach a variable named `resolved` (left out of the schema there)."""

    @extend_schema(responses={200: ResolvedVariablesSerializer, 409: CONFLICT})
    @sensitive_variables()
    def resolved(self, request: Request, owner_id: str, key: str = "") -> Response:
        """The values a deployment of the service would get now: references resolved,
        platform variables included (for `paas run`). Recorded as a reveal of every key."""
        service = self.owner()
        try:
            values = reveal_resolved(service, request.user)
        except VariableReferenceError as error:  # names the variable, never a value
            raise Conflict(str(error)) from None
        response = Response({"service": service.pk, "variables": values})
        add_never_cache_headers(response)
        return response

    @extend_schema(exclude=True)
    def update(self, request: Request, owner_id: str, key: str) -> Response:
        return super().update(request, owner_id, key)

    @extend_schema(exclude=True)
    def destroy(self, request: Request, owner_id: str, key: str) -> Response:
        return super().destroy(request, owner_id, key)
