"""GET /traefik/config on the panel's root domain: what Traefik's HTTP provider polls. Only
with the bearer token, the routing table and the panel's hosts as a valid Traefik v3
configuration, in two queries however many routes there are, and cheap to poll again."""

from __future__ import annotations

import json
import logging

import jsonschema
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conftest import FIXTURES
from hosting.models import Route

TOKEN = "t0k3n-" + "x" * 40
SCHEMA = json.loads((FIXTURES / "traefik-v3-file-provider.schema.json").read_text())
URL = "/traefik/config"


@pytest.fixture(autouse=True)
def traefik_settings(settings):
    settings.PAAS_TRAEFIK_TOKEN = TOKEN
    settings.PAAS_PANEL_UPSTREAM = "http://127.0.0.1:8000"
    settings.SECURE = True
    return settings


def get(host: str | None = None, token: str | None = TOKEN, **headers: str):
    client = Client(HTTP_HOST=host or settings.PAAS_DOMAIN)
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.get(URL, **headers)


def routes_of(configuration: dict) -> dict[str, list[str]]:
    """Hostname → upstream URLs of every HTTPS router (the ones that serve)."""
    http = configuration["http"]
    found = {}
    for router in http["routers"].values():
        if router["entryPoints"] == ["websecure"]:
            hostname = router["rule"].split("`")[1]
            servers = http["services"][router["service"]]["loadBalancer"]["servers"]
            found[hostname] = [server["url"] for server in servers]
    return found


def add_routes(count: int, schema_name: str = "ws_team_a") -> None:
    Route.objects.bulk_create(
        Route(hostname=f"svc{n}-team-a.{settings.PAAS_APPS_DOMAIN}",
              upstream=f"127.0.0.1:{20000 + n % 9000}", schema_name=schema_name,
              service_id=n + 1, deployment_id=n + 1)
        for n in range(count))


def test_the_routing_table_and_the_panel_are_served_to_the_right_upstreams(people):
    apps = settings.PAAS_APPS_DOMAIN
    Route.objects.create(hostname=f"web-team-a.{apps}", upstream="127.0.0.1:20001,127.0.0.1:20002",
                         schema_name="ws_team_a", service_id=1, deployment_id=1)
    Route.objects.create(hostname=f"web-pr-3-team-a.{apps}", upstream="10.1.0.5:20003",
                         schema_name="ws_team_a", service_id=2, deployment_id=2)
    Route.objects.create(hostname="shop.example.org", upstream="127.0.0.1:20001,127.0.0.1:20002",
                         schema_name="ws_team_a", service_id=1, deployment_id=1)

    response = get()

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    configuration = response.json()
    assert not list(jsonschema.Draft7Validator(SCHEMA).iter_errors(configuration))
    served = routes_of(configuration)
    assert served[f"web-team-a.{apps}"] == ["http://127.0.0.1:20001", "http://127.0.0.1:20002"]
    assert served["shop.example.org"] == served[f"web-team-a.{apps}"]
    assert served[f"web-pr-3-team-a.{apps}"] == ["http://10.1.0.5:20003"]
    for panel_host in (settings.PAAS_DOMAIN, people.workspace_a.hostname,
                       people.workspace_b.hostname):
        assert served[panel_host] == ["http://127.0.0.1:8000"]
    assert all(router["tls"] == {"certResolver": "letsencrypt"}
               for router in configuration["http"]["routers"].values() if "tls" in router)


def test_without_tls_every_router_is_plain_http(people, traefik_settings):
    traefik_settings.SECURE = False
    Route.objects.create(hostname=f"web-team-a.{settings.PAAS_APPS_DOMAIN}",
                         upstream="127.0.0.1:20001", schema_name="ws_team_a", service_id=1)

    configuration = get().json()

    assert not list(jsonschema.Draft7Validator(SCHEMA).iter_errors(configuration))
    routers = configuration["http"]["routers"].values()
    assert routers and all(r["entryPoints"] == ["web"] and "tls" not in r for r in routers)
    assert "redirect-to-https" not in configuration["http"]["middlewares"]


@pytest.mark.parametrize("hostname", [
    "evil.example.com`) || Host(`panel.localhost",
    "evil.example.com`)||PathPrefix(`/",
    "evil.example.com)",
    "evil.example.com\nHost(`x.example.com`)",
    "evil example.com",
    "EVIL.example.com",
])
def test_a_stored_hostname_that_could_inject_a_rule_is_left_out(people, hostname, caplog):
    # Written as an older version, or someone with the database, might have: no checks.
    Route.objects.create(hostname=hostname, upstream="127.0.0.1:20666", schema_name="ws_team_a",
                         service_id=66)
    Route.objects.create(hostname=f"web-team-a.{settings.PAAS_APPS_DOMAIN}",
                         upstream="127.0.0.1:20001", schema_name="ws_team_a", service_id=1)

    with caplog.at_level(logging.WARNING, logger="hosting.traefik"):
        response = get()

    assert response.status_code == 200
    assert b"evil" not in response.content.lower() and b"20666" not in response.content
    assert routes_of(response.json())[f"web-team-a.{settings.PAAS_APPS_DOMAIN}"] == [
        "http://127.0.0.1:20001"]
    assert "left out" in caplog.text


