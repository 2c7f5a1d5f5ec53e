"""The variable editor of a service and of an environment's shared variables, as each role
(and an attacker) sees it: masked values, reveals, staged changes, the raw editor, warnings."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django_tenants.utils import tenant_context

from projects.models import Environment, Service, StagedChange, Variable, VariableReveal
from projects.services import create_project, create_service
from projects.variables import apply_staged, current_values, pending_values, stage

SECRETS = ["s3cr3t-VALUE-1", "s3cr3t-VALUE-2", "s3cr3t-VALUE-3", "s3cr3t-VALUE-4"]
HX = {"HTTP_HX_REQUEST": "true"}


@dataclass
class World:
    environment: Environment
    service: Service
    other_service: Service


@pytest.fixture
def world(people) -> World:
    """Workspace A: project Shop, production, services web and worker. web has two variables
    and one staged change; the environment has one shared variable; worker has one."""
    with tenant_context(people.workspace_a):
        environment = create_project("Shop").environments.get()
        service = create_service(environment, "web")
        other = create_service(environment, "worker")
        stage(service, "SECRET_ONE", SECRETS[0], people.owner)
        stage(service, "DATABASE_URL", f"postgres://app:{SECRETS[1]}@db/app", people.owner)
        apply_staged(service)
        stage(service, "STAGED_KEY", SECRETS[3], people.owner)
        stage(environment, "SHARED_TOKEN", SECRETS[2], people.owner)
        apply_staged(environment)
        stage(other, "WORKER_ONLY", "worker-value", people.owner)
        apply_staged(other)
    return World(environment, service, other)


def owner_of(world: World, kind: str) -> Service | Environment:
    return world.service if kind == "service" else world.environment


def base(owner: Service | Environment) -> str:
    kind = "services" if isinstance(owner, Service) else "environments"
    return f"/{kind}/{owner.pk}/variables/"


def page(owner: Service | Environment) -> str:
    if isinstance(owner, Service):
        return f"/services/{owner.pk}/"
    return f"/environments/{owner.pk}/variables/"


def a_variable(people, owner: Service | Environment, key: str | None = None) -> Variable:
    lookup = {"service": owner} if isinstance(owner, Service) else {"environment": owner}
    with tenant_context(people.workspace_a):
        variables = Variable.objects.filter(**lookup)
        return variables.get(key=key) if key else variables.order_by("key").first()


def state(people, owner: Service | Environment) -> tuple:
    """What a write would change: values, staged changes, reveals."""
    lookup = {"service": owner} if isinstance(owner, Service) else {"environment": owner}
    with tenant_context(people.workspace_a):
        return (
            current_values(owner),
            pending_values(owner),
            sorted(StagedChange.objects.filter(**lookup).values_list("key", "action")),
            VariableReveal.objects.count(),
        )


def requests_on(people, owner: Service | Environment) -> list[tuple[str, str, str, dict]]:
    """Every page and fragment of the editor: (what, method, url, data). Writes come last,
    in an order in which each still has something to act on."""
    variable = a_variable(people, owner)
    lookup = {"service": owner} if isinstance(owner, Service) else {"environment": owner}
    with tenant_context(people.workspace_a):
        stage(owner, "UNDO_ME", "x", people.owner)
        change = StagedChange.objects.get(**lookup, key="UNDO_ME")
    url = base(owner)
    return [
        ("page", "GET", page(owner), {}),
        ("editor", "GET", f"{url}editor/", {}),
        ("row", "GET", f"{url}{variable.pk}/", {}),
        ("reveal", "POST", f"{url}{variable.pk}/reveal/", {}),
        ("edit form", "GET", f"{url}{variable.pk}/edit/", {}),
        ("raw editor", "GET", f"{url}raw/", {}),
        ("undo", "POST", f"{url}staged/{change.pk}/undo/", {}),
        ("add", "POST", f"{url}add/", {"key": "NEW_KEY", "value": "new"}),
        ("edit", "POST", f"{url}{variable.pk}/edit/", {"value": "edited"}),
        ("delete", "POST", f"{url}{variable.pk}/delete/", {}),
        ("discard", "POST", f"{url}discard/", {}),
        ("raw save", "POST", f"{url}raw/", {"text": "ONLY=this\n"}),
        ("apply", "POST", f"{url}apply/", {}),
    ]


def call(client, method: str, url: str, data: dict, htmx: bool = True):
    extra = HX if htmx else {}
    return client.get(url, **extra) if method == "GET" else client.post(url, data, **extra)


def assert_no_secret(response) -> None:
    body = response.content.decode()
    for secret in SECRETS:
        assert secret not in body
    assert "s3cr3t" not in body and "worker-value" not in body
    for name, value in response.items():
        assert "s3cr3t" not in value, name


# The role matrix ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["service", "environment"])
@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_may_do_everything(people, client_for, world, kind, role):
    owner = owner_of(world, kind)
    client = client_for(getattr(people, role), people.workspace_a)
    for what, method, url, data in requests_on(people, owner):
        response = call(client, method, url, data)
        assert response.status_code == 200, what
    with tenant_context(people.workspace_a):
        # The raw text replaced everything, then it was applied.
        assert current_values(owner) == {"ONLY": "this"}


@pytest.mark.parametrize("kind", ["service", "environment"])
@pytest.mark.parametrize("htmx", [True, False])
def test_a_member_sees_keys_never_values_and_may_change_nothing(people, client_for, world, kind,
                                                                htmx):
    owner = owner_of(world, kind)
    member = client_for(people.member, people.workspace_a)
    requests = requests_on(people, owner)
    before = state(people, owner)
    for what, method, url, data in requests:
        response = call(member, method, url, data, htmx)
        expected = 200 if what in {"page", "editor", "row"} else 403
        if not htmx and what in {"editor"}:
            expected = 302  # back to the page
        assert response.status_code == expected, what
        assert_no_secret(response)
    assert state(people, owner) == before

    html = member.get(page(owner)).content.decode()
    keys = ["SECRET_ONE", "DATABASE_URL", "STAGED_KEY"] if kind == "service" else ["SHARED_TOKEN"]
    for key in keys:
        assert f'data-variable="{key}"' in html
    assert "••••••••" in html
    for control in ("data-action=\"reveal\"", "data-action=\"raw-editor\"", "add-variable",
                    "data-action=\"apply\"", "/delete/", "/edit/", "/raw/"):
        assert control not in html


@pytest.mark.parametrize("kind", ["service", "environment"])
def test_an_outsider_gets_404_everywhere(people, client_for, world, kind):
    owner = owner_of(world, kind)
    outsider = client_for(people.outsider, people.workspace_a)
    requests = requests_on(people, owner)
    before = state(people, owner)
    for what, method, url, data in requests:
        response = call(outsider, method, url, data)
        assert response.status_code == 404, what
        assert_no_secret(response)
    assert state(people, owner) == before


def test_another_workspaces_ids_are_404_through_this_workspaces_host(people, client_for, world):
    big = 10**9  # an id workspace A surely does not use
    with tenant_context(people.workspace_b):
        environment = create_project("Theirs").environments.get()
        service = Service.objects.create(pk=big, environment=environment, name="web")
        variable = Variable(pk=big, service=service, key="THEIR_SECRET")
        variable.set_value(SECRETS[0])
        variable.save()
    with tenant_context(people.workspace_a):
        assert not Service.objects.filter(pk=big).exists()
        assert not Variable.objects.filter(pk=big).exists()
    owner = client_for(people.owner, people.workspace_a)
    mine = base(world.service)
    for method, url in [
        ("GET", f"/services/{big}/"),
        ("GET", f"/services/{big}/variables/editor/"),
        ("POST", f"/services/{big}/variables/{big}/reveal/"),
        ("POST", f"/services/{big}/variables/add/"),
        ("POST", f"/services/{big}/variables/apply/"),
        ("GET", f"/services/{big}/variables/raw/"),
        ("POST", f"{mine}{big}/reveal/"),
        ("GET", f"{mine}{big}/"),
        ("GET", f"{mine}{big}/edit/"),
        ("POST", f"{mine}{big}/edit/"),
        ("POST", f"{mine}{big}/delete/"),
        ("POST", f"{mine}staged/{big}/undo/"),
    ]:
        response = call(owner, method, url, {"key": "X", "value": "y"})
        assert response.status_code == 404, url
        assert_no_secret(response)
    with tenant_context(people.workspace_a):
        assert not VariableReveal.objects.exists()
    with tenant_context(people.workspace_b):
        assert not VariableReveal.objects.exists()


def test_a_variable_of_one_owner_is_404_through_another(people, client_for, world):
    worker_variable = a_variable(people, world.other_service, "WORKER_ONLY")
    shared_variable = a_variable(people, world.environment, "SHARED_TOKEN")
    owner = client_for(people.owner, people.workspace_a)
    for variable in (worker_variable, shared_variable):
        for suffix in ("reveal/", "delete/"):
            response = owner.post(f"{base(world.service)}{variable.pk}/{suffix}", **HX)
            assert response.status_code == 404
    # A service id is not an environment id, whatever the numbers.
    response = owner.post(f"/environments/{world.service.pk + 10**6}/variables/add/",
                          {"key": "X", "value": "y"})
    assert response.status_code == 404
    with tenant_context(people.workspace_a):
        assert not VariableReveal.objects.exists()
        assert current_values(world.other_service) == {"WORKER_ONLY": "worker-value"}


# What owners see --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["service", "environment"])
def test_values_are_masked_until_revealed_and_each_reveal_is_recorded(people, client_for, world,
                                                                     kind):
    owner = owner_of(world, kind)
    admin = client_for(people.admin, people.workspace_a)
    html = admin.get(page(owner)).content.decode()
    assert "••••••••" in html and 'data-action="reveal"' in html
    for secret in SECRETS:
        assert secret not in html

    key = "SECRET_ONE" if kind == "service" else "SHARED_TOKEN"
    variable = a_variable(people, owner, key)
    response = admin.post(f"{base(owner)}{variable.pk}/reveal/", **HX)
    fragment = response.content.decode()
    expected = SECRETS[0] if kind == "service" else SECRETS[2]
    assert re.search(rf'data-testid="revealed-value">{expected}<', fragment)
    assert f'id="variable-{key}"' in fragment and "<html" not in fragment
    assert "no-store" in response["Cache-Control"]
    with tenant_context(people.workspace_a):
        reveal = VariableReveal.objects.get()
    assert (reveal.user_email, reveal.key, reveal.owner_type, reveal.owner_id) == (
        "admin@a.example", key, kind, owner.pk)

    hidden = admin.get(f"{base(owner)}{variable.pk}/", **HX).content.decode()
    assert expected not in hidden and "••••••••" in hidden


def test_the_raw_editor_shows_pending_values_and_is_recorded_as_one_reveal(people, client_for,
                                                                           world):
    owner = client_for(people.owner, people.workspace_a)
    response = owner.get(f"{base(world.service)}raw/", **HX)
    html = response.content.decode()
    textarea = re.search(r'<textarea name="text"[^>]*>\n(.*?)</textarea>', html, re.S).group(1)
    assert textarea == (
        f"DATABASE_URL=postgres://app:{SECRETS[1]}@db/app\n"
        f"SECRET_ONE={SECRETS[0]}\n"
        f"STAGED_KEY={SECRETS[3]}\n"
    )
    assert "no-store" in response["Cache-Control"]
    with tenant_context(people.workspace_a):
        reveal = VariableReveal.objects.get()
    assert (reveal.user_email, reveal.key, reveal.owner_type) == ("owner@a.example", "*", "service")


# Staging ----------------------------------------------------------------------------------


def diff_of(html: str) -> list[tuple[str, str]]:
    return sorted(re.findall(r'data-diff-key="(\w+)" data-diff-kind="(\w+)"', html))


@pytest.mark.parametrize("kind", ["service", "environment"])
def test_changes_are_staged_until_applied(people, client_for, world, kind):
    owner = owner_of(world, kind)
    client = client_for(people.owner, people.workspace_a)
    url = base(owner)
    with tenant_context(people.workspace_a):
        StagedChange.objects.all().delete()
        before = current_values(owner)
    existing = a_variable(people, owner)

    client.post(f"{url}add/", {"key": "FIRST", "value": "one"}, **HX)
    client.post(f"{url}add/", {"key": "SECOND", "value": "two\r\nlines"}, **HX)
    response = client.post(f"{url}{existing.pk}/delete/", **HX)
    html = response.content.decode()
    with tenant_context(people.workspace_a):
        assert current_values(owner) == before  # nothing applied yet
    assert diff_of(html) == sorted([("FIRST", "added"), ("SECOND", "added"),
                                    (existing.key, "removed")])
    assert "Apply 3 changes" in html
    assert 'data-variable="FIRST" data-change="added"' in html
    assert f'data-variable="{existing.key}" data-change="removed"' in html
    for value in ("one", "two"):
        assert f">{value}<" not in html

    applied = client.post(f"{url}apply/", **HX).content.decode()
    expected = {k: v for k, v in before.items() if k != existing.key}
    expected.update(FIRST="one", SECOND="two\nlines")
    with tenant_context(people.workspace_a):
        assert current_values(owner) == expected
        assert not StagedChange.objects.exists()
    assert "Applied 3 changes." in applied
    assert 'data-testid="staged"' not in applied
    redeploy = re.search(r'<button[^>]*data-action="redeploy"[^>]*>', applied)
    if kind == "environment":
        assert redeploy is None
    else:  # nothing deployed yet: present, disabled, and says why
        assert "disabled" in redeploy.group(0)
        assert 'title="Add a repository URL (or run paas up) to deploy"' in redeploy.group(0)


def test_after_apply_redeploy_posts_to_the_services_redeploy(people, client_for, world):
    """With a deployment to rebuild, "Redeploy" after "Apply" is a button of its own that
    posts to the service's redeploy (the same commit, with the variables just applied)."""
    from deployments.models import Deployment, Status

    with tenant_context(people.workspace_a):
        Service.objects.filter(pk=world.service.pk).update(
            repository_url="https://github.com/acme/web.git")
        Deployment.objects.create(service=world.service, number=1, status=Status.FAILED,
                                  commit_sha="a" * 40)
    client = client_for(people.owner, people.workspace_a)
    applied = client.post(f"{base(world.service)}apply/", **HX).content.decode()
    redeploy = re.search(r'<button[^>]*data-action="redeploy"[^>]*>', applied).group(0)
    assert "disabled" not in redeploy
    assert f'action="/services/{world.service.pk}/redeploy/"' in applied


