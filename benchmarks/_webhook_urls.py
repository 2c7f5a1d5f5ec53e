"""The workspace URLconf of the webhook benchmark's server (PAAS_ROOT_URLCONF): the panel's own
(config.urls_tenant) plus a bare endpoint beside the webhook's, which only reads the body and
answers 200. It lies under PAAS_PUBLIC_PATHS like the webhook, so both pass the same
middleware; the difference measured is the webhook's own work."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls_tenant import urlpatterns as panel_urlpatterns

BARE_PATH = "/webhooks/bare/"


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    request.read()
    return HttpResponse("ok")


urlpatterns = [path(BARE_PATH.lstrip("/"), bare), *panel_urlpatterns]
