"""The "API tokens" page of a workspace: each member makes, sees and revokes their own
tokens for it. A new token is shown once, in the answer to the form; afterwards only its
prefix."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from api.forms import TokenForm
from api.models import ApiToken
from api.tokens import create_token, revoke_token, tokens_of
from tenants.access import requires
from tenants.roles import Action

TEMPLATE = "api/tokens.html"


def _page(request: HttpRequest, form: TokenForm, new_token: str = "",
          status: int = 200) -> HttpResponse:
    context = {"form": form, "tokens": tokens_of(request.workspace, request.user),
               "new_token": new_token, "api_url": request.build_absolute_uri("/api/v1/"),
               "docs_url": reverse("api-docs")}
    return render(request, TEMPLATE, context, status=status)


@never_cache
@sensitive_variables("token")
@require_http_methods(["GET", "POST"])
@requires(Action.VIEW)
def token_list(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    _, token = create_token(request.workspace, request.user, form.cleaned_data["name"],
                            form.cleaned_data["days"])
    return _page(request, TokenForm(), new_token=token)


@require_POST
@requires(Action.VIEW)
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    row = get_object_or_404(ApiToken, pk=token_id, workspace=request.workspace,
                            user=request.user)
    if row.revoked_at is None:
        revoke_token(row)
        messages.success(request, f"Token {row.name} revoked; it no longer opens the API.")
    return redirect("api_tokens")
