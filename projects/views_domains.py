"""The custom domains card of a service's settings page: add a domain, check its DNS, remove
it (owners and admins, Action.EDIT_SERVICE). With htmx each action answers with the card
(`projects/_custom_domains.html#domains`); without, it goes back to the settings page, or
shows it with the refused domain's error."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from hosting.models import CustomDomain
from projects.custom_domains import add_domain, check_domain, remove_domain
from projects.forms import CustomDomainForm
from projects.models import Service
from projects.views_services import domains_context, settings_page
from tenants.access import get_for
from tenants.roles import Action

CARD = "projects/_custom_domains.html#domains"


def editable(request: HttpRequest, service_id: int) -> Service:
    return get_for(request, Service.objects.visible(), Action.EDIT_SERVICE, pk=service_id)


def domain_of(service: Service, domain_id: int) -> CustomDomain:
    return get_object_or_404(
        CustomDomain.objects.of_service(connection.schema_name, service.pk), pk=domain_id)


def done(request: HttpRequest, service: Service, message: str, *, error: bool = False,
         notice: bool = True) -> HttpResponse:
    """The card again (htmx; with `message` above it when `notice`), else the settings page
    with `message`."""
    if request.htmx:
        context = {**domains_context(request, service), "notice": message if notice else "",
                   "notice_error": error}
        return render(request, CARD, context)
    (messages.error if error else messages.success)(request, message)
    return redirect(reverse("service_settings", kwargs={"service_id": service.pk}) + "#domains")


@require_POST
def domain_add(request: HttpRequest, service_id: int) -> HttpResponse:
    service = editable(request, service_id)
    form = CustomDomainForm(request.POST, service=service, workspace=request.workspace,
                            auto_id="domain_%s")
    if form.is_valid():
        try:
            domain = add_domain(service, form.cleaned_data["hostname"])
        except ValidationError as error:
            form.add_error("hostname", error)
        else:
            return done(request, service, f"Added {domain.hostname}: create its DNS record, "
                                          "then check it.")
    if request.htmx:
        return render(request, CARD, domains_context(request, service, form))
    return settings_page(request, service, domain_form=form)


@require_POST
def domain_check(request: HttpRequest, service_id: int, domain_id: int) -> HttpResponse:
    service = editable(request, service_id)
    domain = check_domain(service, domain_of(service, domain_id))
    # The domain's row says what was found; the page without htmx says it on top too.
    return done(request, service, domain.found,
                error=domain.status != CustomDomain.Status.VERIFIED, notice=False)


@require_POST
def domain_remove(request: HttpRequest, service_id: int, domain_id: int) -> HttpResponse:
    service = editable(request, service_id)
    domain = domain_of(service, domain_id)
    remove_domain(service, domain)
    return done(request, service, f"Removed {domain.hostname}; it no longer routes here.")
