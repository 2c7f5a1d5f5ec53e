"""Pages and actions of deployments: a service's Deploy, Redeploy, Restart and Stop; a
deployment's Cancel and Rollback; the deployment page with its log.

Actions are POSTs. With htmx they answer with the service page's deployments section (a notice
says what happened or why nothing did); without, they redirect to the service page with a
message. The engine (deployments.services) decides what is possible and says why not.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from deployments.logpages import deployment_log
from deployments.models import Deployment
from deployments.panel import (
    Notice,
    panel_for,
    phase_timings,
    service_url,
)
from deployments.services import (
    DeployRefused,
    cancel_deployment,
    redeploy,
    restart_service,
    rollback,
    stop_service,
    trigger_deployment,
)
from projects.models import Service
from tenants.access import allowed, get_for
from tenants.roles import Action

PANEL = "deployments/_panel.html"
DETAIL = "deployments/deployment_detail.html"


def respond(request: HttpRequest, service: Service, notice: Notice) -> HttpResponse:
    """The fresh deployments section (htmx), or back to the service page with a message."""
    if request.htmx:
        # The action may have changed what the section shows.
        fresh = Service.objects.visible().get(pk=service.pk)
        return render(request, PANEL, {"panel": panel_for(request, fresh, notice, oob=True)})
    (messages.error if notice.error else messages.success)(request, notice.text)
    return redirect("service_detail", service_id=service.pk)


def refused(request: HttpRequest, service: Service, error: DeployRefused) -> HttpResponse:
    return respond(request, service, Notice(str(error), error=True))


def who(request: HttpRequest) -> str:
    return request.user.email


# A service's actions ------------------------------------------------------------------------


@require_POST
def service_deploy(request: HttpRequest, service_id: int) -> HttpResponse:
    """Deploy the head of the service's branch."""
    service = get_for(request, Service.objects.visible(), Action.DEPLOY, pk=service_id)
    try:
        deployment = trigger_deployment(service, triggered_by=who(request))
    except DeployRefused as error:
        return refused(request, service, error)
    return respond(request, service, Notice(f"Deployment #{deployment.number} queued."))


@require_POST
def service_redeploy(request: HttpRequest, service_id: int) -> HttpResponse:
    """Rebuild the commit that runs now (or ran last) with the current variables."""
    service = get_for(request, Service.objects.visible(), Action.DEPLOY, pk=service_id)
    try:
        deployment = redeploy(service, triggered_by=who(request))
    except DeployRefused as error:
        return refused(request, service, error)
    return respond(request, service,
                   Notice(f"Redeploy queued as deployment #{deployment.number}."))


@require_POST
def service_restart(request: HttpRequest, service_id: int) -> HttpResponse:
    service = get_for(request, Service.objects.visible(), Action.RESTART, pk=service_id)
    try:
        restart_service(service, by=who(request))
    except DeployRefused as error:
        return refused(request, service, error)
    return respond(request, service, Notice(f"Restarting {service.name}."))


@require_POST
def service_stop(request: HttpRequest, service_id: int) -> HttpResponse:
    service = get_for(request, Service.objects.visible(), Action.RESTART, pk=service_id)
    try:
        stop_service(service, by=who(request))
    except DeployRefused as error:
        return refused(request, service, error)
    return respond(request, service,
                   Notice(f"Stopped {service.name}; it serves again after the next deploy."))


@require_GET
def service_deployments(request: HttpRequest, service_id: int) -> HttpResponse:
    """The deployments section alone (htmx refreshes it while a deployment runs)."""
    service = get_for(request, Service.objects.visible(), Action.VIEW, pk=service_id)
    if not request.htmx:
        return redirect("service_detail", service_id=service.pk)
    return render(request, PANEL, {"panel": panel_for(request, service, oob=True)})


# A deployment's actions ---------------------------------------------------------------------


def from_detail_page(request: HttpRequest) -> bool:
    """Whether htmx asks on behalf of the deployment page (it targets the summary)."""
    return bool(request.htmx) and request.htmx.target == "deployment-summary"


def respond_on(request: HttpRequest, deployment: Deployment, notice: Notice) -> HttpResponse:
    """The deployment page's summary when it asked, else as `respond`."""
    if from_detail_page(request):
        return render_summary(request, deployment, notice)
    return respond(request, deployment.service, notice)


@require_POST
def deployment_cancel(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = get_for(request, Deployment.objects.visible(), Action.DEPLOY, pk=deployment_id)
    try:
        cancel_deployment(deployment, by=who(request))
    except DeployRefused as error:
        return respond_on(request, deployment, Notice(str(error), error=True))
    return respond_on(request, deployment, Notice(f"Cancelling deployment #{deployment.number}."))


@require_POST
def deployment_rollback(request: HttpRequest, deployment_id: int) -> HttpResponse:
    """A new deployment that starts this one's release again, without a rebuild. From the
    service page the section shows it; otherwise its page opens."""
    deployment = get_for(request, Deployment.objects.visible(), Action.DEPLOY, pk=deployment_id)
    try:
        new = rollback(deployment, triggered_by=who(request))
    except DeployRefused as error:
        return respond_on(request, deployment, Notice(str(error), error=True))
    notice = Notice(f"Rolling back to #{deployment.number} as deployment #{new.number}.")
    if request.htmx and not from_detail_page(request):
        return respond(request, deployment.service, notice)
    messages.success(request, notice.text)
    url = reverse("deployment_detail", kwargs={"deployment_id": new.pk})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# The deployment page ------------------------------------------------------------------------


def detail_context(request: HttpRequest, deployment: Deployment,
                   notice: Notice | None = None) -> dict:
    service = deployment.service
    may_deploy = allowed(request, Action.DEPLOY)
    return {
        "deployment": deployment,
        "service": service,
        "environment": service.environment,
        "project": service.environment.project,
        "timings": phase_timings(deployment),
        "in_progress": deployment.is_in_progress,
        "may_cancel": may_deploy and deployment.is_in_progress,
        "may_rollback": may_deploy and Deployment.objects.rollback_targets(service).filter(
            pk=deployment.pk).exists(),
        "is_active": service.active_deployment_id == deployment.pk,
        "service_url": service_url(service),
        "notice": notice,
    }


def render_summary(request: HttpRequest, deployment: Deployment,
                   notice: Notice | None = None) -> HttpResponse:
    deployment = Deployment.objects.visible().get(pk=deployment.pk)
    context = detail_context(request, deployment, notice)
    return render(request, f"{DETAIL}#summary", context)


def summary_html(request: HttpRequest, deployment: Deployment) -> str:
    """The summary as the deployment's live socket sends it (an out-of-band swap)."""
    return render_to_string(f"{DETAIL}#summary", detail_context(request, deployment),
                            request=request)


@require_GET
def deployment_detail(request: HttpRequest, deployment_id: int) -> HttpResponse:
    """A deployment: status, trigger, commit, timings, error, and its log, which its socket
    (DeploymentLogConsumer) continues live. `?q=` and `?stream=` filter the log; htmx asks
    for the log section alone when they change."""
    deployment = get_for(request, Deployment.objects.visible(), Action.READ_LOGS, pk=deployment_id)
    if from_detail_page(request):
        return render_summary(request, deployment)
    log = deployment_log(request, deployment)
    if request.htmx and request.htmx.target == "log":
        return render(request, f"{DETAIL}#log", {"deployment": deployment, "log": log})
    return render(request, DETAIL, {**detail_context(request, deployment), "log": log})
