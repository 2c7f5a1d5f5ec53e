"""What operators are told about this host's isolation (README, Isolation): at start-up (the
log of every process) and at the top of every page of the operators' admin, never silently."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from deployments.engine import firewall


def isolation_warnings() -> list[str]:
    """Why apps of one workspace could reach another's or the panel's, on this host."""
    if not settings.PAAS_ISOLATED:
        why = ("PAAS_ISOLATION is off" if settings.PAAS_ISOLATION == "off"
               else "the panel does not run as root")
        return [f"Isolation is OFF ({why}): every app and build runs as the panel's own user "
                "and can read the other workspaces' processes, files and secrets, and the "
                "panel's. Run the panel as root with PAAS_ISOLATION=auto (README, Isolation)."]
    if not firewall.loaded():
        return [f"The firewall table inet {settings.PAAS_FIREWALL_TABLE} is not loaded: apps "
                "can connect to other workspaces' ports and to the panel's services. Load it "
                "with `python manage.py firewall --load` (README, Isolation)."]
    return []


def admin_isolation_warnings(request: HttpRequest) -> dict[str, list[str]]:
    """Context processor: the warnings, on the operators' admin pages only."""
    user = getattr(request, "user", None)
    if not request.path.startswith("/admin/") or not getattr(user, "is_staff", False):
        return {}
    return {"isolation_warnings": isolation_warnings()}
