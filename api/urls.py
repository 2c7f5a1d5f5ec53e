"""URLs of the API, under <slug>.PAAS_DOMAIN/api/v1/ (included by config.urls_tenant)."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from api import views_docs
from api.errors import not_found
from api.views_deployments import DeploymentViewSet
from api.views_domains import ServiceDomainViewSet
from api.views_logs import ServiceLogsView
from api.views_members import InvitationViewSet, MemberViewSet
from api.views_projects import EnvironmentViewSet, ProjectViewSet, WorkspaceView
from api.views_services import ServiceViewSet
from api.views_uploads import UploadView
from api.views_variables import (
    EnvironmentVariableViewSet,
    ServiceResolvedViewSet,
    VariableViewSet,
)
from api.views_webhooks import WebhookDeliveryViewSet

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="api-project")
router.register("services", ServiceViewSet, basename="api-service")
router.register("deployments", DeploymentViewSet, basename="api-deployment")

environments = EnvironmentViewSet.as_view({"get": "list", "post": "create"})
environment = EnvironmentViewSet.as_view({"get": "retrieve", "delete": "destroy"})

# Variables, members, invitations, webhook deliveries (issue 13, step 2).
router.register("members", MemberViewSet, basename="api-member")
router.register("invitations", InvitationViewSet, basename="api-invitation")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="api-webhook-delivery")
VARIABLES = {"get": "list", "patch": "bulk_update"}
VARIABLE = {"put": "update", "delete": "destroy"}
resources = [
    path("services/<int:owner_id>/variables/", VariableViewSet.as_view(VARIABLES),
         name="api-service-variables"),
    path("services/<int:owner_id>/variables/resolved/", ServiceResolvedViewSet.as_view(
        {"get": "resolved", **VARIABLE}), {"key": "resolved"}, name="api-service-resolved"),
    path("services/<int:owner_id>/variables/<str:key>/", VariableViewSet.as_view(VARIABLE),
         name="api-service-variable"),
    path("environments/<int:owner_id>/variables/",
         EnvironmentVariableViewSet.as_view(VARIABLES), name="api-environment-variables"),
    path("environments/<int:owner_id>/variables/<str:key>/",
         EnvironmentVariableViewSet.as_view(VARIABLE), name="api-environment-variable"),
    # Custom domains (issue 14), named by hostname.
    path("services/<int:service_id>/domains/",
         ServiceDomainViewSet.as_view({"get": "list", "post": "create"}),
         name="api-service-domains"),
    path("services/<int:service_id>/domains/<str:hostname>/",
         ServiceDomainViewSet.as_view({"delete": "destroy"}), name="api-service-domain"),
    path("services/<int:service_id>/domains/<str:hostname>/check/",
         ServiceDomainViewSet.as_view({"post": "check"}), name="api-service-domain-check"),
]

urlpatterns = [
    path("", WorkspaceView.as_view(), name="api-workspace"),
    path("schema/", views_docs.SchemaView.as_view(), name="api-schema"),
    path("docs/", views_docs.docs, name="api-docs"),
    path("projects/<int:project_id>/environments/", environments, name="api-environments"),
    path("environments/<int:pk>/", environment, name="api-environment"),
    path("services/<int:pk>/uploads/", UploadView.as_view(), name="api-uploads"),
    path("services/<int:pk>/logs/", ServiceLogsView.as_view(), name="api-service-logs"),
    *resources,
    *router.urls,
    re_path(r"^.*$", not_found),
]
