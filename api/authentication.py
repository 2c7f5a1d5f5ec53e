"""Who calls the API: a personal access token (`Authorization: Bearer paas_…`) or the
browser's session (with Django's CSRF check on unsafe methods).

Both end in the question the pages ask (tenants.access.membership_for), and put the answer
on the request (`request.membership`) where tenants.access reads it. A token is refused
(401) when it is unknown, revoked, expired, made for another workspace, or when its user is
no longer an active member. A signed-in outsider gets 404, as on the pages.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from api.tokens import find_token, touch
from tenants import audit
from tenants.access import membership_for
from tenants.models import Membership, User

KEYWORD = "Bearer"
REFUSED = "Invalid, expired or revoked token, or not one of this workspace."


def enter(request: Request, user: User) -> Membership | None:
    """The user's membership of the request's workspace, put on the Django request."""
    django_request: HttpRequest = request._request
    membership = membership_for(user, getattr(django_request, "workspace", None))
    django_request.membership = membership
    return membership


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, object] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != KEYWORD.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give the token as `Bearer <token>`.")
        row = find_token(header[1])
        workspace = getattr(request._request, "workspace", None)
        if row is None or not row.is_live or workspace is None or row.workspace_id != workspace.pk:
            raise exceptions.AuthenticationFailed(REFUSED)
        if enter(request, row.user) is None:
            raise exceptions.AuthenticationFailed(REFUSED)
        touch(row)
        audit.act_as(request._request, row.user)
        return row.user, row

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The signed-in browser. Outsiders get 404, as the pages answer them."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        user = getattr(request._request, "user", None)
        if user is None or not user.is_active:
            return None
        self.enforce_csrf(request)
        if enter(request, user) is None:
            raise exceptions.NotFound("No such workspace.")
        return user, None
