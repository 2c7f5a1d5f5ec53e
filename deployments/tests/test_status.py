"""The deployment status machine: one transition function that refuses illegal moves."""

import itertools

import pytest
from django_tenants.utils import tenant_context

from deployments.models import TRANSITIONS, Deployment, IllegalTransition, Status
from projects.services import create_project, create_service

LEGAL = [(src, dst) for src, targets in TRANSITIONS.items() for dst in targets]
ILLEGAL = [
    (src, dst) for src, dst in itertools.product(Status, Status) if (src, dst) not in LEGAL
]


@pytest.fixture
def service(workspace_a):
    with tenant_context(workspace_a):
        project = create_project("Status machine")
        yield create_service(project.environments.get(), "web")


def make(service, status):
    return Deployment.objects.create(service=service, number=Deployment.objects.count() + 1,
                                     status=status)


def test_pipeline_statuses_and_final_ones():
    assert [s.value for s in Status.FINAL] == [
        "failed", "crashed", "cancelled", "superseded", "removed"]
    for status in Status.FINAL:
        assert TRANSITIONS[status] == frozenset()


@pytest.mark.parametrize(("src", "dst"), LEGAL)
def test_legal_transitions_move_and_are_stored(service, src, dst):
    deployment = make(service, src)
    deployment.transition(dst, reason="because" if dst == Status.FAILED else "")
    deployment.refresh_from_db()
    assert deployment.status == dst
    if dst in Status.FINAL or dst == Status.ACTIVE:
        assert deployment.finished_at is not None
    if dst == Status.FAILED:
        assert deployment.error_reason == "because"


@pytest.mark.parametrize(("src", "dst"), ILLEGAL)
def test_illegal_transitions_are_refused_and_change_nothing(service, src, dst):
    deployment = make(service, src)
    with pytest.raises(IllegalTransition):
        deployment.transition(dst)
    deployment.refresh_from_db()
    assert deployment.status == src


def test_a_stale_copy_cannot_move_a_deployment_another_worker_moved(service):
    deployment = make(service, Status.QUEUED)
    stale = Deployment.objects.get(pk=deployment.pk)
    deployment.transition(Status.CANCELLED)
    with pytest.raises(IllegalTransition):
        stale.transition(Status.BUILDING)
    assert Deployment.objects.get(pk=deployment.pk).status == Status.CANCELLED
