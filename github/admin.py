"""The operators' admin (root domain) of the GitHub tables: read-only, without a token or a
payload. social-auth's own tables stay out of it: their extra data is GitHub's answer at
sign-in, which may hold tokens (the panel keeps tokens in GitHubAccount, encrypted)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from social_django.models import Association, Nonce, UserSocialAuth

from github.models import GitHubAccount, RepositoryHook, WebhookDelivery

for model in (Association, Nonce, UserSocialAuth):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the panel writes: operators read them, never add or change them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every workspace's deliveries; the payload (kept until the worker handled it) is not
    shown."""

    list_display = ["received_at", "workspace", "event", "action", "delivery_id", "repository",
                    "outcome"]
    list_filter = ["event", "outcome"]
    list_select_related = ["workspace"]
    search_fields = ["delivery_id", "repository"]
    exclude = ["payload"]
    date_hierarchy = "received_at"


@admin.register(RepositoryHook)
class RepositoryHookAdmin(ReadOnlyAdmin):
    list_display = ["repository", "workspace", "hook_id", "created_by", "created_at"]
    list_select_related = ["workspace", "created_by"]
    search_fields = ["repository"]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(GitHubAccount)
class GitHubAccountAdmin(ReadOnlyAdmin):
    """Who is connected to GitHub, and whether their token still works; no token shown."""

    list_display = ["login", "user", "github_id", "state", "scopes", "updated_at"]
    list_filter = ["state"]
    list_select_related = ["user"]
    search_fields = ["login", "user__email"]
    fields = ["user", "login", "github_id", "state", "scopes", "token_expires_at",
              "updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
