"""URLs of deployments, on a workspace's subdomain (included by config.urls_tenant)."""

from django.urls import path

from deployments import views, views_logs

urlpatterns = [
    path("services/<int:service_id>/deploy/", views.service_deploy, name="service_deploy"),
    path("services/<int:service_id>/redeploy/", views.service_redeploy, name="service_redeploy"),
    path("services/<int:service_id>/restart/", views.service_restart, name="service_restart"),
    path("services/<int:service_id>/stop/", views.service_stop, name="service_stop"),
    path("services/<int:service_id>/deployments/", views.service_deployments,
         name="service_deployments"),
    path("deployments/<int:deployment_id>/", views.deployment_detail, name="deployment_detail"),
    path("deployments/<int:deployment_id>/log.txt", views_logs.deployment_log_download,
         name="deployment_log_download"),
    path("services/<int:service_id>/logs/", views_logs.service_logs, name="service_logs"),
    path("services/<int:service_id>/logs.txt", views_logs.service_log_download,
         name="service_log_download"),
    path("environments/<int:environment_id>/logs/", views_logs.environment_logs,
         name="environment_logs"),
    path("deployments/<int:deployment_id>/cancel/", views.deployment_cancel,
         name="deployment_cancel"),
    path("deployments/<int:deployment_id>/rollback/", views.deployment_rollback,
         name="deployment_rollback"),
]