def test_an_edit_stages_a_new_value_without_showing_the_old_one(people, client_for, world):
    client = client_for(people.admin, people.workspace_a)
    variable = a_variable(people, world.service, "SECRET_ONE")
    url = f"{base(world.service)}{variable.pk}/edit/"
    form = client.get(url, **HX).content.decode()
    assert 'data-testid="edit-variable"' in form and SECRETS[0] not in form

    html = client.post(url, {"value": "rotated"}, **HX).content.decode()
    assert ("SECRET_ONE", "changed") in diff_of(html)
    with tenant_context(people.workspace_a):
        assert current_values(world.service)["SECRET_ONE"] == SECRETS[0]
        assert pending_values(world.service)["SECRET_ONE"] == "rotated"


def test_discard_drops_every_staged_change(people, client_for, world):
    client = client_for(people.owner, people.workspace_a)
    url = base(world.service)
    before = state(people, world.service)[0]
    client.post(f"{url}add/", {"key": "FIRST", "value": "one"}, **HX)
    html = client.post(f"{url}discard/", **HX).content.decode()
    assert "Discarded 2 staged changes." in html  # FIRST and the fixture's STAGED_KEY
    with tenant_context(people.workspace_a):
        assert not StagedChange.objects.filter(service=world.service).exists()
        assert current_values(world.service) == before == pending_values(world.service)


