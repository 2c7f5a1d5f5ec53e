"""The workspace admin: operators inspect one workspace's data at <slug>.PAAS_DOMAIN/admin/.

A separate admin site, because these tables exist only in workspace schemas: on the root
domain they would be "relation does not exist". Only staff reach it (MembershipMiddleware).
"""

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django_tenants.utils import tenant_context

from projects.models import Environment, Project, Service, Variable, VariableReveal
from tenants.admin import WorkspaceAdmin
from tenants.models import Workspace


class WorkspaceAdminSite(AdminSite):
    site_header = "Workspace data"
    site_title = "Workspace admin"
    index_title = "This workspace's projects, services and deployments"

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        workspace = getattr(request, "workspace", None)
        if workspace is not None:
            context["site_header"] = f"Workspace: {workspace.name} ({workspace.slug})"
        return context


workspace_admin = WorkspaceAdminSite(name="workspace_admin")


class EnvironmentInline(admin.TabularInline):
    model = Environment
    extra = 0


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0
    fields = ["name", "repository_url", "branch", "active_deployment"]
    readonly_fields = ["active_deployment"]


@admin.register(Project, site=workspace_admin)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at", "deleting"]
    search_fields = ["name"]
    inlines = [EnvironmentInline]


@admin.register(Environment, site=workspace_admin)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "created_at"]
    inlines = [ServiceInline]


@admin.register(Service, site=workspace_admin)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "repository_url", "branch", "active_deployment"]
    list_select_related = ["environment__project", "active_deployment"]
    search_fields = ["name"]
    raw_id_fields = ["active_deployment"]


@admin.register(Variable, site=workspace_admin)
class VariableAdmin(admin.ModelAdmin):
    """Keys only: values are secrets and never shown here."""

    list_display = ["key", "service", "environment", "updated_at"]
    fields = ["key", "service", "environment", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(VariableReveal, site=workspace_admin)
class VariableRevealAdmin(admin.ModelAdmin):
    """The audit trail of who looked at which secret, and when: read-only."""

    list_display = ["revealed_at", "user_email", "owner_type", "owner_id", "key"]
    list_filter = ["owner_type"]
    search_fields = ["user_email", "key"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class WorkspaceWithContentsAdmin(WorkspaceAdmin):
    """The operators' workspace page, with what the workspace holds (projects live in its
    schema, which the tenants app does not know about)."""

    readonly_fields = [*WorkspaceAdmin.readonly_fields, "contents"]

    def get_fields(self, request: HttpRequest, obj: Workspace | None = None) -> list:
        fields = super().get_fields(request, obj)
        return [*fields, "contents"] if obj is not None else fields

    @admin.display(description="Projects, services and latest deployments")
    def contents(self, workspace: Workspace) -> SafeString | str:
        if not workspace.pk:
            return "—"
        with tenant_context(workspace):
            projects = list(
                Project.objects.prefetch_related("environments__services__deployments")
            )
            return render_to_string(
                "admin/tenants/workspace_contents.html",
                {"projects": projects, "workspace": workspace},
            )


admin.site.unregister(Workspace)
admin.site.register(Workspace, WorkspaceWithContentsAdmin)
