"""A service's custom domains (`services/{id}/domains/`), as on its settings page: listed
for every member, added, checked and removed by owners and admins. The page's form checks
each hostname (refused ones named under `hostname`); a domain is named by its hostname in
paths (`…/domains/shop.example.com/`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import WorkspaceViewSet, body_of, form_data, validated
from api.serializers import CustomDomainCreateSerializer, CustomDomainSerializer
from hosting.hostnames import normalise
from hosting.models import CustomDomain
from projects.custom_domains import add_domain, check_domain, remove_domain
from projects.forms import CustomDomainForm
from projects.models import Service
from tenants.roles import Action


class ServiceDomainViewSet(WorkspaceViewSet):
    serializer_class = CustomDomainSerializer
    ordering_fields = ("hostname", "created_at", "status")
    default_ordering = ("hostname",)
    actions_required = {"create": Action.EDIT_SERVICE, "destroy": Action.EDIT_SERVICE,
                        "check": Action.EDIT_SERVICE}

    def service(self) -> Service:
        if not hasattr(self, "_service"):
            self._service = get_object_or_404(Service.objects.visible(),
                                              pk=self.kwargs["service_id"])
        return self._service

    def get_queryset(self) -> QuerySet:
        return CustomDomain.objects.of_service(connection.schema_name, self.service().pk)

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "service": self.service()}

    def domain(self, hostname: str) -> CustomDomain:
        try:
            hostname = normalise(hostname, allow_wildcard=True)
        except ValueError:
            raise Http404 from None
        return get_object_or_404(self.get_queryset(), hostname=hostname)

    def answer(self, domain: CustomDomain, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(domain).data, status=code)

    def list(self, request: Request, service_id: str) -> Response:
        """The service's custom domains, each with its DNS records and status."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=CustomDomainCreateSerializer, responses={201: CustomDomainSerializer})
    def create(self, request: Request, service_id: str) -> Response:
        """Add a domain: it routes to the service at once while the service runs; create
        its DNS records, then check it."""
        service = self.service()
        form = validated(CustomDomainForm(
            form_data(body_of(request, ["hostname"])), service=service,
            workspace=getattr(request._request, "workspace", None)))
        try:
            domain = add_domain(service, form.cleaned_data["hostname"])
        except DjangoValidationError as error:
            raise exceptions.ValidationError({"hostname": error.messages}) from None
        return self.answer(domain, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=CustomDomainSerializer)
    def check(self, request: Request, service_id: str, hostname: str) -> Response:
        """Look the domain's DNS up now; `status` and `found` say what it points at."""
        return self.answer(check_domain(self.service(), self.domain(hostname)))

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, service_id: str, hostname: str) -> Response:
        """Remove the domain: it stops routing to the service at once."""
        remove_domain(self.service(), self.domain(hostname))
        return Response(status=status.HTTP_204_NO_CONTENT)
