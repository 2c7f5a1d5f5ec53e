"""A workspace's settings page (its subdomain): rename it, delete it."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from tenants.access import allowed, requires
from tenants.forms import WorkspaceDeleteForm, WorkspaceRenameForm
from tenants.middleware import panel_url
from tenants.roles import Action
from tenants.services import delete_workspace, rename_workspace


def _page(request: HttpRequest, rename: WorkspaceRenameForm | None = None,
          delete: WorkspaceDeleteForm | None = None, status: int = 200) -> HttpResponse:
    return render(request, "tenants/workspace_settings.html", {
        "rename_form": rename or WorkspaceRenameForm(instance=request.workspace),
        "delete_form": delete or WorkspaceDeleteForm(workspace=request.workspace),
        "can_delete": allowed(request, Action.DELETE_WORKSPACE),
    }, status=status)


@require_http_methods(["GET", "POST"])
@requires(Action.EDIT_WORKSPACE)
def workspace_settings(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    before = request.workspace.name
    form = WorkspaceRenameForm(request.POST, instance=request.workspace)
    if not form.is_valid():
        request.workspace.name = before
        return _page(request, rename=form, status=400)
    rename_workspace(form)
    messages.success(request, f"The workspace is now called {request.workspace.name}.")
    return redirect("workspace_settings")


@require_POST
@requires(Action.DELETE_WORKSPACE)
def workspace_delete(request: HttpRequest) -> HttpResponse:
    form = WorkspaceDeleteForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        return _page(request, delete=form, status=400)
    name = request.workspace.name
    delete_workspace(request.workspace)
    messages.success(request, f"{name} and everything in it are deleted.")
    return HttpResponseRedirect(panel_url(request, "/"))
