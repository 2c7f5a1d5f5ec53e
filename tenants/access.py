"""Role checks for views and consumers: every object is fetched through here.

Outsiders never reach a view (MembershipMiddleware answers 404); these helpers decide what a
member may do with what they can see, by asking tenants.roles.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from tenants.models import Membership, User, Workspace
from tenants.roles import Action, can


def membership_for(user: User | None, workspace: Workspace | None) -> Membership | None:
    """The user's membership of the workspace, or None (anonymous, inactive, not a member).
    The one question every way in asks: pages (MembershipMiddleware), WebSockets (the
    consumers) and the API."""
    if user is None or workspace is None or not user.is_authenticated:
        return None
    return Membership.objects.for_user(user).filter(workspace=workspace).first()


def role_of(request: HttpRequest) -> str | None:
    membership = getattr(request, "membership", None)
    return membership.role if membership is not None else None


def allowed(request: HttpRequest, action: Action) -> bool:
    return getattr(request, "workspace", None) is not None and can(role_of(request), action)


def require(request: HttpRequest, action: Action) -> None:
    """Raise PermissionDenied (403) unless the member's role allows `action`."""
    if not allowed(request, action):
        raise PermissionDenied(f"Your role in this workspace does not allow {action}.")


def requires(action: Action) -> Callable:
    """View decorator: the member's role must allow `action`."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            require(request, action)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def get_for(request: HttpRequest, queryset: QuerySet | type[Model], action: Action,
            **lookup: Any) -> Model:
    """The object matching `lookup` in this workspace, if the role allows `action` on it."""
    require(request, action)
    return get_object_or_404(queryset, **lookup)
