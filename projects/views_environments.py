"""The "New environment" page (an environment made as a copy of another of the project), and
deleting one."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from projects.environments import copy_environment
from projects.forms_environments import EnvironmentForm
from projects.models import Environment, Project
from projects.services import LastEnvironment, delete_environment
from tenants.access import get_for
from tenants.roles import Action


@require_http_methods(["GET", "POST"])
def environment_create(request: HttpRequest, project_id: int) -> HttpResponse:
    """Admins and owners copy an environment (`?copy_of=<id>` preselects the source); a
    refused name is shown next to its field and nothing is created."""
    project = get_for(request, Project.objects.visible(), Action.EDIT_PROJECT, pk=project_id)
    initial = {"copy_of": request.GET.get("copy_of")} if request.GET.get("copy_of", "").isdigit() \
        else {}
    form = EnvironmentForm(request.POST or None, project=project, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            environment = copy_environment(form.cleaned_data["copy_of"], form.cleaned_data["name"])
        except ValidationError as error:  # taken meanwhile
            form.add_error(None, error)
        else:
            messages.success(request, f"Environment {environment.name} created as a copy of "
                                      f"{environment.copied_from.name}; nothing is deployed yet.")
            url = reverse("project_detail", kwargs={"project_id": project.pk})
            return redirect(f"{url}?environment={environment.pk}")
    return render(request, "projects/environment_create.html",
                  {"project": project, "form": form})


@require_POST
def environment_delete(request: HttpRequest, environment_id: int) -> HttpResponse:
    """Admins and owners delete an environment and what its services run; a project's last
    environment stays (the page says to delete the project)."""
    environment = get_for(request, Environment.objects.visible(), Action.EDIT_PROJECT,
                          pk=environment_id)
    url = reverse("project_detail", kwargs={"project_id": environment.project_id})
    try:
        delete_environment(environment)
    except LastEnvironment as error:
        messages.error(request, str(error))
        return redirect(f"{url}?environment={environment.pk}")
    messages.success(request, f"Environment {environment.name} deleted with its services.")
    return redirect(url)