@pytest.mark.parametrize(("configured", "headers"), [
    (TOKEN, {}),  # none sent
    (TOKEN, {"HTTP_AUTHORIZATION": "Bearer wrong"}),
    (TOKEN, {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}x"}),
    (TOKEN, {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"}),
    (TOKEN, {"HTTP_AUTHORIZATION": TOKEN}),
    (TOKEN, {"HTTP_AUTHORIZATION": "Bearer "}),
    (TOKEN, {"HTTP_AUTHORIZATION": "Bearer ünïcode"}),
    ("", {"HTTP_AUTHORIZATION": "Bearer "}),  # no token configured: nothing opens it
    ("", {}),
])
def test_without_the_right_token_nothing_is_served(people, traefik_settings, configured,
                                                   headers, caplog):
    traefik_settings.PAAS_TRAEFIK_TOKEN = configured
    Route.objects.create(hostname=f"web-team-a.{settings.PAAS_APPS_DOMAIN}",
                         upstream="127.0.0.1:20001", schema_name="ws_team_a", service_id=1)

    with caplog.at_level(logging.WARNING, logger="hosting.views"):
        response = Client(HTTP_HOST=settings.PAAS_DOMAIN).get(URL, **headers)

    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthorized",
                                         "message": "A valid bearer token is required."}}
    assert b"web-team-a" not in response.content and "ETag" not in response
    assert "refused" in caplog.text and TOKEN not in caplog.text


def test_the_right_token_opens_it_in_any_case_of_the_scheme(people):
    response = Client(HTTP_HOST=settings.PAAS_DOMAIN).get(
        URL, HTTP_AUTHORIZATION=f"bearer {TOKEN}")

    assert response.status_code == 200


def test_it_is_not_served_on_a_workspace_subdomain(people):
    anonymous = get(host=people.workspace_a.hostname)
    member = Client(HTTP_HOST=people.workspace_a.hostname)
    member.force_login(people.owner)
    signed_in = member.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert anonymous.status_code in (302, 404) and signed_in.status_code == 404
    assert b"routers" not in anonymous.content + signed_in.content


def test_only_get(people):
    response = Client(HTTP_HOST=settings.PAAS_DOMAIN).post(
        URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 405


def test_an_unchanged_configuration_is_not_sent_again(people):
    add_routes(3)
    first = get()
    tag = first["ETag"]

    again = get(HTTP_IF_NONE_MATCH=tag)
    in_a_list = get(HTTP_IF_NONE_MATCH=f'"other", W/{tag}')
    other = get(HTTP_IF_NONE_MATCH='"something-else"')
    Route.objects.filter(hostname__startswith="svc1-").update(upstream="127.0.0.1:20999")
    changed = get(HTTP_IF_NONE_MATCH=tag)

    assert first.status_code == 200 and first["Cache-Control"] == "no-cache"
    assert tag.startswith('"') and tag.endswith('"')
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == tag
    assert in_a_list.status_code == 304
    assert other.status_code == 200 and other.content == first.content
    assert changed.status_code == 200 and changed["ETag"] != tag
    assert b"20999" in changed.content
    # Without a token, no 304 either: an ETag says nothing to whoever may not read it.
    assert get(token=None, HTTP_IF_NONE_MATCH=tag).status_code == 401


@pytest.mark.parametrize("count", [0, 1, 1000])
def test_two_queries_whatever_the_number_of_routes(people, count):
    add_routes(count)

    with CaptureQueriesContext(connection) as queries:
        response = get()

    assert response.status_code == 200
    # The routes and the workspaces' subdomains; django-tenants' SET search_path besides.
    reads = [query["sql"] for query in queries if not query["sql"].startswith("SET ")]
    assert len(reads) == 2, reads
    assert len(queries) <= 4
    served = routes_of(response.json())
    assert len([h for h in served if h.endswith(settings.PAAS_APPS_DOMAIN)]) == count


def test_traefik_reaches_it_on_the_loopback_over_plain_http(people, traefik_settings):
    # As platform/traefik/traefik.yml asks: http://127.0.0.1:8000/traefik/config, with
    # PAAS_EXTRA_HOSTS=127.0.0.1 (platform/panel.env.example) and HTTPS redirects on.
    traefik_settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    traefik_settings.SECURE_SSL_REDIRECT = True

    response = get(host="127.0.0.1:8000")
    page = Client(HTTP_HOST="127.0.0.1:8000").get("/login/")

    assert response.status_code == 200 and "routers" in response.json()["http"]
    assert page.status_code == 301  # the rest still goes to HTTPS
