"""Fixtures of the GitHub tests: a fake GitHub on loopback, with the panel pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from conftest import free_port, start_panel
from github.tests.fake_github import FakeGitHub


@pytest.fixture
def fake_github(settings: settings) -> Iterator[FakeGitHub]:
    """A fresh fake GitHub; GITHUB_URL, GITHUB_API_URL and the OAuth app's credentials point
    the panel at it for the test."""
    fake = FakeGitHub().start()
    settings.GITHUB_URL = fake.url
    settings.GITHUB_API_URL = fake.api_url
    settings.GITHUB_CLIENT_ID = settings.SOCIAL_AUTH_GITHUB_KEY = fake.client_id
    settings.GITHUB_CLIENT_SECRET = settings.SOCIAL_AUTH_GITHUB_SECRET = fake.client_secret
    try:
        yield fake
    finally:
        fake.stop()


def github_env(fake: FakeGitHub) -> dict[str, str]:
    """The environment that points a panel process at `fake`."""
    return {"GITHUB_URL": fake.url, "GITHUB_API_URL": fake.api_url,
            "GITHUB_CLIENT_ID": fake.client_id, "GITHUB_CLIENT_SECRET": fake.client_secret}


@pytest.fixture
def github_panel(committed_db: object, fake_github: FakeGitHub) -> Iterator[str]:
    """The panel under uvicorn, pointed at the fake GitHub; yields its root URL."""
    port = free_port()
    process = start_panel(port, **github_env(fake_github),
                          PAAS_PANEL_URL=f"http://{settings.PAAS_DOMAIN}:{port}")
    try:
        yield f"http://{settings.PAAS_DOMAIN}:{port}"
    finally:
        process.terminate()
        process.wait(10)
