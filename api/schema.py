"""How the OpenAPI schema describes the API's token authentication (a drf-spectacular
extension: defining it registers it)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.TokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "paas_…",
                "description": "A personal access token of this workspace (Settings → API "
                               "tokens, or `manage.py create_api_token`)."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.SessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "The panel's session (browsers); writes need the X-CSRFToken "
                               "header."}
