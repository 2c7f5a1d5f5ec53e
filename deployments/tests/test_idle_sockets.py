"""A page that waits: its log socket stays open through quiet spells longer than the channel
layer's blocking read (channels-redis waits BRPOP_TIMEOUT seconds for a message, then asks
again), and the next line reaches it."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.db import connection
from django_tenants.utils import tenant_context

from deployments.models import Deployment, Status
from deployments.tests.test_log_consumers import awrite, connect, resume, sequences_until
from projects.services import create_project, create_service


@pytest.fixture
def quiet(committed_db):
    people = committed_db
    with tenant_context(people.workspace_a):
        project = create_project("Quiet")
        service = create_service(project.environments.get(), "web")
        deployment = Deployment.objects.create(service=service, number=1, status=Status.ACTIVE)
    yield people, deployment
    with tenant_context(people.workspace_a):
        project.delete()
    connection.set_schema_to_public()


async def test_a_log_page_quiet_for_longer_than_a_blocking_read_still_gets_the_next_line(quiet):
    people, deployment = quiet
    a = people.workspace_a
    communicator = await connect(f"/ws/deployments/{deployment.pk}/logs/", people.member, a)
    await communicator.send_to(resume({str(deployment.pk): 0}))
    # Two blocking reads of the layer and then some, with nothing to read.
    await asyncio.sleep(2 * get_channel_layer().brpop_timeout + 1)
    await awrite(a, deployment, ["after the quiet"])
    assert await sequences_until(communicator, 1) == [1]
    await communicator.disconnect()
