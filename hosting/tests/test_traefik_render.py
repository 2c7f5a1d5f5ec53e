"""Traefik's dynamic configuration as hosting.traefik draws it from routing rows: every
configuration it can produce is valid for Traefik v3 (its JSON schema, kept in
tests/fixtures/), sends each hostname to its own upstreams, and builds rules from checked
hostnames only."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from conftest import FIXTURES
from hosting import traefik
from hosting.traefik import Panel

SCHEMA = json.loads((FIXTURES / "traefik-v3-file-provider.schema.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
PANEL = Panel(domain="panel.example.com", upstream="http://127.0.0.1:8000",
              workspace_hostnames=("team-a.panel.example.com", "team-b.panel.example.com"))
# Rules the renderer may write, and nothing else: one Host of a checked name, or one
# HostRegexp of a label and escaped labels.
HOST_RULE = re.compile(r"Host\(`[a-z0-9.-]+`\)")
REGEXP_RULE = re.compile(r"HostRegexp\(`\^\[a-z0-9\]\(\[a-z0-9-\]\{0,61\}\[a-z0-9\]\)\?"
                         r"(\\\.[a-z0-9\\-]+)+\$`\)")

ONE_SERVICE = [("web-team-a.apps.example.com", "127.0.0.1:20001")]
MANY = [
    *((f"svc{n}-team-a.apps.example.com", f"10.0.0.{n % 5 + 1}:{20000 + n}") for n in range(30)),
    ("api-team-b.apps.example.com", "10.0.0.2:21001,10.0.0.2:21002,10.0.0.3:21003"),
    # custom domains: rows of other hostnames, to the same upstreams as a generated one
    ("shop.example.org", "10.0.0.2:21001,10.0.0.2:21002,10.0.0.3:21003"),
    ("www.shop.example.org", "10.0.0.2:21001,10.0.0.2:21002,10.0.0.3:21003"),
    ("xn--bcher-kva.example", "10.0.0.4:22000"),
    ("ipv6-team-b.apps.example.com", "[2001:db8::7]:22001"),
    ("remote-team-b.apps.example.com", "worker-2.internal.example.net:22002"),
]
PREVIEWS = [
    ("web-team-a.apps.example.com", "127.0.0.1:20001"),
    ("web-pr-12-team-a.apps.example.com", "127.0.0.1:20002"),
    ("web-pr-13-team-a.apps.example.com", "127.0.0.1:20003"),
]
WILDCARD = [
    ("*.shop.example.org", "10.0.0.9:23000"),
    ("eu.shop.example.org", "10.0.0.8:23001"),
]
CASES = {"no routes": [], "one service": ONE_SERVICE, "many services": MANY,
         "previews": PREVIEWS, "wildcard": WILDCARD}


def servers_of(configuration: dict, hostname: str) -> list[str]:
    """The upstream URLs Traefik would send `hostname` to over HTTPS (or HTTP without TLS)."""
    routers = configuration["http"]["routers"]
    services = configuration["http"]["services"]
    wanted = traefik.rule(hostname)
    serving = [router for router in routers.values() if router["rule"] == wanted
               and REDIRECT not in router.get("middlewares", [])]
    assert len(serving) == 1, serving
    return [server["url"] for server in services[serving[0]["service"]]["loadBalancer"]["servers"]]


REDIRECT = traefik.REDIRECT


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
@pytest.mark.parametrize("case", list(CASES))
def test_every_configuration_is_valid_for_traefik(case, tls):
    configuration = traefik.render(CASES[case], PANEL, tls=tls)

    errors = sorted(VALIDATOR.iter_errors(configuration), key=str)
    assert not errors, [error.message for error in errors]
    # What the schema cannot say: every router's service and middlewares exist, every rule
    # is of the two forms, every name is free of Traefik's provider separator.
    http = configuration["http"]
    for router_name, router in http["routers"].items():
        assert router["service"] in http["services"]
        assert set(router.get("middlewares", [])) <= set(http["middlewares"])
        assert HOST_RULE.fullmatch(router["rule"]) or REGEXP_RULE.fullmatch(router["rule"]), \
            router["rule"]
        assert re.fullmatch(r"[a-z0-9-]+", router_name)
        if tls:
            assert router["entryPoints"] in (["websecure"], ["web"])
            if router["entryPoints"] == ["web"]:
                assert router["middlewares"] == [REDIRECT]
            else:
                wildcard = router["rule"].startswith("HostRegexp")
                assert router["tls"]["certResolver"] == (
                    "letsencrypt-dns" if wildcard else "letsencrypt")
        else:
            assert router["entryPoints"] == ["web"] and "tls" not in router
    assert all(re.fullmatch(r"[a-z0-9-]+", name) for name in http["services"])
    # Two routers per hostname with TLS (serve, redirect), one without.
    hostnames = 1 + len(PANEL.workspace_hostnames) + len(CASES[case])
    assert len(http["routers"]) == hostnames * (2 if tls else 1)
    assert len(http["services"]) == 1 + len(CASES[case])


def test_each_hostname_goes_to_its_own_upstreams():
    configuration = traefik.render([*MANY, *PREVIEWS, *WILDCARD], PANEL, tls=True)

    assert servers_of(configuration, "svc7-team-a.apps.example.com") == ["http://10.0.0.3:20007"]
    assert servers_of(configuration, "api-team-b.apps.example.com") == [
        "http://10.0.0.2:21001", "http://10.0.0.2:21002", "http://10.0.0.3:21003"]
    assert servers_of(configuration, "shop.example.org") == servers_of(
        configuration, "api-team-b.apps.example.com")
    assert servers_of(configuration, "web-pr-12-team-a.apps.example.com") == [
        "http://127.0.0.1:20002"]
    assert servers_of(configuration, "ipv6-team-b.apps.example.com") == [
        "http://[2001:db8::7]:22001"]
    assert servers_of(configuration, "remote-team-b.apps.example.com") == [
        "http://worker-2.internal.example.net:22002"]
    assert servers_of(configuration, "*.shop.example.org") == ["http://10.0.0.9:23000"]
    assert servers_of(configuration, "eu.shop.example.org") == ["http://10.0.0.8:23001"]
    for panel_host in ("panel.example.com", "team-a.panel.example.com"):
        assert servers_of(configuration, panel_host) == ["http://127.0.0.1:8000"]


def test_the_panel_gets_security_headers_and_apps_none():
    routers = traefik.render(ONE_SERVICE, PANEL, tls=True)["http"]["routers"]
    middlewares = traefik.render(ONE_SERVICE, PANEL, tls=True)["http"]["middlewares"]

    secure = {name: router for name, router in routers.items()
              if router["entryPoints"] == ["websecure"]}
    assert {name for name, router in secure.items() if router.get("middlewares")} == {
        name for name in secure if name.startswith("panel-")}
    assert all(router["middlewares"] == [traefik.PANEL_HEADERS]
               for name, router in secure.items() if name.startswith("panel-"))
    headers = middlewares[traefik.PANEL_HEADERS]["headers"]
    assert headers["frameDeny"] and headers["contentTypeNosniff"]
    assert headers["stsSeconds"] >= 31536000 and headers["referrerPolicy"] == "same-origin"
    assert middlewares[REDIRECT] == {"redirectScheme": {"scheme": "https", "permanent": True}}
    # Without TLS: no HSTS (a browser would then refuse the plain-HTTP panel), no redirect.
    plain = traefik.render(ONE_SERVICE, PANEL, tls=False)["http"]["middlewares"]
    assert "stsSeconds" not in plain[traefik.PANEL_HEADERS]["headers"] and REDIRECT not in plain


def test_a_wildcard_matches_one_label_and_yields_to_exact_names():
    routers = traefik.render(WILDCARD, PANEL, tls=True)["http"]["routers"]
    wildcard = next(r for r in routers.values() if r["rule"].startswith("HostRegexp"))
    exact = next(r for r in routers.values() if r["rule"] == "Host(`eu.shop.example.org`)")

    pattern = re.search(r"`(.*)`", wildcard["rule"]).group(1)
    assert re.fullmatch(pattern, "eu.shop.example.org")
    assert re.fullmatch(pattern, "a-1.shop.example.org")
    assert not re.fullmatch(pattern, "shop.example.org")
    assert not re.fullmatch(pattern, "a.b.shop.example.org")
    assert not re.fullmatch(pattern, "eu.shopxexample.org")  # dots are escaped
    assert wildcard["priority"] == traefik.WILDCARD_PRIORITY
    assert "priority" not in exact  # its rule's length, which is more
    assert len(exact["rule"]) > traefik.WILDCARD_PRIORITY
    assert wildcard["tls"] == {"certResolver": "letsencrypt-dns",  # no HTTP challenge
                               "domains": [{"main": "*.shop.example.org"}]}


@pytest.mark.parametrize("hostname", [
    "evil.example.com`) || Host(`panel.example.com",
    "evil.example.com`)||PathPrefix(`/",
    "evil.example.com)",
    "evil.example.com\nHost(`x.example.com`)",
    "evil .example.com",
    " evil.example.com",
    "Evil.Example.com",
    "evil.example.com.",
    "*.*.example.com",
    "ev*l.example.com",
    "127.0.0.1",
    "localhost",
    "",
    "a" * 64 + ".example.com",
    "bücher.example",
    "evil_1.example.com",
])
def test_a_row_that_is_not_a_checked_hostname_is_left_out(hostname, caplog):
    rows = [(hostname, "127.0.0.1:20009"), *ONE_SERVICE]

    configuration = traefik.render(rows, PANEL, tls=True)

    text = json.dumps(configuration)
    assert "evil" not in text and "20009" not in text
    assert servers_of(configuration, "web-team-a.apps.example.com") == ["http://127.0.0.1:20001"]
    assert "left out" in caplog.text


@pytest.mark.parametrize("upstream", [
    "", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80/evil",
    "http://127.0.0.1:80", "127.0.0.1:20001,", "127.0.0.1:20001, evil`:1", "[::1:20001",
    "[not:an:address]:20001", "user@127.0.0.1:20001", "127.0.0.1:20001#x", None,
])
def test_a_row_whose_upstream_is_not_address_and_port_is_left_out(upstream, caplog):
    configuration = traefik.render([("bad-team-a.apps.example.com", upstream), *ONE_SERVICE],
                                   PANEL, tls=False)

    assert "bad-team-a" not in json.dumps(configuration)
    assert servers_of(configuration, "web-team-a.apps.example.com") == ["http://127.0.0.1:20001"]
    assert "left out" in caplog.text


@pytest.mark.parametrize("hostname", [
    "panel.example.com", "team-a.panel.example.com", "new.panel.example.com",
    "*.panel.example.com", "*.example.com",
])
def test_a_route_on_the_panels_domain_is_left_out(hostname):
    configuration = traefik.render([(hostname, "127.0.0.1:20009")], PANEL, tls=True)

    assert "20009" not in json.dumps(configuration)
    if not hostname.startswith("*"):
        assert servers_of(configuration, "panel.example.com") == ["http://127.0.0.1:8000"]


def test_the_same_rows_give_the_same_bytes_and_names_stay_unique():
    rows = [*MANY, *PREVIEWS, *WILDCARD]
    first = traefik.dumps(traefik.render(rows, PANEL, tls=True))
    again = traefik.dumps(traefik.render(list(reversed(rows)), PANEL, tls=True))

    assert first == again and traefik.etag(first) == traefik.etag(again)
    # Hostnames that read alike get names of their own.
    names = {traefik.name("app", h) for h in ("a-b.example.com", "a.b-example.com",
                                               "a.b.example.com", "*.b.example.com")}
    assert len(names) == 4
    long_name = traefik.name("app", ("a" * 60 + ".") * 4 + "example.com")
    assert len(long_name) < 64


def test_a_row_left_out_is_logged_once_not_at_every_poll(caplog):
    rows = [("evil.example.com`)", "127.0.0.1:20009"), *ONE_SERVICE]

    for _ in range(3):
        traefik.render(rows, PANEL, tls=True)

    assert caplog.text.count("left out") == 1
