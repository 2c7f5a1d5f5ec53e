"""The deployment page as a member sees it: status, trigger, commit, timings, why it failed
or crashed, and its stored log in order, under a heading per phase."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from deployments import logstore
from deployments.models import Deployment, LogLine, Phase, Status, Stream, Trigger
from deployments.tests.test_views import HX, SHA, button, make, section
from projects.models import Service
from projects.services import create_project, create_service


@pytest.fixture
def service(people) -> Service:
    with tenant_context(people.workspace_a):
        environment = create_project("Shop").environments.get()
        return create_service(environment, "web", repository_url="https://github.com/acme/web.git")


def add_log(people, deployment: Deployment, lines: list[tuple[int, Phase, str]]) -> None:
    """Rows with the sequence numbers given (in the order given), as the store keeps them."""
    with tenant_context(people.workspace_a):
        expires_on = logstore.expiry_day(timezone.now(), 7)
        logstore.create_partition(expires_on)
        LogLine.objects.bulk_create([
            LogLine(deployment=deployment, service_id=deployment.service_id, sequence=sequence,
                    phase=phase, text=text, expires_on=expires_on,
                    stream=Stream.STDOUT if phase == Phase.RUNTIME else Stream.BUILD)
            for sequence, phase, text in lines
        ])


def log_texts(html: str) -> list[str]:
    return re.findall(r"data-log-text>(.*?)</span></div>", html, re.S)


def test_the_deployment_page_shows_what_happened_and_the_log_in_order(
        people, client_for, service):
    deployment = make(
        people, service, 7, Status.FAILED, commit_sha=SHA, trigger=Trigger.MANUAL,
        triggered_by="admin@a.example", commit_message="Add health route\n\nDetails.",
        commit_author="Ada Lovelace <ada@example.com>",
        error_reason="Health check timed out after 60 s: port 20011: no answer",
        timings={"health": 60.2, "fetch": 1.5, "build": 42.0},
    )
    # Stored out of order: the page orders by sequence.
    add_log(people, deployment, [
        (3, Phase.BUILD, "added 212 packages"),
        (1, Phase.FETCH, "Cloning https://github.com/acme/web.git"),
        (4, Phase.HEALTH, "waiting for / on port 20011"),
        (2, Phase.BUILD, "\x1b[32mnpm ci\x1b[0m"),
        (5, Phase.HEALTH, "<script>alert(1)</script>"),
    ])
    html = client_for(people.member, people.workspace_a).get(
        f"/deployments/{deployment.pk}/").content.decode()

    assert re.search(r"Deployment <span[^>]*>#7</span>", html)
    assert 'data-status="failed"' in section(html, "deployment-summary")[:3000]
    assert 'role="alert" data-testid="error-reason"' in html  # shown as an alert
    assert "Health check timed out after 60 s" in section(html, "error-reason")
    assert 'data-testid="triggered-by">admin@a.example<' in html and "Manual" in html
    assert 'data-testid="commit-sha">3f2a9c4<' in html
    assert 'data-testid="commit-message">Add health route<' in html
    assert "Ada Lovelace" in html
    assert 'data-testid="duration">1m 44s<' in html  # the phases' sum
    assert re.findall(r'data-phase-timing="(\w+)"', html) == ["fetch", "build", "health"]
    assert "42s" in html and "1.5s" in html
    # The bar: one segment per phase, in order, each as wide as its share (103.7 s in all).
    bar = section(html, "timing-bar").split("</svg>")[0]
    assert re.findall(r'<rect x="([\d.]+)" width="([\d.]+)"', bar) == [
        ("0.0", "1.4"), ("1.4", "40.5"), ("41.9", "58.1")]

    assert log_texts(html) == [
        "Cloning https://github.com/acme/web.git", '<span class="ansi-fg-2">npm ci</span>',
        "added 212 packages",
        "waiting for / on port 20011", "&lt;script&gt;alert(1)&lt;/script&gt;",
    ]
    assert re.findall(r'data-phase-heading="(\w+)"', html) == ["fetch", "build", "health"]
    assert re.findall(r'data-sequence="(\d+)" data-phase="(\w+)"', html) == [
        ("1", "fetch"), ("2", "build"), ("3", "build"), ("4", "health"), ("5", "health")]
    assert "<script>alert(1)</script>" not in html


def test_a_running_deployment_page_follows_it_over_its_socket(people, client_for, service):
    deployment = make(people, service, 1, Status.BUILDING)
    client = client_for(people.member, people.workspace_a)
    html = client.get(f"/deployments/{deployment.pk}/").content.decode()
    # No polling: the log's socket sends lines and the summary again as the deployment moves.
    assert "hx-trigger" not in html and "Waiting for output" in html
    assert f'ws-connect="/ws/deployments/{deployment.pk}/logs/"' in html
    assert button(html, "cancel") and not button(html, "rollback")
    summary = client.get(f"/deployments/{deployment.pk}/", HTTP_HX_TARGET="deployment-summary",
                         **HX).content.decode()
    assert "<html" not in summary and 'id="deployment-summary"' in summary
    assert 'data-testid="log"' not in summary

    html = client.post(f"/deployments/{deployment.pk}/cancel/",
                       HTTP_HX_TARGET="deployment-summary", **HX).content.decode()
    assert 'id="deployment-summary"' in html and "Cancelling deployment #1." in html
    assert "disabled" in button(html, "cancel")


def test_a_crashed_deployment_says_so(people, client_for, service):
    crashed = make(people, service, 2, Status.CRASHED, commit_sha=SHA,
                   error_reason="Restarted 4 times in 120 s")
    html = client_for(people.owner, people.workspace_a).get(
        f"/deployments/{crashed.pk}/").content.decode()
    error = section(html, "error-reason")
    assert "The deployment crashed" in error and "Restarted 4 times in 120 s" in error
    assert "No output was recorded." in html and not button(html, "cancel")


def test_the_duration_is_the_runs_total_and_the_bar_only_shows_phases(
        people, client_for, service):
    # What the engine records: the phases, the wait in the queue, and the whole run.
    deployment = make(people, service, 3, Status.ACTIVE, commit_sha=SHA, timings={
        "queued": 0.4, "fetch": 0.1, "build": 12.0, "start": 0.2, "health": 0.5,
        "switch": 0.1, "total": 13.0,
    })
    html = client_for(people.member, people.workspace_a).get(
        f"/deployments/{deployment.pk}/").content.decode()
    assert 'data-testid="duration">13s<' in html, "the total counted twice, or the queue"
    assert re.findall(r'data-phase-timing="(\w+)"', html) == [
        "fetch", "build", "start", "health", "switch"]
