"""The API's log sockets (api/consumers.py) through the whole ASGI application (origin check,
workspace host, token, Channels with the real Redis layer): who may open them with a token,
JSON frames of lines in order and once, across a reconnection, the build/runtime choice, the
service's stream, and a token revoked or a member removed while the socket streams."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from api.models import ApiToken
from api.tokens import create_token
from config.asgi import application
from deployments.consumers import (
    CLOSE_BAD_MESSAGE,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
)
from deployments.models import Deployment, Status
from deployments.tests import test_log_consumers as page_sockets
from tenants.models import Membership, User
from tenants.roles import Role

world = page_sockets.world  # workspace A's services and deployments, and one of B
awrite, session_cookie = page_sockets.awrite, page_sockets.session_cookie
LINE_FIELDS = {"deployment", "sequence", "stream", "phase", "timestamp", "text", "level"}


@pytest.fixture
def tokens(world):
    """tokens(user, workspace=A, days=30): a token; all of them deleted after the test."""
    made = []

    def make(user, workspace=None, days=30):
        row, token = create_token(workspace or world["people"].workspace_a, user, "ws", days)
        made.append(row.pk)
        return token

    yield make
    ApiToken.objects.filter(pk__in=made).delete()


def deployment_path(deployment) -> str:
    return f"/api/v1/ws/deployments/{deployment.pk}/logs/"


def service_path(service_id) -> str:
    return f"/api/v1/ws/services/{service_id}/logs/"


async def open_socket(path, workspace, token=None, *, host=None, origin=None, cookie=None):
    """(whether the handshake succeeded, the communicator)."""
    headers = [(b"host", (host or workspace.hostname).encode())]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return connected, communicator


async def opened(path, workspace, token, **kwargs):
    """An open socket, and its first frame (the status)."""
    connected, communicator = await open_socket(path, workspace, token, **kwargs)
    assert connected
    first = json.loads(await communicator.receive_from(timeout=5))
    assert first["type"] == "status", first
    return communicator, first


async def closed_with(communicator, timeout=5) -> int | None:
    message = await communicator.receive_output(timeout=timeout)
    assert message["type"] == "websocket.close", message
    return message.get("code")


async def lines_until(communicator, last: int, timeout: float = 10) -> list[dict]:
    """The lines received until the one with sequence `last` (status frames skipped)."""
    lines: list[dict] = []
    async with asyncio.timeout(timeout):
        while not lines or lines[-1]["sequence"] != last:
            frame = json.loads(await communicator.receive_from())
            if frame["type"] == "lines":
                lines += frame["lines"]
    return lines


def resume(after=None, **fields) -> str:
    return json.dumps({"type": "resume", "after": after or {}, **fields})


async def test_a_member_token_follows_a_log_as_json_lines_in_order(world, tokens):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    await awrite(a, web, [f"line {n}" for n in range(1, 11)])
    for user in (people.owner, people.admin, people.member):
        token = await sync_to_async(tokens)(user)
        communicator, status = await opened(deployment_path(web), a, token)
        assert status["deployment"]["id"] == web.pk
        assert status["deployment"]["status"] == "active" and status["last_sequence"] == 10
        await communicator.send_to(resume({str(web.pk): 4}))
        lines = await lines_until(communicator, 10)
        assert [line["sequence"] for line in lines] == list(range(5, 11))
        assert [line["text"] for line in lines] == [f"line {n}" for n in range(5, 11)]
        await communicator.disconnect()

    # The lines are those the REST API gives, field for field.
    def rest_lines():
        client = Client(HTTP_HOST=a.hostname, HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.get(f"/api/v1/services/{web.service_id}/logs/",
                          {"deployment": web.pk, "after": 4}).json()["lines"]

    assert lines == await sync_to_async(rest_lines)()
    assert set(lines[0]) == LINE_FIELDS

    communicator, _ = await opened(deployment_path(web), a, token)
    await communicator.send_to(resume({str(web.pk): 10}))
    for batch in range(3):
        await awrite(a, web, [f"live {batch}-{n}" for n in range(5)])
    lines = await lines_until(communicator, 25)
    assert [line["sequence"] for line in lines] == list(range(11, 26))
    await awrite(a, world["worker"], ["another deployment's"])
    assert await communicator.receive_nothing(timeout=1.5)
    await communicator.disconnect()


async def test_sockets_without_a_token_that_opens_this_workspace_are_refused(world, tokens):
    people, web = world["people"], world["web"]
    a, b = people.workspace_a, people.workspace_b
    make = sync_to_async(tokens)
    expired, revoked = await make(people.member), await make(people.member)

    def spoil():
        ApiToken.objects.filter(prefix=expired[:11]).update(
            expires_at=timezone.now() - timedelta(seconds=1))
        ApiToken.objects.get(prefix=revoked[:11]).revoke()

    await sync_to_async(spoil)()
    of_b = await make(people.outsider, b)
    # A token made for A whose user is not (any more) a member of A.
    outsider_on_a = await make(people.outsider, a)
    cookie = await sync_to_async(session_cookie)(people.member)
    member = await make(people.member)
    refusals = [
        (deployment_path(web), a, None, {}, CLOSE_UNAUTHENTICATED),
        (deployment_path(web), a, "paas_not-a-token", {}, CLOSE_UNAUTHENTICATED),
        (deployment_path(web), a, "not even the prefix", {}, CLOSE_UNAUTHENTICATED),
        (deployment_path(web), a, expired, {}, CLOSE_UNAUTHENTICATED),
        (deployment_path(web), a, revoked, {}, CLOSE_UNAUTHENTICATED),
        (deployment_path(web), a, of_b, {}, CLOSE_UNAUTHENTICATED),
        (deployment_path(web), a, outsider_on_a, {}, CLOSE_UNAUTHENTICATED),
        # A token of A on B's host, for B's deployment: not this workspace's token.
        (deployment_path(world["other"]), b, member, {}, CLOSE_UNAUTHENTICATED),
        # The browser's session opens no API socket (a cross-site page could borrow it).
        (deployment_path(web), a, None, {"cookie": cookie, "origin": f"http://{a.hostname}"},
         CLOSE_UNAUTHENTICATED),
        # B's deployment asked on A's host with A's token: not found, whatever the id.
        (deployment_path(world["other"]), a, member, {}, CLOSE_NOT_FOUND),
        (service_path(world["other"].service_id), a, member, {}, CLOSE_NOT_FOUND),
        (service_path(web.service_id), a, of_b, {}, CLOSE_UNAUTHENTICATED),
        (deployment_path(web), a, member, {"host": "nowhere.panel.localhost"},
         CLOSE_NOT_FOUND),
    ]
    for path, workspace, token, extra, code in refusals:
        connected, communicator = await open_socket(path, workspace, token, **extra)
        assert connected, (path, token, extra)
        assert await closed_with(communicator) == code, (path, token, extra)


async def test_the_origin_a_client_outside_a_browser_sends_or_not(world, tokens):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    token = await sync_to_async(tokens)(people.member)
    # No Origin (the CLI) and the panel's own origin open the socket.
    for origin in (None, f"http://{a.hostname}"):
        communicator, _ = await opened(deployment_path(web), a, token, origin=origin)
        await communicator.disconnect()
    # Another site's origin is refused at the handshake, token or not.
    connected, _ = await open_socket(deployment_path(web), a, token,
                                     origin="https://evil.example")
    assert not connected
    # A path no route serves, under the API's prefix: refused at the handshake.
    connected, _ = await open_socket("/api/v1/ws/nope/", a, token)
    assert not connected
    # The pages' sockets are unchanged: no Origin, no socket, whatever the headers.
    connected, _ = await open_socket(f"/ws/deployments/{web.pk}/logs/", a, token)
    assert not connected


async def test_a_reconnection_with_resume_loses_and_repeats_nothing(world, tokens):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    token = await sync_to_async(tokens)(people.member)
    communicator, _ = await opened(deployment_path(web), a, token)
    await communicator.send_to(resume({}))
    await awrite(a, web, [f"first {n}" for n in range(10)])
    received = await lines_until(communicator, 10)
    await communicator.disconnect()
    await awrite(a, web, [f"while away {n}" for n in range(10)])  # published to no one

    communicator, _ = await opened(deployment_path(web), a, token)
    await communicator.send_to(resume({str(web.pk): received[-1]["sequence"]}))
    received += await lines_until(communicator, 20)
    await awrite(a, web, [f"after {n}" for n in range(5)])
    received += await lines_until(communicator, 25)
    assert [line["sequence"] for line in received] == list(range(1, 26))
    assert received[10]["text"] == "while away 0" and received[20]["text"] == "after 0"
    await communicator.disconnect()


async def test_build_chooses_build_and_deploy_lines_or_runtime_lines(world, tokens):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    token = await sync_to_async(tokens)(people.member)
    await awrite(a, web, ["npm ci"], stream="build")
    await awrite(a, web, ["listening"], stream="stdout")
    await awrite(a, web, ["health check passed"], stream="deploy")
    await awrite(a, web, ["oops"], stream="stderr")
    streams = ["build", "stdout", "deploy", "stderr"]  # of sequence 1, 2, …
    for build, wanted in ((True, {"build", "deploy"}), (False, {"stdout", "stderr"}),
                          (None, {"build", "deploy", "stdout", "stderr"})):
        communicator, _ = await opened(deployment_path(web), a, token)
        await communicator.send_to(resume({}, build=build))
        expected = [n for n, stream in enumerate(streams, 1) if stream in wanted]
        lines = await lines_until(communicator, expected[-1])
        assert [line["sequence"] for line in lines] == expected
        assert {line["stream"] for line in lines} == wanted
        await awrite(a, web, ["more output"], stream="stdout")
        streams.append("stdout")
        if build is True:
            assert await communicator.receive_nothing(timeout=1.5)
        else:
            live = json.loads(await communicator.receive_from(timeout=5))
            assert live["lines"][0]["text"] == "more output"
        await communicator.disconnect()
    communicator, _ = await opened(deployment_path(web), a, token)
    await communicator.send_to(resume({}, build="yes"))
    assert await closed_with(communicator) == CLOSE_BAD_MESSAGE
    # The service's socket takes no `build`: it is runtime lines only.
    communicator, _ = await opened(service_path(web.service_id), a, token)
    await communicator.send_to(resume({}, build=True))
    assert await closed_with(communicator) == CLOSE_BAD_MESSAGE


async def test_a_status_frame_follows_the_deployment(world, tokens):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    token = await sync_to_async(tokens)(people.member)

    def queue():
        with tenant_context(a):
            return Deployment.objects.create(service=web.service, number=2)

    deployment = await sync_to_async(queue)()
    communicator, status = await opened(deployment_path(deployment), a, token)
    assert status["deployment"]["status"] == "queued" and status["deployment"]["number"] == 2
    await communicator.send_to(resume({}))

    def move(to):
        with tenant_context(a):
            Deployment.objects.get(pk=deployment.pk).transition(to)

    await sync_to_async(move)(Status.BUILDING)
    await awrite(a, deployment, ["building"], stream="build")
    frames = [json.loads(await communicator.receive_from(timeout=5)) for _ in range(2)]
    assert {frame["type"] for frame in frames} == {"status", "lines"}
    assert next(f for f in frames if f["type"] == "status")["deployment"]["status"] == "building"
    await sync_to_async(move)(Status.FAILED)
    frame = json.loads(await communicator.receive_from(timeout=5))
    assert frame["deployment"]["status"] == "failed" and frame["last_sequence"] == 1
    await communicator.disconnect()


async def test_a_service_socket_starts_from_now_and_follows_new_deployments(world, tokens):
    people, web, worker = world["people"], world["web"], world["worker"]
    a = people.workspace_a
    token = await sync_to_async(tokens)(people.member)
    await awrite(a, web, ["before", "the socket"])
    communicator, status = await opened(service_path(web.service_id), a, token)
    assert status["service"]["name"] == "web" and status["deployment"]["id"] == web.pk
    assert status["cursors"] == {str(web.pk): 2}
    await communicator.send_to(resume(status["cursors"]))
    assert await communicator.receive_nothing(timeout=1.5)  # from now: nothing old

    def redeploy():
        with tenant_context(a):
            deployment = Deployment.objects.create(service=web.service, number=2)
            deployment.transition(Status.BUILDING)
            deployment.transition(Status.DEPLOYING)
            return deployment

    await awrite(a, web, ["still running"])
    second = await sync_to_async(redeploy)()
    await awrite(a, second, ["built"], stream="build")  # not runtime: not here
    await awrite(a, second, ["the new one listening"])
    await awrite(a, worker, ["another service's"])
    received = []
    async with asyncio.timeout(10):
        while len(received) < 2:
            frame = json.loads(await communicator.receive_from())
            if frame["type"] == "lines":
                received += frame["lines"]
            else:  # the service's status again, as its deployments move; no cursors
                assert "cursors" not in frame
    assert [(line["deployment"], line["sequence"], line["text"]) for line in received] == [
        (web.pk, 3, "still running"), (second.pk, 2, "the new one listening")]
    await communicator.disconnect()


async def test_a_revoked_token_is_cut_off_while_streaming_and_while_quiet(world, tokens):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    token = await sync_to_async(tokens)(people.member)
    communicator, _ = await opened(deployment_path(web), a, token)
    await communicator.send_to(resume({}))
    await awrite(a, web, ["seen"])
    assert [line["text"] for line in await lines_until(communicator, 1)] == ["seen"]
    await sync_to_async(lambda: ApiToken.objects.get(prefix=token[:11]).revoke())()
    await asyncio.sleep(1.2)  # past the second an answer of the check holds
    await awrite(a, web, ["not for a revoked token"])
    assert await closed_with(communicator) == CLOSE_UNAUTHENTICATED

    # Nothing streams: the socket is closed all the same, within IDLE_RECHECK_SECONDS.
    token = await sync_to_async(tokens)(people.member)
    communicator, _ = await opened(deployment_path(web), a, token)
    await communicator.send_to(resume({str(web.pk): 2}))
    await sync_to_async(lambda: ApiToken.objects.filter(prefix=token[:11]).update(
        expires_at=timezone.now()))()
    assert await closed_with(communicator, timeout=8) == CLOSE_UNAUTHENTICATED


async def test_a_member_removed_while_streaming_is_cut_off(world, tokens):
    people, web = world["people"], world["web"]
    a = people.workspace_a

    def join():
        user = User.objects.create_user("leaving@a.example", "x" * 20, name="Lee Leaving")
        Membership.objects.create(workspace=a, user=user, role=Role.MEMBER)
        return user

    user = await sync_to_async(join)()
    try:
        token = await sync_to_async(tokens)(user)
        communicator, _ = await opened(service_path(web.service_id), a, token)
        await communicator.send_to(resume({}))
        await awrite(a, web, ["seen"])
        assert [line["text"] for line in await lines_until(communicator, 1)] == ["seen"]
        await sync_to_async(lambda: Membership.objects.filter(user=user).delete())()
        await asyncio.sleep(1.2)
        await awrite(a, web, ["not for a former member"])
        assert await closed_with(communicator) == CLOSE_NOT_FOUND
    finally:
        await sync_to_async(user.delete)()
