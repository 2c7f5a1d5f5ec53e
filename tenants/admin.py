"""Operators' admin on the panel's root domain: users and workspaces."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from tenants.middleware import panel_url
from tenants.models import AuditEvent, Domain, Invitation, Membership, User, Workspace
from tenants.services import validate_workspace_slug

admin.site.site_header = "Panel operators"
admin.site.site_title = "Panel admin"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "name", "password"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups",
                                    "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class WorkspaceAdminForm(forms.ModelForm):
    """The schema name follows from the slug (save_model), so the form does not ask for it."""

    class Meta:
        model = Workspace
        fields = ["name", "slug", "suspended", "allow_wildcard_domains"]

    def clean_slug(self) -> str:
        # The same rules as the sign-up flow: a DNS label, not reserved, not taken.
        return validate_workspace_slug(self.cleaned_data["slug"])


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    form = WorkspaceAdminForm
    list_display = ["name", "slug", "schema_name", "suspended", "created_at"]
    list_filter = ["suspended", "allow_wildcard_domains"]
    search_fields = ["name", "slug"]
    readonly_fields = ["schema_name", "created_at"]
    inlines = [MembershipInline, DomainInline]
    actions = ["suspend", "resume"]

    def get_fields(self, request: HttpRequest, obj: Workspace | None = None) -> list:
        if obj is None:
            return ["name", "slug", "suspended", "allow_wildcard_domains"]
        return ["name", "slug", "schema_name", "suspended", "allow_wildcard_domains",
                "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Workspace | None = None) -> list:
        # The slug names the schema and the domain: fixed once the workspace exists.
        return [*self.readonly_fields, "slug"] if obj else []

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        workspace = self.get_object(request, object_id)
        if workspace is not None:
            extra_context = {
                **(extra_context or {}),
                "workspace_admin_url": panel_url(request, "/admin/", workspace.hostname),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Suspend the selected workspaces")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Workspace]) -> None:
        for workspace in queryset:
            workspace.suspend()
        self.message_user(request, f"Suspended {queryset.count()} workspace(s).", messages.SUCCESS)

    @admin.action(description="Resume the selected workspaces")
    def resume(self, request: HttpRequest, queryset: QuerySet[Workspace]) -> None:
        for workspace in queryset:
            workspace.resume()
        self.message_user(request, f"Resumed {queryset.count()} workspace(s).", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: Workspace, form: object, change: bool) -> None:
        if not change:
            obj.schema_name = Workspace.schema_name_for(obj.slug)
        super().save_model(request, obj, form, change)
        if not change:
            Domain.objects.get_or_create(domain=obj.hostname, defaults={"tenant": obj})


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "workspace__slug"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: invitations are made on a workspace's Members page (the link is never
    stored, only its hash, which is not shown)."""

    list_display = ["email", "workspace", "role", "invited_by", "created_at", "expires_at",
                    "accepted_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["email", "workspace__slug"]
    exclude = ["token_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Every workspace's audit log, read-only (written by tenants.audit only)."""

    list_display = ["created_at", "workspace", "actor_email", "action", "target", "address"]
    list_filter = ["action"]
    search_fields = ["actor_email", "workspace__slug", "target"]
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
