"""Fixtures of the hosting tests."""

from __future__ import annotations

import pytest

from hosting import traefik


@pytest.fixture(autouse=True)
def traefik_logs_afresh() -> None:
    """hosting.traefik logs a row it leaves out once per process: once per test here."""
    traefik._LOGGED.clear()  # noqa: SLF001 - the tests' own reset
