from django.conf import settings
from django.http import HttpRequest

from tenants.access import allowed
from tenants.middleware import panel_url
from tenants.roles import Action


def workspace(request: HttpRequest) -> dict:
    """The current workspace, the visitor's role in it, and what that role allows."""
    membership = getattr(request, "membership", None)
    # A workspace's name is shown only to its members (not on an outsider's 404 page).
    current = getattr(request, "workspace", None) if membership is not None else None
    return {
        "workspace": current,
        "membership": membership,
        "can": {action.value: allowed(request, action) for action in Action} if current else {},
        "PAAS_DOMAIN": settings.PAAS_DOMAIN,
        "panel_home": panel_url(request, "/"),
    }