def test_undo_drops_one_staged_change(people, client_for, world):
    with tenant_context(people.workspace_a):
        change = StagedChange.objects.get(service=world.service, key="STAGED_KEY")
    html = client_for(people.owner, people.workspace_a).post(
        f"{base(world.service)}staged/{change.pk}/undo/", **HX).content.decode()
    assert 'data-variable="STAGED_KEY"' not in html
    with tenant_context(people.workspace_a):
        assert not StagedChange.objects.filter(service=world.service).exists()


@pytest.mark.parametrize("key, message", [
    ("1BAD", "must not start with a digit"),
    ("HAS SPACE", "may only contain"),
    ("dash-key", "may only contain"),
    ("", "required"),
])
def test_an_invalid_key_is_refused_next_to_it(people, client_for, world, key, message):
    before = state(people, world.service)
    response = client_for(people.owner, people.workspace_a).post(
        f"{base(world.service)}add/", {"key": key, "value": "fine"}, **HX)
    errors = re.findall(r'data-field-error="key">([^<]*)<', response.content.decode())
    assert len(errors) == 1 and message in errors[0]
    assert state(people, world.service) == before


@pytest.mark.parametrize("kind", ["service", "environment"])
@pytest.mark.parametrize("key", ["PM2_HOME", "pm_exec_path", "cwd"])
def test_a_reserved_key_is_refused_next_to_it_saying_why(people, client_for, world, kind, key):
    owner = owner_of(world, kind)
    before = state(people, owner)
    response = client_for(people.owner, people.workspace_a).post(
        f"{base(owner)}add/", {"key": key, "value": "/tmp/elsewhere"}, **HX)
    errors = re.findall(r'data-field-error="key">([^<]*)<', response.content.decode())
    assert errors == [f"{key} is reserved: PM2 uses it to run the service."]
    assert state(people, owner) == before


