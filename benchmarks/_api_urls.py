"""The workspace URLconf of the API benchmark's server (PAAS_ROOT_URLCONF): the panel's own
(config.urls_tenant) plus a plain Django view beside the API, answering what
`GET /api/v1/services/` answers without Django REST framework.

It lies under PAAS_API_PATHS (/api/) like the API, so both pass the same middleware, and it
does the work the API's list must do, by hand:

- the same token check as api.authentication.TokenAuthentication: the Bearer token found by
  api.tokens.find_token, live and of this workspace, its user an active member
  (tenants.access.membership_for), last use written at most once a minute (api.tokens.touch);
  else 401;
- the same role check as api.permissions.WorkspaceRole (a suspended workspace 403, the role
  must allow Action.VIEW);
- the same rows: the API's queryset (api.views_services.api_services) ordered by name then
  id, the first page of 100 (one more read to know whether there is more), the generated
  domains read with one query (projects.domains.remember_domains), and the custom domains
  with another (hosting.models.CustomDomain);
- the same JSON: the fields of api.serializers.ServiceSerializer, datetimes as DRF writes
  them, in the API's list envelope (results, limit, offset, has_more), with json.dumps.

What it does not do: the API's throttling (a Redis round trip per request), its audit actor
(api.authentication calls tenants.audit.act_as), content negotiation, query parameters
(limit, offset, ordering, filters: it answers the default page), and DRF's error format. The
benchmark checks once that both answer the same JSON.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from api.pagination import DEFAULT_LIMIT
from api.tokens import find_token, touch
from api.views_services import api_services
from config.urls_tenant import urlpatterns as panel_urlpatterns
from hosting.models import CustomDomain
from projects.domains import public_domain, remember_domains
from projects.forms import ServiceSettingsForm
from projects.models import Service
from tenants.access import membership_for
from tenants.roles import Action, can

PLAIN_PATH = "/api/plain/services/"
SETTINGS_FIELDS = tuple(ServiceSettingsForm._meta.fields)


def _json(answer: object, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(answer, separators=(",", ":"), ensure_ascii=False),
                        content_type="application/json", status=status)


def _iso(value: datetime | None) -> str | None:
    """As DRF's DateTimeField writes it: in the current time zone, UTC as Z."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _service(service: Service, custom: list[str]) -> dict[str, object]:
    row: dict[str, object] = {"id": service.pk, "project": service.environment.project_id,
                              "environment": service.environment_id, "name": service.name}
    for name in SETTINGS_FIELDS:
        row[name] = getattr(service, name)
    row["domains"] = [public_domain(service), *custom]
    row["active_deployment"] = service.active_deployment_id
    row["created_at"] = _iso(service.created_at)
    return row


@require_GET
def plain_services(request: HttpRequest) -> HttpResponse:
    header = request.headers.get("Authorization", "").split()
    token = find_token(header[1]) if len(header) == 2 and header[0].lower() == "bearer" \
        else None
    workspace = request.workspace
    if token is None or not token.is_live or token.workspace_id != workspace.pk:
        return _json({"error": "unauthenticated"}, status=401)
    membership = membership_for(token.user, workspace)
    if membership is None:
        return _json({"error": "unauthenticated"}, status=401)
    touch(token)
    if workspace.suspended or not can(membership.role, Action.VIEW):
        return _json({"error": "forbidden"}, status=403)
    services = list(api_services().order_by("name", "id")[:DEFAULT_LIMIT + 1])
    has_more = len(services) > DEFAULT_LIMIT
    services = services[:DEFAULT_LIMIT]
    remember_domains(services)
    custom = CustomDomain.objects.hostnames_by_service(connection.schema_name,
                                                       [service.pk for service in services])
    answer: dict[str, object] = {"results": [_service(service, custom[service.pk])
                                             for service in services],
                                 "limit": DEFAULT_LIMIT, "offset": 0, "has_more": has_more}
    if has_more:
        answer["next_offset"] = DEFAULT_LIMIT
    return _json(answer)


urlpatterns = [path(PLAIN_PATH.lstrip("/"), plain_services), *panel_urlpatterns]
