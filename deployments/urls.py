"""URLs of deployments, on a workspace's subdomain (included by config.urls_tenant)."""

from django.urls import path

from deployments import views

urlpatterns = [
    path("services/<int:service_id>/deploy/", views.service_deploy, name="service_deploy"),
    path("services/<int:service_id>/redeploy/", views.service_redeploy, name="service_redeploy"),
    path("services/<int:service_id>/restart/", views.service_restart, name="service_restart"),
    path("services/<int:service_id>/stop/", views.service_stop, name="service_stop"),
    path("services/<int:service_id>/deployments/", views.service_deployments,
         name="service_deployments"),
    path("deployments/<int:deployment_id>/", views.deployment_detail, name="deployment_detail"),
    path("deployments/<int:deployment_id>/cancel/", views.deployment_cancel,
         name="deployment_cancel"),
    path("deployments/<int:deployment_id>/rollback/", views.deployment_rollback,
         name="deployment_rollback"),
]
