"""Log pages: a service's Logs tab, an environment's log explorer, and the downloads. The
deployment page's log is in deployments.views; all build on deployments.logpages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from deployments import logpages, logstore
from deployments.models import Deployment
from projects.models import Environment, Service
from tenants.access import allowed, get_for
from tenants.roles import Action

SERVICE_LOGS = "deployments/service_logs.html"
ENVIRONMENT_LOGS = "deployments/environment_logs.html"


def log_response(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """The page, or its log section alone when the filter form asks (htmx)."""
    if request.htmx and request.htmx.target == "log":
        return render(request, f"{template}#log", context)
    return render(request, template, context)


@require_GET
def service_logs(request: HttpRequest, service_id: int) -> HttpResponse:
    """The runtime output of every deployment of the service, live."""
    service = get_for(request, Service.objects.visible(), Action.READ_LOGS, pk=service_id)
    lines, size = logstore.volumes([service.pk]).get(service.pk, (0, 0))
    return log_response(request, SERVICE_LOGS, {
        "service": service, "environment": service.environment,
        "project": service.environment.project, "log": logpages.service_log(request, service),
        "stored_lines": lines, "stored_bytes": size,
        "can": {"edit_service": allowed(request, Action.EDIT_SERVICE)},
    })


@require_GET
def environment_logs(request: HttpRequest, environment_id: int) -> HttpResponse:
    """The runtime output of all the environment's services, in a time range."""
    environment = get_for(request, Environment.objects.filter(project__deleting=False),
                          Action.READ_LOGS, pk=environment_id)
    return log_response(request, ENVIRONMENT_LOGS, {
        "environment": environment, "project": environment.project,
        "log": logpages.environment_log(request, environment),
        "ranges": list(logpages.RANGES),
    })


@require_GET
def deployment_log_download(request: HttpRequest, deployment_id: int) -> StreamingHttpResponse:
    deployment = get_for(request, Deployment.objects.visible(), Action.READ_LOGS, pk=deployment_id)
    return logpages.deployment_download(deployment)


@require_GET
def service_log_download(request: HttpRequest, service_id: int) -> StreamingHttpResponse:
    service = get_for(request, Service.objects.visible(), Action.READ_LOGS, pk=service_id)
    return logpages.service_download(service)
