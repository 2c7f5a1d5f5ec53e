"""The Content-Security-Policy of the panel's pages (django.middleware.csp, settings.SECURE_CSP):
what the browser is told on the root domain, a workspace's subdomain and both admins, and that
no page carries what that policy refuses (inline scripts, styles or handlers without a nonce).
The pages in a real Chromium: test_content_security_policy_browser.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from conftest import BASE_DIR
from projects.models import Service
from projects.services import create_project
from projects.variables import apply_staged, stage
from tenants.models import User

# As a browser reads it in development and tests (http, any port; production: https, 443).
EXPECTED = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],  # and the request's nonce, on pages that use one
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'", "ws://*.panel.localhost:*"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'self'"],
    # GitHub: "Sign in with GitHub" posts to the panel, which redirects there.
    "form-action": ["'self'", "http://panel.localhost:*", "http://*.panel.localhost:*",
                    settings.GITHUB_URL],
}


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


class InlineFinder(HTMLParser):
    """What in a page the policy refuses: inline code or style without the page's nonce."""

    def __init__(self, nonce: str | None) -> None:
        super().__init__()
        self.nonce = nonce
        self.refused: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith(("on", "hx-on", "style")) or name in ("hx-vars",):
                self.refused.append(f"<{tag} {name}=...>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.refused.append(f"<{tag} {name}={value}>")
            if (value or "").startswith("js:"):  # htmx's hx-vals evaluated as script
                self.refused.append(f"<{tag} {name}={value}>")
        if tag == "style":
            self.refused.append("<style> (style-src has no nonce)")
        if tag == "script" and "src" not in attributes and (
                self.nonce is None or attributes.get("nonce") != self.nonce):
            self.refused.append("<script> inline without the nonce")
        if tag in ("script", "link") and attributes.get("nonce") not in (None, self.nonce):
            self.refused.append(f"<{tag}> with another nonce")


def assert_policy_kept(response) -> None:
    """The response has the panel's policy, and nothing on the page needs more."""
    policy = policy_of(response)
    script_src = policy.pop("script-src")
    nonces = [value[len("'nonce-"):-1] for value in script_src if value.startswith("'nonce-")]
    assert [value for value in script_src if not value.startswith("'nonce-")] == ["'self'"]
    assert len(nonces) <= 1
    assert policy == {name: values for name, values in EXPECTED.items() if name != "script-src"}
    finder = InlineFinder(nonces[0] if nonces else None)
    finder.feed(response.content.decode())
    assert finder.refused == [], (response.request["PATH_INFO"], finder.refused)


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_user("operator@panel.example", "operator pass phrase",
                                    name="Opal Operator", is_staff=True, is_superuser=True)


@pytest.fixture
def service(people) -> Service:
    with tenant_context(people.workspace_a):
        environment = create_project("Shop").environments.get()
        service = Service.objects.create(environment=environment, name="web",
                                         repository_url="https://github.com/acme/web.git")
        stage(service, "TOKEN", "s3cr3t", people.owner)
        apply_staged(service)
    return service


def test_the_root_domains_pages_have_the_policy(people, client_for):
    assert_policy_kept(Client(HTTP_HOST="panel.localhost").get("/login/"))
    assert_policy_kept(Client(HTTP_HOST="panel.localhost").get("/signup/"))
    owner = client_for(people.owner)
    for url in ("/", "/workspaces/new/"):
        response = owner.get(url)
        assert response.status_code == 200, url
        assert_policy_kept(response)


def test_a_workspaces_pages_have_the_policy(people, client_for, service):
    owner = client_for(people.owner, people.workspace_a)
    for url in ("/", f"/projects/{service.environment.project_id}/", f"/services/{service.pk}/",
                f"/services/{service.pk}/settings/",
                f"/environments/{service.environment_id}/variables/"):
        response = owner.get(url)
        assert response.status_code == 200, url
        assert_policy_kept(response)
    # htmx fragments and the 404 an outsider gets carry it too.
    fragment = owner.get(f"/services/{service.pk}/variables/editor/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert_policy_kept(fragment)
    not_found = client_for(people.outsider, people.workspace_a).get("/")
    assert not_found.status_code == 404
    assert_policy_kept(not_found)


def test_both_admins_have_the_policy_and_its_nonce_on_their_scripts(people, operator):
    root = Client(HTTP_HOST="panel.localhost")
    assert_policy_kept(root.get("/admin/login/"))
    root.force_login(operator)
    workspace = Client(HTTP_HOST=people.workspace_a.hostname)
    workspace.force_login(operator)
    pages = [
        (root, "/admin/"), (root, "/admin/tenants/workspace/"),
        (root, f"/admin/tenants/workspace/{people.workspace_a.pk}/change/"),
        (root, "/admin/tenants/user/add/"), (workspace, "/admin/"),
    ]
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_policy_kept(response)
    # The admin's templates put the request's nonce on their scripts: it is the header's.
    response = root.get("/admin/tenants/workspace/")
    nonces = set(re.findall(r'<script [^>]*nonce="([^"]+)"', response.content.decode()))
    assert len(nonces) == 1
    assert f"'nonce-{nonces.pop()}'" in policy_of(response)["script-src"]


def test_each_request_gets_a_nonce_of_its_own(operator):
    client = Client(HTTP_HOST="panel.localhost")
    client.force_login(operator)
    first, second = (policy_of(client.get("/admin/"))["script-src"] for _ in range(2))
    assert first != second


TEMPLATE_PROBLEMS = {
    "an inline handler (on...=)": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "a style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I),
    "hx-on": re.compile(r"\shx-on", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
    "a <style> element": re.compile(r"<style", re.I),
    "an inline <script> without the nonce": re.compile(
        r'<script(?![^>]*\ssrc=)(?![^>]*nonce="\{\{ csp_nonce \}\}")[^>]*>', re.I),
}


@pytest.mark.parametrize("template", sorted(
    str(path.relative_to(BASE_DIR)) for path in Path(BASE_DIR, "templates").rglob("*.html")))
def test_no_template_has_what_the_policy_refuses(template):
    """Also the pages no test above renders (the 500 page, a deployment's)."""
    text = Path(BASE_DIR, template).read_text()
    found = [what for what, pattern in TEMPLATE_PROBLEMS.items() if pattern.search(text)]
    assert found == [], f"{template}: {found}"
