"""The drain after a switch: behind Traefik, which reads the routing table every
PAAS_TRAEFIK_POLL_SECONDS, the replaced deployment keeps serving until Traefik has read the
new route, and then PAAS_DRAIN_SECONDS for the requests in flight, so a redeploy through
Traefik loses no request."""

from __future__ import annotations

import pytest

from deployments import routes, tasks


@pytest.mark.parametrize(("poll", "drain"), [(5, 10), (5, 1), (5, 0), (15, 2), (1, 30)])
def test_the_old_deployment_serves_past_traefiks_next_poll(settings, poll, drain):
    settings.PAAS_TRAEFIK_POLL_SECONDS, settings.PAAS_DRAIN_SECONDS = poll, drain

    seconds = routes.drain_seconds()

    # A poll that just missed the switch, Traefik's throttle before it applies the change,
    # then the drain itself.
    assert seconds >= poll + routes.TRAEFIK_APPLY_MARGIN_SECONDS + drain
    assert routes.TRAEFIK_APPLY_MARGIN_SECONDS >= 2  # Traefik's providersThrottleDuration


def test_without_traefik_the_drain_is_the_setting(settings):
    settings.PAAS_TRAEFIK_POLL_SECONDS, settings.PAAS_DRAIN_SECONDS = 0, 1

    assert routes.drain_seconds() == 1


def test_the_stop_of_the_superseded_deployment_waits_for_the_whole_drain(settings,
                                                                         monkeypatch):
    settings.PAAS_TRAEFIK_POLL_SECONDS, settings.PAAS_DRAIN_SECONDS = 5, 1
    sent = []
    monkeypatch.setattr(tasks.stop_deployment, "send_with_options",
                        lambda **options: sent.append(options))

    tasks.stop_after_drain(42)
    tasks.stop_after_drain(None)

    assert sent == [{"args": (42,), "delay": int((5 + routes.TRAEFIK_APPLY_MARGIN_SECONDS + 1)
                                                 * 1000)}]
    assert sent[0]["delay"] >= (5 + 2) * 1000

