"""Operators' admin of the host-global tables (root domain)."""

from django.contrib import admin

from hosting.models import CustomDomain, GeneratedDomain, Host, LogCursor, PortAllocation, Route


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ["name", "address", "registered_at", "seen_at"]
    search_fields = ["name", "address"]


@admin.register(PortAllocation)
class PortAllocationAdmin(admin.ModelAdmin):
    list_display = ["port", "schema_name", "deployment_id", "process_name", "allocated_at"]
    search_fields = ["schema_name", "process_name"]


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    list_display = ["hostname", "upstream", "schema_name", "service_id", "deployment_id",
                    "updated_at"]
    search_fields = ["hostname"]


@admin.register(GeneratedDomain)
class GeneratedDomainAdmin(admin.ModelAdmin):
    list_display = ["label", "schema_name", "service_id", "reserved_at"]
    search_fields = ["label", "schema_name"]


@admin.register(CustomDomain)
class CustomDomainAdmin(admin.ModelAdmin):
    list_display = ["hostname", "schema_name", "service_id", "status", "checked_at",
                    "created_at"]
    list_filter = ["status"]
    search_fields = ["hostname", "schema_name"]


@admin.register(LogCursor)
class LogCursorAdmin(admin.ModelAdmin):
    list_display = ["host_name", "path", "inode", "offset", "updated_at"]
    search_fields = ["host_name", "path"]
