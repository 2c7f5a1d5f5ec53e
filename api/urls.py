"""URLs of the API, under <slug>.PAAS_DOMAIN/api/v1/ (included by config.urls_tenant)."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from api import views_docs
from api.errors import not_found
from api.views_deployments import DeploymentViewSet
from api.views_logs import ServiceLogsView
from api.views_projects import EnvironmentViewSet, ProjectViewSet, WorkspaceView
from api.views_services import ServiceViewSet
from api.views_uploads import UploadView

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="api-project")
router.register("services", ServiceViewSet, basename="api-service")
router.register("deployments", DeploymentViewSet, basename="api-deployment")

environments = EnvironmentViewSet.as_view({"get": "list", "post": "create"})
environment = EnvironmentViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    path("", WorkspaceView.as_view(), name="api-workspace"),
    path("schema/", views_docs.SchemaView.as_view(), name="api-schema"),
    path("docs/", views_docs.docs, name="api-docs"),
    path("projects/<int:project_id>/environments/", environments, name="api-environments"),
    path("environments/<int:pk>/", environment, name="api-environment"),
    path("services/<int:pk>/uploads/", UploadView.as_view(), name="api-uploads"),
    path("services/<int:pk>/logs/", ServiceLogsView.as_view(), name="api-service-logs"),
    *router.urls,
    re_path(r"^.*$", not_found),
]
