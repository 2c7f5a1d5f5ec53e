"""URLs of a workspace's subdomain (<slug>.PAAS_DOMAIN)."""

from django.contrib.auth.views import LogoutView
from django.urls import path

from projects import views as project_views
from projects.admin import workspace_admin

urlpatterns = [
    path("", project_views.workspace_home, name="workspace_home"),
    path("projects/new/", project_views.project_create, name="project_create"),
    path("projects/<int:project_id>/", project_views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/delete/", project_views.project_delete, name="project_delete"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("admin/", workspace_admin.urls),
]
