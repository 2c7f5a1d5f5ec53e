"""What a page shows of deployments: the service page's deployments section (the active
deployment, the buttons a role may press and why some are disabled, the list), and the facts of
one deployment (duration, phase timings).

Views and the `deployment_panel` template tag build their context here; templates only show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from deployments.models import Deployment, Phase, Status
from hosting.models import Host
from projects.domains import public_domain
from projects.models import Service
from tenants.access import allowed
from tenants.roles import Action

RECENT = 25


@dataclass(frozen=True)
class Button:
    """One of the service's actions. `reason` says why it is disabled (None: enabled)."""

    name: str  # deploy, redeploy, restart, stop: the data-action hook
    label: str
    url: str
    reason: str | None = None
    confirm: str = ""
    primary: bool = False
    danger: bool = False


@dataclass
class Notice:
    text: str
    error: bool = False


@dataclass
class Panel:
    service: Service
    deployments: list[Deployment]
    total: int
    active: Deployment | None
    buttons: list[Button]
    rollback_ids: set[int] = field(default_factory=set)
    may_deploy: bool = False
    may_edit: bool = False
    notice: Notice | None = None
    oob: bool = False  # htmx answers also refresh the service's status in the page's header
    live: bool = False  # its parts alone, for the service's socket (the notice stays)

    @property
    def in_progress(self) -> bool:
        """Whether a deployment is under way (the section then refreshes itself)."""
        return any(deployment.is_in_progress for deployment in self.deployments)

    @property
    def service_url(self) -> str:
        return service_url(self.service)

    @cached_property
    def direct_address(self) -> str | None:
        """The active deployment's own port, bypassing the router."""
        if self.active is None or not self.active.port:
            return None
        return f"{Host.objects.address_of(self.active.host_name)}:{self.active.port}"


def service_url(service: Service) -> str:
    """Where the service is served, through the router."""
    return f"http://{public_domain(service)}:{settings.PAAS_ROUTER_PORT}"


def panel_for(request: HttpRequest, service: Service, notice: Notice | None = None, *,
              oob: bool = False) -> Panel:
    """The deployments section of `service`'s page, as the request's role sees it."""
    recent = list(service.deployments.select_related("source_deployment",
                                                     "source_archive")[:RECENT])
    total = len(recent) if len(recent) < RECENT else service.deployments.count()
    active = service.active_deployment
    may_deploy = allowed(request, Action.DEPLOY)
    rollback_ids = set()
    if may_deploy and recent:
        rollback_ids = set(Deployment.objects.rollback_targets(service)
                           .values_list("pk", flat=True))
    return Panel(
        service=service, deployments=recent, total=total, active=active,
        buttons=buttons_for(request, service,
                            redeployable=service.redeployable()),
        rollback_ids=rollback_ids, may_deploy=may_deploy,
        may_edit=allowed(request, Action.EDIT_SERVICE), notice=notice, oob=oob,
    )


# Why Deploy is disabled without a repository: an upload (`paas up`) deploys such a service,
# and Redeploy builds that upload again.
NO_SOURCE = "Add a repository URL (or run paas up) to deploy"


def buttons_for(request: HttpRequest, service: Service, *, redeployable: bool) -> list[Button]:
    """Deploy, Redeploy, Restart, Stop: those the role allows, each disabled with a reason
    when the service's state does not allow it."""
    def url(name: str) -> str:
        return reverse(name, kwargs={"service_id": service.pk})

    no_source = None if service.repository_url else NO_SOURCE
    running = service.active_deployment is not None and (
        service.active_deployment.status == Status.ACTIVE
    )
    not_running = None if running else "Nothing is running"
    # A crash loop with nothing to roll back to keeps restarting under PM2: it can be stopped.
    stoppable = running or (service.active_deployment is not None
                            and service.active_deployment.status == Status.CRASHED)
    buttons = []
    if allowed(request, Action.DEPLOY):
        buttons.append(Button("deploy", "Deploy", url("service_deploy"), no_source,
                              primary=True))
        buttons.append(Button(
            "redeploy", "Redeploy", url("service_redeploy"),
            None if redeployable else (no_source or "Deploy once before redeploying"),
        ))
    if allowed(request, Action.RESTART):
        buttons.append(Button("restart", "Restart", url("service_restart"), not_running))
        buttons.append(Button(
            "stop", "Stop", url("service_stop"), None if stoppable else not_running, danger=True,
            confirm=f"Stop {service.name}? It stops serving until the next deploy.",
        ))
    return buttons


# One deployment ----------------------------------------------------------------------------


# deployment.timings also holds the whole run's length and the wait in the queue: not phases.
TOTAL = "total"
NOT_PHASES = frozenset({TOTAL, "queued"})


def duration_of(deployment: Deployment) -> timedelta | None:
    """How long the deployment took: while it runs, since it started; once done, the sum of
    its phases (its finished_at moves again when it is superseded or stopped), else from its
    start to its end. None when it never started."""
    if deployment.is_in_progress:
        if deployment.started_at is None:
            return None
        return max(timezone.now() - deployment.started_at, timedelta(0))
    timings = deployment.timings or {}
    if isinstance(timings.get(TOTAL), int | float):  # from start of work to live (or failure)
        return timedelta(seconds=max(float(timings[TOTAL]), 0.0))
    phases = sum(timing.seconds for timing in phase_timings(deployment))
    if phases:
        return timedelta(seconds=phases)
    if (deployment.status in Status.WENT_LIVE
            or None in (deployment.started_at, deployment.finished_at)):
        return None
    return max(deployment.finished_at - deployment.started_at, timedelta(0))


@dataclass(frozen=True)
class PhaseTiming:
    phase: str
    label: str
    seconds: float
    percent: float  # of all phases together, for the bar
    start: float  # where its segment of the bar starts, in percent


def phase_timings(deployment: Deployment) -> list[PhaseTiming]:
    """`deployment.timings` in pipeline order (unknown phases last), with their share."""
    timings = {}
    for phase, seconds in (deployment.timings or {}).items():
        if phase in NOT_PHASES:
            continue
        try:
            timings[str(phase)] = max(float(seconds), 0.0)
        except (TypeError, ValueError):
            continue
    order = {phase.value: index for index, phase in enumerate(Phase)}
    labels = dict(Phase.choices)
    total = sum(timings.values()) or 1.0
    result, start = [], 0.0
    for phase, seconds in sorted(timings.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])):
        percent = round(100 * seconds / total, 1)
        result.append(PhaseTiming(phase, labels.get(phase, phase.capitalize()), seconds, percent,
                                  round(start, 1)))
        start += percent
    return result
