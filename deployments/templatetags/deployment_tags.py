"""Template helpers of deployment pages: durations, commit messages, the service
page's deployments section."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from deployments.panel import Panel, duration_of, panel_for
from projects.models import Service

register = template.Library()

@register.filter
def seconds(value: float | timedelta | None) -> str:
    """12.3 → "12.3s", 83 → "1m 23s", 3725 → "1h 02m"; "" for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    try:
        total = max(float(value), 0.0)
    except (TypeError, ValueError):
        return ""
    if total < 10:
        return f"{total:.1f}s"
    whole = round(total)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def duration(deployment: object) -> str:
    """How long the deployment took (or has taken so far); "" before it started."""
    return seconds(duration_of(deployment))


@register.filter
def ago(moment: datetime | None) -> str:
    """"just now", or "5 minutes ago"."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment)} ago"


@register.filter
def first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()



@register.inclusion_tag("deployments/_panel.html", takes_context=True)
def deployment_panel(context: template.Context, service: Service) -> dict[str, Panel]:
    """The service page's deployments section (also where the page is rendered by a view
    that does not know about deployments, such as the variable editor's)."""
    return {"panel": panel_for(context["request"], service)}