def test_a_reserved_key_stored_before_cannot_be_edited_but_can_be_deleted(people, client_for,
                                                                          world):
    with tenant_context(people.workspace_a):
        legacy = Variable(service=world.service, key="PM2_HOME")
        legacy.set_value("/tmp/legacy")
        legacy.save()
    before = state(people, world.service)
    client = client_for(people.owner, people.workspace_a)
    html = client.post(f"{base(world.service)}{legacy.pk}/edit/", {"value": "/tmp/other"},
                       **HX).content.decode()
    errors = re.findall(r'data-field-error="value">([^<]*)<', html)
    assert errors == ["PM2_HOME is reserved: PM2 uses it to run the service."]
    assert state(people, world.service) == before

    client.post(f"{base(world.service)}{legacy.pk}/delete/", **HX)
    client.post(f"{base(world.service)}apply/", **HX)
    with tenant_context(people.workspace_a):
        assert "PM2_HOME" not in current_values(world.service)


@pytest.mark.parametrize("mode", ["add", "edit"])
def test_a_value_over_32_kib_is_refused_and_never_echoed(people, client_for, world, mode):
    before = state(people, world.service)
    value = "s3cr3t-" + "v" * (32 * 1024)
    client = client_for(people.owner, people.workspace_a)
    if mode == "add":
        response = client.post(f"{base(world.service)}add/", {"key": "BIG", "value": value}, **HX)
    else:
        variable = a_variable(people, world.service, "SECRET_ONE")
        response = client.post(f"{base(world.service)}{variable.pk}/edit/", {"value": value},
                               **HX)
    html = response.content.decode()
    errors = re.findall(r'data-field-error="value">([^<]*)<', html)
    assert len(errors) == 1 and "32 KiB" in errors[0]
    assert "vvvvvvvv" not in html and "s3cr3t-" not in html
    assert state(people, world.service) == before


