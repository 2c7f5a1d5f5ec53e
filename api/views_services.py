"""Services: listed with filters, created in an environment, their settings changed. The
pages' forms validate every value; domains are read-only here."""

from __future__ import annotations

from django.db.models import QuerySet
from django.forms.models import model_to_dict
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import WorkspaceViewSet, body_of, form_data, validated
from api.serializers import ServiceCreateSerializer, ServiceSerializer, ServiceSettingsSerializer
from projects.connections import service_connected
from projects.forms import ServiceForm, ServiceSettingsForm
from projects.models import Environment, Service
from projects.services import create_service, delete_service, save_service_settings
from tenants.roles import Action

CREATE_FIELDS = ("environment", *ServiceForm._meta.fields)
SETTINGS_FIELDS = tuple(ServiceSettingsForm._meta.fields)


def api_services() -> QuerySet[Service]:
    """The services the API shows, with what ServiceSerializer reads: the environment's row
    joined (for its project's id), not the project's nor the active deployment's (of which it
    writes only the id): a deployment's row and its JSON were most of a list's reading."""
    return Service.objects.visible().select_related(None).select_related("environment")


class ServiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    serializer_class = ServiceSerializer
    ordering_fields = ("id", "name", "created_at")
    default_ordering = ("name",)
    filter_fields = {"environment": "environment_id", "project": "environment__project_id"}
    actions_required = {"create": Action.EDIT_SERVICE, "partial_update": Action.EDIT_SERVICE,
                        "destroy": Action.EDIT_SERVICE}

    def get_queryset(self):  # noqa: ANN201
        return api_services()

    @extend_schema(request=ServiceCreateSerializer, responses={201: ServiceSerializer})
    def create(self, request: Request) -> Response:
        data = body_of(request, CREATE_FIELDS)
        environment_id = data.pop("environment", None)
        if not isinstance(environment_id, int) or isinstance(environment_id, bool):
            raise exceptions.ValidationError({"environment": ["Give the environment's id."]})
        environment = Environment.objects.visible().filter(pk=environment_id).first()
        if environment is None:
            raise exceptions.ValidationError({"environment": ["No such environment."]})
        form = validated(ServiceForm(form_data(data), environment=environment,
                                     user=request.user))
        service = create_service(environment, **form.cleaned_data)
        if form.newly_connected:
            service_connected.send(sender=Service, service=service, request=request._request)
        service = api_services().get(pk=service.pk)
        return Response(ServiceSerializer(service).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ServiceSettingsSerializer, responses=ServiceSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change some settings; the others keep their values. They apply from the next
        deployment."""
        service = self.get_object()
        data = body_of(request, SETTINGS_FIELDS)
        current = model_to_dict(service, fields=SETTINGS_FIELDS)
        form = validated(ServiceSettingsForm(
            form_data({**current, **data}), user=request.user,
            instance=Service.objects.visible().get(pk=service.pk)))
        saved = save_service_settings(form)
        if form.newly_connected:
            service_connected.send(sender=Service, service=saved, request=request._request)
        return Response(ServiceSerializer(api_services().get(pk=saved.pk)).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        """Delete the service: it stops serving, its deployments, logs and variables go and
        its domain is freed."""
        delete_service(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
