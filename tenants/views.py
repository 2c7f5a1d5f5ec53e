"""Pages on the panel's root domain: sign up, log in and out, my workspaces."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenants.forms import LoginForm, SignupForm, WorkspaceForm
from tenants.middleware import panel_url
from tenants.models import Membership
from tenants.services import create_workspace


def invitation_next(request: HttpRequest) -> str:
    """`next` when it is an invitation's link on this host (sign-up returns there), else ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/invitations/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}):
        return target
    return ""


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    next_path = invitation_next(request)
    if request.user.is_authenticated:
        return redirect(next_path or "workspace_list")
    form = SignupForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(next_path or "workspace_create")
    return render(request, "tenants/signup.html", {"form": form, "next": next_path})


class PanelLoginView(LoginView):
    form_class = LoginForm
    template_name = "tenants/login.html"
    redirect_authenticated_user = True

    def get_redirect_url(self) -> str:
        return login_next(self.request)

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        return {**super().get_context_data(**kwargs),
                "github_signin": github_signin_enabled()}


def github_signin_enabled() -> bool:
    """Whether the panel has a GitHub OAuth app (GITHUB_CLIENT_ID and _SECRET) to sign in
    with."""
    return bool(settings.GITHUB_CLIENT_ID and settings.GITHUB_CLIENT_SECRET)


def login_next(request: HttpRequest) -> str:
    """`next` of a login (by password or with GitHub) when it points at this panel or one of
    its workspace subdomains, and nowhere else; else ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    hosts = {request.get_host(), *workspace_netloc(target)}
    if url_has_allowed_host_and_scheme(target, allowed_hosts=hosts,
                                       require_https=request.is_secure()):
        return target
    return ""


def workspace_netloc(url: str) -> list[str]:
    """[the URL's netloc] if it names a host below PAAS_DOMAIN and nothing else; else [].

    The netloc is what url_has_allowed_host_and_scheme compares, so it must not carry
    credentials: in http://x.panel.localhost:80@evil.example/ the host is evil.example.
    """
    try:
        parts = urlsplit(url.strip().replace("\\", "/"))
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return []
    hostname = parts.hostname or ""
    if "@" in parts.netloc or not hostname.endswith("." + settings.PAAS_DOMAIN):
        return []
    return [parts.netloc]


login_view = PanelLoginView.as_view()


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Log out (on the root domain or any workspace's: one session serves both) and go to
    the log-in page of the root domain."""
    logout(request)
    return HttpResponseRedirect(panel_url(request, "/login/"))


@login_required
@require_GET
def workspace_list(request: HttpRequest) -> HttpResponse:
    memberships = (
        Membership.objects.for_user(request.user).select_related("workspace")
        .order_by("workspace__name")
    )
    rows = [(m, panel_url(request, "/", m.workspace.hostname)) for m in memberships]
    return render(request, "tenants/workspace_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def workspace_create(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workspace = create_workspace(
            form.cleaned_data["slug"], form.cleaned_data["name"], request.user
        )
        messages.success(request, f"Workspace {workspace.name} is ready.")
        return HttpResponseRedirect(panel_url(request, "/", workspace.hostname))
    return render(request, "tenants/workspace_create.html", {"form": form})


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
