"""URLs of a workspace's subdomain (<slug>.PAAS_DOMAIN)."""

from django.urls import include, path, register_converter

from api import views_tokens as token_views
from github import views_picker as picker_views
from github import views_previews as preview_views
from github import views_settings as github_settings_views
from github import webhooks
from github.workspaces import WEBHOOK_PATH
from projects import views as project_views
from projects import views_domains as domain_views
from projects import views_environments as environment_views
from projects import views_services as service_views
from projects import views_variables as variable_views
from projects.admin import workspace_admin
from tenants import views as tenant_views
from tenants import views_members as member_views
from tenants import views_workspace as workspace_views

# <owner_kind:kind>: "services" or "environments" (a service's variables, or shared ones).
register_converter(variable_views.OwnerKindConverter, "owner_kind")
VARIABLES = "<owner_kind:kind>/<int:owner_id>/variables/"

urlpatterns = [
    path("", project_views.workspace_home, name="workspace_home"),
    path("projects/new/", project_views.project_create, name="project_create"),
    path("projects/<int:project_id>/", project_views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/delete/", project_views.project_delete, name="project_delete"),
    path("projects/<int:project_id>/environments/new/", environment_views.environment_create,
         name="environment_create"),
    path("environments/<int:environment_id>/delete/", environment_views.environment_delete,
         name="environment_delete"),
    path("environments/<int:environment_id>/approve/", preview_views.preview_approve,
         name="preview_approve"),
    path("environments/<int:environment_id>/services/new/", service_views.service_create,
         name="service_create"),
    path("services/<int:service_id>/", service_views.service_detail, name="service_detail"),
    path("services/<int:service_id>/settings/", service_views.service_settings,
         name="service_settings"),
    path("services/<int:service_id>/delete/", service_views.service_delete,
         name="service_delete"),
    path("services/<int:service_id>/domains/", domain_views.domain_add, name="domain_add"),
    path("services/<int:service_id>/domains/<int:domain_id>/check/", domain_views.domain_check,
         name="domain_check"),
    path("services/<int:service_id>/domains/<int:domain_id>/remove/",
         domain_views.domain_remove, name="domain_remove"),
    path("", include("deployments.urls")),
    path("api/v1/", include("api.urls")),
    path("api/", include("api.urls_fallback")),
    path("environments/<int:environment_id>/variables/", variable_views.shared_variables,
         name="shared_variables"),
    path(f"{VARIABLES}editor/", variable_views.variables_editor, name="variables_editor"),
    path(f"{VARIABLES}add/", variable_views.variable_add, name="variable_add"),
    path(f"{VARIABLES}raw/", variable_views.variables_raw, name="variables_raw"),
    path(f"{VARIABLES}apply/", variable_views.variables_apply, name="variables_apply"),
    path(f"{VARIABLES}discard/", variable_views.variables_discard, name="variables_discard"),
    path(f"{VARIABLES}<int:variable_id>/", variable_views.variable_row, name="variable_row"),
    path(f"{VARIABLES}<int:variable_id>/reveal/", variable_views.variable_reveal,
         name="variable_reveal"),
    path(f"{VARIABLES}<int:variable_id>/edit/", variable_views.variable_edit,
         name="variable_edit"),
    path(f"{VARIABLES}<int:variable_id>/delete/", variable_views.variable_delete,
         name="variable_delete"),
    path(f"{VARIABLES}staged/<int:change_id>/undo/", variable_views.staged_undo,
         name="staged_undo"),
    path("members/", member_views.member_list, name="members"),
    path("members/<int:membership_id>/role/", member_views.member_role, name="member_role"),
    path("members/<int:membership_id>/remove/", member_views.member_remove,
         name="member_remove"),
    path("members/<int:membership_id>/transfer/", member_views.member_transfer,
         name="member_transfer"),
    path("members/leave/", member_views.member_leave, name="member_leave"),
    path("members/invite/", member_views.invitation_create, name="invitation_create"),
    path("audit/", member_views.audit_log, name="audit_log"),
    path("settings/", workspace_views.workspace_settings, name="workspace_settings"),
    path("settings/delete/", workspace_views.workspace_delete, name="workspace_delete"),
    path("settings/api-tokens/", token_views.token_list, name="api_tokens"),
    path("settings/api-tokens/<int:token_id>/revoke/", token_views.token_revoke,
         name="api_token_revoke"),
    path("github/repositories/", picker_views.github_repositories,
         name="github_repositories"),
    path("github/source/", picker_views.github_source, name="github_source"),
    path("settings/github/", github_settings_views.github_settings, name="github_settings"),
    path("settings/github/secret/", github_settings_views.github_secret_reveal,
         name="github_secret_reveal"),
    path("settings/github/secret/rotate/", github_settings_views.github_secret_rotate,
         name="github_secret_rotate"),
    path(WEBHOOK_PATH.lstrip("/"), webhooks.github_webhook, name="github_webhook"),
    path("members/invitations/<int:invitation_id>/resend/", member_views.invitation_resend,
         name="invitation_resend"),
    path("members/invitations/<int:invitation_id>/revoke/", member_views.invitation_revoke,
         name="invitation_revoke"),
    path("logout/", tenant_views.logout_view, name="logout"),
    path("admin/", workspace_admin.urls),
]