# The raw editor ---------------------------------------------------------------------------

ENV_TEXT = """\
# Database
export DATABASE_URL=postgres://app:pw@db/app
SECRET_ONE='single $quoted # not a comment'
GREETING="Hello \\"you\\"\\nsecond line"
EMPTY=
PLAIN=value # an inline comment

MULTI="line one
line two"
REF=${{ shared.SHARED_TOKEN }}
"""


@pytest.mark.parametrize("kind", ["service", "environment"])
def test_the_raw_editor_stages_the_text_exactly(people, client_for, world, kind):
    owner = owner_of(world, kind)
    client = client_for(people.owner, people.workspace_a)
    with tenant_context(people.workspace_a):
        before = current_values(owner)
    html = client.post(f"{base(owner)}raw/", {"text": ENV_TEXT.replace("\n", "\r\n")},
                       **HX).content.decode()
    expected = {
        "DATABASE_URL": "postgres://app:pw@db/app",
        "SECRET_ONE": "single $quoted # not a comment",
        "GREETING": 'Hello "you"\nsecond line',
        "EMPTY": "",
        "PLAIN": "value",
        "MULTI": "line one\nline two",
        "REF": "${{ shared.SHARED_TOKEN }}",
    }
    with tenant_context(people.workspace_a):
        assert pending_values(owner) == expected
        assert current_values(owner) == before
    assert 'data-testid="staged"' in html and 'data-testid="raw-editor"' not in html
    client.post(f"{base(owner)}apply/", **HX)
    with tenant_context(people.workspace_a):
        assert current_values(owner) == expected


