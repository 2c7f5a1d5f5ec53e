"""Pages of services: adding one to an environment, the service page (its deployments, from
deployments.panel, and its variables, from projects.views_variables), and its settings (its
custom domains' actions: projects.views_domains).
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from projects.connections import repository_webhook, service_connected
from projects.custom_domains import domains_of, records_of
from projects.domains import public_domain
from projects.forms import CustomDomainForm, ServiceForm, ServiceSettingsForm
from projects.models import Environment, Service
from projects.services import create_service, delete_service, save_service_settings
from projects.source_fields import from_form
from projects.views_variables import page_context
from tenants.access import get_for
from tenants.roles import Action


@require_http_methods(["GET", "POST"])
def service_create(request: HttpRequest, environment_id: int) -> HttpResponse:
    """The "New service" form: a page of its own, or (htmx) inline on the project page."""
    environment = get_for(request, Environment.objects.visible(), Action.EDIT_SERVICE,
                          pk=environment_id)
    form = ServiceForm(request.POST or None, environment=environment, user=request.user,
                       auto_id=f"env{environment.pk}_%s")
    if request.method == "POST" and form.is_valid():
        service = create_service(environment, **form.cleaned_data)
        messages.success(request, f"Service {service.name} created.")
        if form.newly_connected:
            service_connected.send(sender=Service, service=service, request=request)
        url = reverse("service_detail", kwargs={"service_id": service.pk})
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = {"environment": environment, "project": environment.project, "form": form,
               "source": from_form(form)}
    if request.htmx:
        return render(request, "projects/service_create.html#service-form", context)
    return render(request, "projects/service_create.html", context)


@require_GET
def service_detail(request: HttpRequest, service_id: int) -> HttpResponse:
    service = get_for(request, Service.objects.visible(), Action.VIEW, pk=service_id)
    context = {**page_context(request, service), "custom_domains": domains_of(service)}
    return render(request, "projects/service_detail.html", context)


def domains_context(request: HttpRequest, service: Service,
                    domain_form: CustomDomainForm | None = None) -> dict:
    """The custom domains card of the settings page: each domain with the DNS records to
    create, and the form that adds one."""
    return {
        "service": service,
        "domain": public_domain(service),
        "custom_domains": [(domain, records_of(service, domain))
                           for domain in domains_of(service)],
        "domain_form": domain_form or CustomDomainForm(
            service=service, workspace=request.workspace, auto_id="domain_%s"),
    }


def settings_page(request: HttpRequest, service: Service,
                  form: ServiceSettingsForm | None = None,
                  domain_form: CustomDomainForm | None = None) -> HttpResponse:
    # The form edits its own copy: a refused value must not reach the page around it.
    form = form or ServiceSettingsForm(user=request.user,
                                       instance=Service.objects.visible().get(pk=service.pk))
    environment = service.environment
    context = {"environment": environment, "project": environment.project,
               "form": form, "source": from_form(form),
               "webhook": repository_webhook(request.workspace, service.github_repository),
               **domains_context(request, service, domain_form)}
    return render(request, "projects/service_settings.html", context)


@require_http_methods(["GET", "POST"])
def service_settings(request: HttpRequest, service_id: int) -> HttpResponse:
    """Source, build and deploy settings. A refused value is named next to its field and
    nothing is saved; saved settings apply from the next deployment."""
    service = get_for(request, Service.objects.visible(), Action.EDIT_SERVICE, pk=service_id)
    if request.method == "GET":
        return settings_page(request, service)
    form = ServiceSettingsForm(request.POST, user=request.user,
                               instance=Service.objects.visible().get(pk=service.pk))
    if form.is_valid():
        saved = save_service_settings(form)
        messages.success(request, "Settings saved. They apply from the next deployment.")
        if form.newly_connected:
            service_connected.send(sender=Service, service=saved, request=request)
        return redirect("service_settings", service_id=service.pk)
    return settings_page(request, service, form)


@require_POST
def service_delete(request: HttpRequest, service_id: int) -> HttpResponse:
    """Admins and owners delete a service: it stops serving and its domain is freed."""
    service = get_for(request, Service.objects.visible(), Action.EDIT_SERVICE, pk=service_id)
    environment = service.environment
    delete_service(service)
    messages.success(request, f"Service {service.name} deleted; it no longer runs.")
    url = reverse("project_detail", kwargs={"project_id": environment.project_id})
    return redirect(f"{url}?environment={environment.pk}")
