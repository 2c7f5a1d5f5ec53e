"""The pages around a sign-in with GitHub, on the panel's root domain: the start (which keeps
where to go afterwards, checked like the login form's `next`) and the return (which goes
there). social-auth-app-django's own views do the OAuth exchange in between."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST
from social_django import views as social_views

from tenants.views import github_signin_enabled, login_next

NEXT_KEY = "github_signin_next"


@require_POST
def signin_start(request: HttpRequest) -> HttpResponse:
    """The login page's "Sign in with GitHub" (a form, so CSRF-checked): on to GitHub's
    authorize page through social-auth's begin view, `next` kept for the return."""
    if not github_signin_enabled():
        raise Http404("Sign-in with GitHub is not configured.")
    request.session[NEXT_KEY] = login_next(request)
    return social_views.auth(request, "github")


@require_GET
@login_required
def signin_done(request: HttpRequest) -> HttpResponse:
    return redirect(request.session.pop(NEXT_KEY, "") or "workspace_list")
