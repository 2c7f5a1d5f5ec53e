"""The variable editor: a service's variables, or an environment's shared ones.

The owner's kind comes from the URL (`services/<id>/variables/...` or
`environments/<id>/variables/...`). Every change is staged and applied together; values are
masked, and shown only to roles that may read secrets (each showing is recorded). Members see
keys, never values: not in pages, fragments, attributes or the raw editor.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects.domains import public_domain
from projects.dotenv import EnvParseError, render_env
from projects.forms import RawVariablesForm, VariableForm, VariableValueForm
from projects.models import (
    Environment,
    Service,
    StagedChange,
    Variable,
    owner_filter,
)
from projects.variables import (
    apply_staged,
    discard_staged,
    reference_problems,
    reveal,
    reveal_all,
    stage,
    stage_env_text,
    staged_diff,
)
from tenants.access import allowed, get_for, require
from tenants.roles import Action

Owner = Service | Environment
EDITOR = "projects/_variables.html#editor"
ROW = "projects/_variables.html#row"


class OwnerKindConverter:
    """`services` or `environments` in a URL; "service" or "environment" in the view."""

    regex = "services|environments"

    def to_python(self, value: str) -> str:
        return value.removesuffix("s")

    def to_url(self, value: str) -> str:
        return value if value.endswith("s") else f"{value}s"


def get_owner(request: HttpRequest, kind: str, owner_id: int, action: Action) -> Owner:
    queryset = Service.objects.visible() if kind == "service" else Environment.objects.visible()
    return get_for(request, queryset, action, pk=owner_id)


def kind_of(owner: Owner) -> str:
    return "service" if isinstance(owner, Service) else "environment"


@dataclass
class Row:
    """A line of the table: a key, applied or staged. `value` only once revealed."""

    key: str
    variable: Variable | None
    change: StagedChange | None
    kind: str | None  # "added", "changed", "removed" when a change is staged
    value: str | None = None
    form: VariableValueForm | None = None


def rows_of(owner: Owner, *, revealed: dict[str, str] | None = None, editing: str | None = None,
            edit_form: VariableValueForm | None = None) -> list[Row]:
    """The keys as they will be once applied, each with what is staged for it. No values
    are decrypted here but those `revealed` by the caller."""
    lookup = owner_filter(owner)
    variables = {v.key: v for v in Variable.objects.filter(**lookup).defer("ciphertext")}
    staged = {c.key: c for c in StagedChange.objects.filter(**lookup).defer("ciphertext")}
    kinds = {change.key: change.kind for change in staged_diff(owner)}
    revealed = revealed or {}
    rows = []
    for key in sorted(set(variables) | set(staged)):
        row = Row(key, variables.get(key), staged.get(key), kinds.get(key), revealed.get(key))
        if key == editing and row.variable is not None:
            row.form = edit_form or VariableValueForm(key=key, auto_id=f"edit_{key}_%s")
        rows.append(row)
    return rows


def editor_context(request: HttpRequest, owner: Owner, *, add_form: VariableForm | None = None,
                   editing: str | None = None, edit_form: VariableValueForm | None = None,
                   raw_form: RawVariablesForm | None = None, raw_errors: list[str] = (),
                   revealed: dict[str, str] | None = None, applied: int | None = None,
                   discarded: int | None = None) -> dict:
    """What the editor partial shows. Values appear only through `revealed` and `raw_form`,
    which only READ_SECRETS views pass."""
    may_read = allowed(request, Action.READ_SECRETS)
    may_edit = allowed(request, Action.EDIT_VARIABLES)
    diff = staged_diff(owner)
    problems = reference_problems(owner)
    staged_problems = reference_problems(owner, staged=True) if diff else []
    if not may_read:  # a reference is part of a value: name the variable only
        problems = [problem.split(":", 1)[0] for problem in problems]
        staged_problems = [problem.split(":", 1)[0] for problem in staged_problems]
    return {
        "owner": owner,
        "owner_kind": kind_of(owner),
        "rows": rows_of(owner, revealed=revealed, editing=editing, edit_form=edit_form),
        "diff": diff,
        "problems": problems,
        "staged_problems": staged_problems,
        "may_read": may_read,
        "may_edit": may_edit,
        "add_form": (add_form or VariableForm(auto_id="new_%s")) if may_edit else None,
        "raw_form": raw_form if may_read and may_edit else None,
        "raw_errors": raw_errors,
        "applied": applied,
        "discarded": discarded,
    }


def page_context(request: HttpRequest, owner: Owner, **state: object) -> dict:
    """The context of the page the editor is on: the service page, or the environment's
    shared variables page."""
    environment = owner.environment if isinstance(owner, Service) else owner
    context = {"environment": environment, "project": environment.project}
    if isinstance(owner, Service):
        context.update(service=owner, public_domain=public_domain(owner))
    return {**context, **editor_context(request, owner, **state)}


def page_url(owner: Owner) -> str:
    if isinstance(owner, Service):
        return reverse("service_detail", kwargs={"service_id": owner.pk})
    return reverse("shared_variables", kwargs={"environment_id": owner.pk})


def page_template(owner: Owner) -> str:
    return ("projects/service_detail.html" if isinstance(owner, Service)
            else "projects/shared_variables.html")


def respond(request: HttpRequest, owner: Owner, **state: object) -> HttpResponse:
    """The editor (htmx), or the whole page around it."""
    context = page_context(request, owner, **state)
    return render(request, EDITOR if request.htmx else page_template(owner), context)


def done(request: HttpRequest, owner: Owner, message: str, **state: object) -> HttpResponse:
    """After a change: the fresh editor (htmx), or back to the page with a message."""
    if request.htmx:
        return render(request, EDITOR, page_context(request, owner, **state))
    messages.success(request, message)
    return redirect(page_url(owner))


# Pages and fragments ----------------------------------------------------------------------


@require_GET
def shared_variables(request: HttpRequest, environment_id: int) -> HttpResponse:
    environment = get_for(request, Environment.objects.visible(), Action.VIEW, pk=environment_id)
    return render(request, page_template(environment), page_context(request, environment))


@require_GET
def variables_editor(request: HttpRequest, kind: str, owner_id: int) -> HttpResponse:
    """The editor as it is (htmx: "Cancel" in the raw editor); otherwise, its page."""
    owner = get_owner(request, kind, owner_id, Action.VIEW)
    if not request.htmx:
        return redirect(page_url(owner))
    return respond(request, owner)


@require_GET
def variable_row(request: HttpRequest, kind: str, owner_id: int, variable_id: int) -> HttpResponse:
    """One row, masked ("Hide", "Cancel")."""
    owner = get_owner(request, kind, owner_id, Action.VIEW)
    variable = get_for(request, Variable.objects.filter(**owner_filter(owner)), Action.VIEW,
                       pk=variable_id)
    return render_row(request, owner, variable.key)


def render_row(request: HttpRequest, owner: Owner, key: str, *,
               revealed: dict[str, str] | None = None, editing: str | None = None) -> HttpResponse:
    """One row of the table, alone (htmx swaps it in place)."""
    rows = rows_of(owner, revealed=revealed, editing=editing)
    context = {
        "owner": owner,
        "owner_kind": kind_of(owner),
        "may_read": allowed(request, Action.READ_SECRETS),
        "may_edit": allowed(request, Action.EDIT_VARIABLES),
        "row": next(row for row in rows if row.key == key),
    }
    return render(request, ROW, context)


@require_POST
@never_cache
@sensitive_variables()
def variable_reveal(request: HttpRequest, kind: str, owner_id: int,
                    variable_id: int) -> HttpResponse:
    """The row with its applied value shown; the reveal is recorded (who, when, which key)."""
    owner = get_owner(request, kind, owner_id, Action.READ_SECRETS)
    variable = get_for(request, Variable.objects.filter(**owner_filter(owner)),
                       Action.READ_SECRETS, pk=variable_id)
    revealed = {variable.key: reveal(variable, request.user)}
    if request.htmx:
        return render_row(request, owner, variable.key, revealed=revealed)
    return respond(request, owner, revealed=revealed)


# Changes, staged --------------------------------------------------------------------------


@require_POST
@sensitive_post_parameters("value")
@sensitive_variables()
def variable_add(request: HttpRequest, kind: str, owner_id: int) -> HttpResponse:
    owner = get_owner(request, kind, owner_id, Action.EDIT_VARIABLES)
    form = VariableForm(request.POST, auto_id="new_%s")
    if form.is_valid():
        key = form.cleaned_data["key"]
        try:
            stage(owner, key, form.cleaned_data["value"], request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return done(request, owner, f"Staged {key}.")
    if form.has_error("value"):  # never send back a value that was refused
        form.data = form.data.copy()
        form.data["value"] = ""
    return respond(request, owner, add_form=form)


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("value")
@sensitive_variables()
def variable_edit(request: HttpRequest, kind: str, owner_id: int,
                  variable_id: int) -> HttpResponse:
    """A new value for a key. The form starts empty: editing does not show the old value."""
    owner = get_owner(request, kind, owner_id, Action.EDIT_VARIABLES)
    variable = get_for(request, Variable.objects.filter(**owner_filter(owner)),
                       Action.EDIT_VARIABLES, pk=variable_id)
    if request.method == "GET":
        if request.htmx:
            return render_row(request, owner, variable.key, editing=variable.key)
        return respond(request, owner, editing=variable.key)
    form = VariableValueForm(request.POST, key=variable.key, auto_id=f"edit_{variable.key}_%s")
    if form.is_valid():
        try:
            stage(owner, variable.key, form.cleaned_data["value"], request.user)
        except ValidationError as error:
            form.add_error("value", error)
        else:
            return done(request, owner, f"Staged a new value for {variable.key}.")
    form.data = form.data.copy()
    form.data["value"] = ""
    return respond(request, owner, editing=variable.key, edit_form=form)


@require_POST
def variable_delete(request: HttpRequest, kind: str, owner_id: int,
                    variable_id: int) -> HttpResponse:
    owner = get_owner(request, kind, owner_id, Action.EDIT_VARIABLES)
    variable = get_for(request, Variable.objects.filter(**owner_filter(owner)),
                       Action.EDIT_VARIABLES, pk=variable_id)
    stage(owner, variable.key, None, request.user)
    return done(request, owner, f"Staged the removal of {variable.key}.")


@require_POST
def staged_undo(request: HttpRequest, kind: str, owner_id: int, change_id: int) -> HttpResponse:
    """Drop one staged change."""
    owner = get_owner(request, kind, owner_id, Action.EDIT_VARIABLES)
    change = get_for(request, StagedChange.objects.filter(**owner_filter(owner)),
                     Action.EDIT_VARIABLES, pk=change_id)
    change.delete()
    return done(request, owner, f"Dropped the staged change of {change.key}.")


@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_post_parameters("text")
@sensitive_variables()
def variables_raw(request: HttpRequest, kind: str, owner_id: int) -> HttpResponse:
    """The raw editor: every pending value as `.env` text. Opening it shows every value, so
    it is recorded as one reveal of all keys ("*"); submitting it stages the whole text."""
    owner = get_owner(request, kind, owner_id, Action.READ_SECRETS)
    require(request, Action.EDIT_VARIABLES)
    if request.method == "GET":
        text = render_env(reveal_all(owner, request.user))
        return respond(request, owner, raw_form=RawVariablesForm(initial={"text": text}))
    form = RawVariablesForm(request.POST)
    if not form.is_valid():
        return respond(request, owner, raw_form=form, raw_errors=form.errors["text"])
    try:
        stage_env_text(owner, form.cleaned_data["text"], request.user)
    except EnvParseError as error:
        return respond(request, owner, raw_form=form, raw_errors=error.messages)
    return done(request, owner, "Staged the raw editor's changes.")


@require_POST
def variables_apply(request: HttpRequest, kind: str, owner_id: int) -> HttpResponse:
    owner = get_owner(request, kind, owner_id, Action.EDIT_VARIABLES)
    count = apply_staged(owner)
    return done(request, owner, f"Applied {count} change{'s' if count != 1 else ''}.",
                applied=count)


@require_POST
def variables_discard(request: HttpRequest, kind: str, owner_id: int) -> HttpResponse:
    owner = get_owner(request, kind, owner_id, Action.EDIT_VARIABLES)
    count = discard_staged(owner)
    return done(request, owner, f"Discarded {count} change{'s' if count != 1 else ''}.",
                discarded=count)
