"""Pages of services: adding one to an environment, and the service page.

The deploy engine arrives later; a service here is its name and source, and its variables
(projects.views_variables) are edited on its page.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from projects.forms import ServiceForm
from projects.views_variables import environments, page_context, services
from tenants.access import get_for
from tenants.roles import Action


@require_http_methods(["GET", "POST"])
def service_create(request: HttpRequest, environment_id: int) -> HttpResponse:
    """The "New service" form: a page of its own, or (htmx) inline on the project page."""
    environment = get_for(request, environments(), Action.EDIT_SERVICE, pk=environment_id)
    form = ServiceForm(request.POST or None, environment=environment,
                       auto_id=f"env{environment.pk}_%s")
    if request.method == "POST" and form.is_valid():
        service = form.save()
        messages.success(request, f"Service {service.name} created.")
        url = reverse("service_detail", kwargs={"service_id": service.pk})
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = {"environment": environment, "project": environment.project, "form": form}
    if request.htmx:
        return render(request, "projects/service_create.html#service-form", context)
    return render(request, "projects/service_create.html", context)


@require_GET
def service_detail(request: HttpRequest, service_id: int) -> HttpResponse:
    service = get_for(request, services(), Action.VIEW, pk=service_id)
    return render(request, "projects/service_detail.html", page_context(request, service))