def test_a_broken_env_text_reports_line_numbers_and_stages_nothing(people, client_for, world):
    before = state(people, world.service)
    text = "GOOD=1\nno equals sign here\n1BAD=x\nOPEN=\"zebra-secret\nLAST=ok\n"
    response = client_for(people.admin, people.workspace_a).post(
        f"{base(world.service)}raw/", {"text": text}, **HX)
    html = response.content.decode()
    block = re.search(r'data-field-error="text">(.*?)</div>', html, re.S).group(1)
    messages = re.findall(r"<li>([^<]*)</li>", block)
    assert [m.split(":")[0] for m in messages[:2]] == ["line 2", "line 3"]
    assert any(m.startswith("line 4") for m in messages)
    assert "never closed" in messages[2]
    assert "zebra-secret" in html  # in the textarea, which keeps what was typed
    assert not any("zebra-secret" in m for m in messages)
    assert state(people, world.service) == before


def test_a_raw_text_with_a_reserved_key_stages_nothing_and_names_it(people, client_for, world):
    before = state(people, world.service)
    text = "NEW=1\nSECRET_ONE=changed\nPM2_HOME=/tmp/elsewhere\n"
    html = client_for(people.owner, people.workspace_a).post(
        f"{base(world.service)}raw/", {"text": text}, **HX).content.decode()
    block = re.search(r'data-field-error="text">(.*?)</div>', html, re.S).group(1)
    assert re.findall(r"<li>([^<]*)</li>", block) == [
        "PM2_HOME is reserved: PM2 uses it to run the service."]
    assert state(people, world.service) == before


# Warnings ---------------------------------------------------------------------------------


def test_a_reference_that_does_not_resolve_is_a_warning(people, client_for, world):
    with tenant_context(people.workspace_a):
        stage(world.service, "BROKEN", "${{ nope.X }}", people.owner)
        apply_staged(world.service)
    html = client_for(people.owner, people.workspace_a).get(page(world.service)).content.decode()
    warnings = re.search(r'data-testid="reference-warnings">(.*?)</div>', html, re.S).group(1)
    assert "BROKEN" in warnings and "nope" in warnings

    member_html = client_for(people.member, people.workspace_a).get(
        page(world.service)).content.decode()
    warnings = re.search(r'data-testid="reference-warnings">(.*?)</div>', member_html,
                         re.S).group(1)
    assert "BROKEN" in warnings and "nope" not in warnings  # the name, not the value


def test_staged_references_are_warned_about_before_applying(people, client_for, world):
    client = client_for(people.owner, people.workspace_a)
    url = base(world.service)
    html = client.post(f"{url}add/", {"key": "LINK", "value": "${{ shared.MISSING }}"},
                       **HX).content.decode()
    warnings = re.search(r'data-testid="staged-warnings">(.*?)</div>', html, re.S).group(1)
    assert "LINK" in warnings and "MISSING" in warnings
    assert 'data-testid="reference-warnings"' not in html  # nothing is broken yet

    applied = client.post(f"{url}apply/", **HX).content.decode()  # still allowed
    assert 'data-testid="reference-warnings"' in applied
    with tenant_context(people.workspace_a):
        assert current_values(world.service)["LINK"] == "${{ shared.MISSING }}"


def test_a_cycle_is_a_warning(people, client_for, world):
    with tenant_context(people.workspace_a):
        stage(world.service, "A", "${{ web.B }}", people.owner)
        stage(world.service, "B", "${{ web.A }}", people.owner)
    html = client_for(people.owner, people.workspace_a).get(page(world.service)).content.decode()
    warnings = re.search(r'data-testid="staged-warnings">(.*?)</div>', html, re.S).group(1)
    assert "cycle" in warnings
