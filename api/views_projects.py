"""The workspace, its projects and their environments."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import WorkspaceViewSet, body_of, form_data, validated
from api.errors import Conflict, form_errors
from api.schema import CONFLICT
from api.serializers import (
    EnvironmentCreateSerializer,
    EnvironmentSerializer,
    ProjectSerializer,
    ProjectWriteSerializer,
    WorkspaceSerializer,
    WorkspaceWriteSerializer,
)
from projects.environments import copy_environment
from projects.forms import ProjectForm
from projects.forms_environments import EnvironmentForm
from projects.models import Environment, Project
from projects.services import (
    LastEnvironment,
    create_project,
    delete_environment,
    delete_project,
    update_project,
)
from tenants.forms import WorkspaceRenameForm
from tenants.models import Workspace
from tenants.roles import Action
from tenants.services import rename_workspace


class WorkspaceView(APIView):
    """The workspace of the address, and the caller's role in it."""

    actions_required = {"patch": Action.EDIT_WORKSPACE}

    @extend_schema(responses=WorkspaceSerializer)
    def get(self, request: Request) -> Response:
        return Response(WorkspaceSerializer(request._request.workspace,
                                            context={"request": request}).data)

    @extend_schema(request=WorkspaceWriteSerializer, responses=WorkspaceSerializer)
    def patch(self, request: Request) -> Response:
        data = body_of(request, WorkspaceRenameForm._meta.fields)
        instance = Workspace.objects.get(pk=request._request.workspace.pk)
        current = {"name": instance.name}  # what is not sent keeps its value, as for projects
        form = validated(WorkspaceRenameForm(form_data({**current, **data}), instance=instance))
        workspace = rename_workspace(form)
        request._request.workspace.name = workspace.name
        return Response(WorkspaceSerializer(workspace, context={"request": request}).data)


class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Projects. Deleting one hides it at once and removes it, with everything it runs, in
    the background (202)."""

    serializer_class = ProjectSerializer
    ordering_fields = ("id", "name", "created_at")
    default_ordering = ("name",)
    actions_required = {"create": Action.CREATE_PROJECT, "partial_update": Action.EDIT_PROJECT,
                        "destroy": Action.DELETE_PROJECT}

    def get_queryset(self):  # noqa: ANN201
        return Project.objects.visible()

    @extend_schema(request=ProjectWriteSerializer, responses={201: ProjectSerializer})
    def create(self, request: Request) -> Response:
        data = body_of(request, ProjectForm._meta.fields)
        form = validated(ProjectForm(form_data(data)))
        project = create_project(form.cleaned_data["name"], form.cleaned_data["description"])
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProjectWriteSerializer, responses=ProjectSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        project = self.get_object()
        data = body_of(request, ProjectForm._meta.fields)
        current = {"name": project.name, "description": project.description}
        form = validated(ProjectForm(form_data({**current, **data}), instance=project))
        project = update_project(form)
        return Response(ProjectSerializer(project).data)

    @extend_schema(request=None, responses={202: ProjectSerializer})
    def destroy(self, request: Request, pk: str) -> Response:
        project = self.get_object()
        delete_project(project)
        return Response(ProjectSerializer(project).data, status=status.HTTP_202_ACCEPTED)


class EnvironmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Environments of a project. A new one is a copy of another of the project (its
    services, settings and variables); nothing is deployed."""

    serializer_class = EnvironmentSerializer
    ordering_fields = ("id", "name", "created_at")
    default_ordering = ("created_at",)
    actions_required = {"create": Action.EDIT_PROJECT, "destroy": Action.EDIT_PROJECT}

    def project(self) -> Project:
        return get_object_or_404(Project.objects.visible(), pk=self.kwargs["project_id"])

    def get_queryset(self):  # noqa: ANN201
        if "project_id" in self.kwargs:
            return Environment.objects.visible().filter(project=self.project())
        return Environment.objects.visible()

    @extend_schema(request=EnvironmentCreateSerializer, responses={201: EnvironmentSerializer})
    def create(self, request: Request, project_id: str) -> Response:
        project = self.project()
        data = body_of(request, ["name", "copy_of"])
        form = validated(EnvironmentForm(form_data(data), project=project))
        try:
            environment = copy_environment(form.cleaned_data["copy_of"], form.cleaned_data["name"])
        except ValidationError as error:  # taken meanwhile
            form.add_error(None, error)
            raise form_errors(form) from None
        return Response(EnvironmentSerializer(environment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None, 409: CONFLICT})
    def destroy(self, request: Request, pk: str) -> Response:
        """Delete the environment with its services and what they run; 409 for a project's
        last environment."""
        try:
            delete_environment(self.get_object())
        except LastEnvironment as error:
            raise Conflict(str(error)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
