"""Pages of a workspace: its projects, and each project's environments and services."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects.forms import ProjectForm
from projects.models import Environment, Project
from projects.services import create_project, delete_project
from tenants.access import get_for, requires
from tenants.roles import Action


@require_GET
@requires(Action.VIEW)
def workspace_home(request: HttpRequest) -> HttpResponse:
    projects = Project.objects.visible().prefetch_related("environments__services")
    context = {"projects": projects}
    if request.htmx and request.htmx.target == "project-list":
        return render(request, "projects/workspace_home.html#project-list", context)
    return render(request, "projects/workspace_home.html", context)


@require_http_methods(["GET", "POST"])
@requires(Action.CREATE_PROJECT)
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = create_project(form.cleaned_data["name"], form.cleaned_data["description"])
        messages.success(request, f"Project {project.name} created.")
        return redirect("project_detail", project_id=project.pk)
    return render(request, "projects/project_create.html", {"form": form})


def chosen_environment(environments: list[Environment],
                       asked: str | None) -> Environment | None:
    """The environment `?environment=<id>` names (Http404 if it is none of the project's),
    else production, else the first (None: the project has none)."""
    if asked is not None:
        for environment in environments:
            if str(environment.pk) == asked:
                return environment
        raise Http404("No such environment in this project.")
    return next((environment for environment in environments
                 if environment.name == Environment.PRODUCTION),
                next(iter(environments), None))


@require_GET
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's environments as tabs (previews marked), and the chosen one's services."""
    project = get_for(request, Project.objects.visible(), Action.VIEW, pk=project_id)
    asked = request.GET.get("environment")
    if asked is not None and not (asked.isascii() and asked.isdigit()):
        return HttpResponseBadRequest("environment: give the id of one of the project's "
                                      "environments.")
    environments = list(project.environments.all())
    environment = chosen_environment(environments, asked)
    services = (environment.services.select_related("active_deployment")
                if environment is not None else [])
    return render(request, "projects/project_detail.html", {
        "project": project, "environments": environments, "environment": environment,
        "services": services,
    })


@require_POST
def project_delete(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_for(request, Project.objects.visible(), Action.DELETE_PROJECT, pk=project_id)
    delete_project(project)
    messages.success(request, f"Project {project.name} is being deleted.")
    return redirect("workspace_home")
