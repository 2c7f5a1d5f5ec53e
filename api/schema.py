"""How the OpenAPI schema describes the API's token authentication (a drf-spectacular
extension: defining it registers it), and the errors every operation may answer with (the
one format of api.errors): REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS is AutoSchema here."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse

from api.serializers import ErrorSerializer

# What any operation may answer besides its own answers; an operation that can also answer
# 409 or 413 declares it with extend_schema.
ERRORS = {
    "400": "The request is not valid: `fields` names each refused field or query parameter.",
    "401": "No token (or session), or one that is expired or revoked.",
    "403": "The caller's role does not allow this, or the workspace is suspended.",
    "404": "No such object here (or no such workspace for the caller).",
    "429": "Too many requests with this token (PAAS_API_THROTTLE_RATE).",
}

CONFLICT = OpenApiResponse(ErrorSerializer, "Not possible in the present state (the message "
                           "says why).")


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, with the API's errors (ERRORS) added to every operation's
    responses."""

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        for code, description in ERRORS.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description), code, direction=direction)
        return responses


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.TokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema: openapi.AutoSchema) -> dict:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "paas_…",
                "description": "A personal access token of this workspace (Settings → API "
                               "tokens, or `manage.py create_api_token`)."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.SessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: openapi.AutoSchema) -> dict:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "The panel's session (browsers); writes need the X-CSRFToken "
                               "header."}
