"""Traefik's dynamic configuration (its HTTP provider, platform/traefik/traefik.yml), on the
panel's root domain: GET /traefik/config with `Authorization: Bearer PAAS_TRAEFIK_TOKEN`.

A missing or wrong token, or none configured, gets 401 and no configuration (and the log
says so, without what was sent). The answer carries an ETag of its body: a client that
sends it back in If-None-Match gets 304 while nothing changed. (Traefik itself sends none; it
compares each body with the last one and does nothing when it is the same, which the sorted,
stable output makes cheap too.)
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.views.decorators.http import require_GET

from hosting import services, traefik

logger = logging.getLogger(__name__)
BEARER = "bearer "


@require_GET
def traefik_config(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request.headers.get("Authorization", ""))
    if refusal:
        logger.warning("Traefik configuration refused to %s: %s",
                       request.META.get("REMOTE_ADDR", "?"), refusal)
        response = JsonResponse({"error": {"code": "unauthorized",
                                           "message": "A valid bearer token is required."}},
                                status=401)
        response["WWW-Authenticate"] = 'Bearer realm="traefik"'
        return response
    body = traefik.dumps(services.traefik_configuration())
    tag = traefik.etag(body)
    if _matches(request.headers.get("If-None-Match", ""), tag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = tag
    response["Cache-Control"] = "no-cache"
    return response


def _refusal(authorization: str) -> str | None:
    """Why the request is refused (no token configured, none sent, a wrong one), or None."""
    expected = settings.PAAS_TRAEFIK_TOKEN
    if not expected:
        return "PAAS_TRAEFIK_TOKEN is not set"
    if authorization[:len(BEARER)].lower() != BEARER:
        return "no bearer token"
    given = authorization[len(BEARER):].strip()
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode()):
        return "wrong token"
    return None


def _matches(if_none_match: str, tag: str) -> bool:
    """Whether If-None-Match names `tag` (weak or strong, in a list, or `*`)."""
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return tag in candidates or "*" in candidates
