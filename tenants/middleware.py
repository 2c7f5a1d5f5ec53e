"""Request routing by host: the panel's root domain, or one workspace's subdomain.

WorkspaceRoutingMiddleware runs first: it answers 404 to a Host that is neither PAAS_DOMAIN nor a
known <slug>.PAAS_DOMAIN (before Django's host check could turn it into a 400 or 500), and
otherwise switches the connection to the public schema or the workspace's schema.

MembershipMiddleware runs after authentication: in a workspace it lets in members (and
operators), sends anonymous visitors to the login on the root domain, and answers 404 to
everyone else, so a workspace's existence is not revealed to outsiders. The paths of
PAAS_PUBLIC_PATHS (webhooks, which carry their own proof) are let in without a session, and
so is the API (PAAS_API_PATHS), which asks the same membership question itself and answers
JSON (api.authentication).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import set_urlconf

from tenants.access import membership_for
from tenants.models import Workspace

ADMIN_PATH = "/admin/"
HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


def request_hostname(request: HttpRequest) -> str | None:
    """The Host header's name, lowercased, if it is the panel's domain or below it."""
    raw = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
    hostname = raw.rsplit(":", 1)[0] if not raw.endswith("]") else raw
    hostname = hostname.strip().lower().rstrip(".")
    if not HOSTNAME.match(hostname):
        return None
    if hostname == settings.PAAS_DOMAIN or hostname.endswith("." + settings.PAAS_DOMAIN):
        return hostname
    if hostname in settings.ALLOWED_HOSTS:
        return hostname
    return None


def panel_url(request: HttpRequest, path: str = "/", hostname: str | None = None) -> str:
    """An absolute URL on the panel's root domain (or `hostname`), same scheme and port."""
    port = request.get_port()
    default_port = "443" if request.is_secure() else "80"
    netloc = hostname or settings.PAAS_DOMAIN
    if port and port != default_port:
        netloc = f"{netloc}:{port}"
    return f"{request.scheme}://{netloc}{path}"


@cache
def _workspace_by_domain_sql() -> tuple[str, tuple[str, ...]]:
    """The SQL of the workspace whose domain is %s, and the fields its columns are. Built by
    the ORM once: building it on every request took longer than running it."""
    query = Workspace.objects.filter(domains__domain="").order_by().query
    sql, _ = query.sql_with_params()
    return sql, tuple(field.attname for field in Workspace._meta.concrete_fields)


def workspace_for_hostname(hostname: str) -> Workspace | None:
    """The workspace whose domain `hostname` is (in the public schema), if any."""
    sql, fields = _workspace_by_domain_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [hostname])
        row = cursor.fetchone()
    return None if row is None else Workspace.from_db(connection.alias, fields, row)


class WorkspaceRoutingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        connection.set_schema_to_public()
        hostname = request_hostname(request)
        if hostname is None:
            return HttpResponseNotFound("Unknown host.", content_type="text/plain")
        request.workspace = None
        # django-tenants (its admin templates among others) expects request.tenant to be a
        # tenant on every request: on the root domain, the public schema's.
        request.tenant = connection.tenant
        if hostname == settings.PAAS_DOMAIN or hostname in settings.ALLOWED_HOSTS:
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
        else:
            workspace = workspace_for_hostname(hostname)
            if workspace is None:
                return HttpResponseNotFound("Unknown host.", content_type="text/plain")
            request.workspace = request.tenant = workspace
            connection.set_tenant(workspace)
            request.urlconf = settings.ROOT_URLCONF
        set_urlconf(request.urlconf)
        try:
            return self.get_response(request)
        finally:
            connection.set_schema_to_public()


class MembershipMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None
        workspace = getattr(request, "workspace", None)
        if workspace is None:
            return self.get_response(request)
        if request.path.startswith(settings.PAAS_API_PATHS):
            return self.get_response(request)  # the API checks tokens and members itself
        if request.path.startswith(settings.PAAS_PUBLIC_PATHS):
            if workspace.suspended:
                return HttpResponseForbidden("This workspace is suspended.",
                                             content_type="text/plain")
            return self.get_response(request)
        user = request.user
        if not user.is_authenticated:
            query = urlencode({"next": request.build_absolute_uri()})
            return HttpResponseRedirect(panel_url(request, "/login/") + "?" + query)
        request.membership = membership_for(user, workspace)
        operator_in_admin = user.is_staff and request.path.startswith(ADMIN_PATH)
        if request.membership is None and not operator_in_admin:
            return render(request, "404.html", status=404)
        if workspace.suspended and not request.path.startswith(ADMIN_PATH):
            return render(request, "tenants/suspended.html", {"workspace": workspace}, status=403)
        return self.get_response(request)
