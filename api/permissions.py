"""The API's role check: each view names the tenants.roles Action of each of its actions,
and tenants.access decides, as for the pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from tenants.access import allowed
from tenants.roles import Action

if TYPE_CHECKING:  # rest_framework.views reads the settings that name this module
    from rest_framework.views import APIView


def action_of(request: Request, view: APIView) -> Action:
    """The Action the view's `actions` maps its action (or HTTP method) to; VIEW if none."""
    mapping: dict[str, Action] = getattr(view, "actions_required", {})
    name = getattr(view, "action", None) or request.method.lower()
    return mapping.get(name, Action.VIEW)


class WorkspaceRole(permissions.BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        django_request = request._request
        if django_request.workspace.suspended:
            raise exceptions.PermissionDenied("This workspace is suspended.")
        action = action_of(request, view)
        if not allowed(django_request, action):
            raise exceptions.PermissionDenied(
                f"Your role in this workspace does not allow {action}.")
        return True
