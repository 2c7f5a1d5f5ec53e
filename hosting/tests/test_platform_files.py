"""The host's files in platform/ agree with the panel: Traefik's static configuration asks
the endpoint the panel serves, as often as the engine's drain expects, with the token the
panel checks, and the example environment names what they need."""

from __future__ import annotations

import string
from urllib.parse import urlsplit

import yaml
from django.urls import reverse

from conftest import BASE_DIR
from hosting import traefik

TRAEFIK_YML = BASE_DIR / "platform" / "traefik" / "traefik.yml"
ENV_EXAMPLE = BASE_DIR / "platform" / "panel.env.example"


def example_env() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and key.isupper() and " " not in key + value, line
            values[key] = value
    return values


def test_traefik_polls_the_panels_endpoint_with_its_token():
    static = yaml.safe_load(TRAEFIK_YML.read_text())
    provider = static["providers"]["http"]
    endpoint = urlsplit(provider["endpoint"])
    env = example_env()

    assert set(static["providers"]) == {"http"}  # no file provider left over
    assert endpoint.path == reverse("traefik_config", urlconf="config.urls_public")
    assert endpoint.hostname in env["PAAS_EXTRA_HOSTS"].split(",")
    assert endpoint.port == int(env["PANEL_PORT"])
    assert urlsplit(env["PAAS_PANEL_UPSTREAM"]).port == int(env["PANEL_PORT"])
    assert provider["pollInterval"] == f"{int(float(env['PAAS_TRAEFIK_POLL_SECONDS']))}s"
    assert provider["headers"] == {"Authorization": "Bearer ${PAAS_TRAEFIK_TOKEN}"}


def test_entrypoints_certificates_and_logs_are_those_the_configuration_names():
    static = yaml.safe_load(TRAEFIK_YML.read_text())

    assert static["entryPoints"][traefik.WEB]["address"] == ":80"
    assert static["entryPoints"][traefik.WEBSECURE]["address"] == ":443"
    acme = static["certificatesResolvers"][traefik.CERT_RESOLVER]["acme"]
    assert acme["storage"] == "/letsencrypt/acme.json"
    assert acme["httpChallenge"] == {"entryPoint": traefik.WEB}
    assert static["api"] == {"dashboard": False} and "accessLog" in static


def test_filled_in_from_the_environment_it_is_still_valid():
    filled = string.Template(TRAEFIK_YML.read_text()).substitute(
        PAAS_TRAEFIK_TOKEN="0123abcd" * 8, ACME_EMAIL="ops@example.com")
    static = yaml.safe_load(filled)

    assert static["providers"]["http"]["headers"]["Authorization"] == "Bearer " + "0123abcd" * 8
    assert static["certificatesResolvers"]["letsencrypt"]["acme"]["email"] == "ops@example.com"


def test_the_example_environment_is_a_production_one():
    env = example_env()

    assert env["DEBUG"] == "0" and env["PAAS_HTTPS"] == "1"
    for required in ("SECRET_KEY", "PAAS_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL",
                     "PAAS_DOMAIN", "PAAS_APPS_DOMAIN", "PAAS_TRAEFIK_TOKEN", "ACME_EMAIL"):
        assert env[required], required
    assert env["PAAS_TRUSTED_PROXY_COUNT"] == "1"
