"""Fixtures of the GitHub tests: a fake GitHub on loopback, with the panel pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

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
