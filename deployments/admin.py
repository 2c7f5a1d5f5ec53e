"""Deployments in the workspace admin (<slug>.PAAS_DOMAIN/admin/): read by operators, their
variables snapshot never shown."""

from django.contrib import admin

from deployments.models import Deployment, LogLine, WebhookDelivery
from projects.admin import workspace_admin


class LogLineInline(admin.TabularInline):
    model = LogLine
    extra = 0
    fields = ["sequence", "stream", "timestamp", "text"]
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(Deployment, site=workspace_admin)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "trigger", "commit_sha", "created_at", "finished_at"]
    list_filter = ["status", "trigger"]
    list_select_related = ["service"]
    exclude = ["variables_snapshot"]
    readonly_fields = ["status"]
    raw_id_fields = ["service"]
    inlines = [LogLineInline]


@admin.register(WebhookDelivery, site=workspace_admin)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["delivery_id", "event", "outcome", "received_at", "duration_ms"]
