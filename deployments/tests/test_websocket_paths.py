"""WebSockets to paths no route serves are refused at the handshake (HTTP 403 from the
server), not answered with a crash, while the known route still opens for a member."""

import logging

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application


def session_cookie(user) -> str:
    client = Client(HTTP_HOST="panel.localhost")
    client.force_login(user)
    return client.cookies["sessionid"].value


def handshake(path: str, host: str, cookie: str) -> tuple[bool, object]:
    """(connected, close code or subprotocol) of a WebSocket to `path` on `host`.

    Run with async_to_sync, so that the database calls of the consumers run in this thread,
    inside the test's transaction."""

    async def attempt() -> tuple[bool, object]:
        communicator = WebsocketCommunicator(application, path, headers=[
            (b"host", host.encode()), (b"origin", f"http://{host}".encode()),
            (b"cookie", f"sessionid={cookie}".encode()),
        ])
        connected, detail = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, detail

    return async_to_sync(attempt)()


@pytest.mark.parametrize("path", [
    "/ws/nope/", "/../", "/ws/events/../", "/ws/events/extra/", "/ws/events", "/",
    "/ws/" + "a" * 5000,
])
def test_an_unknown_path_is_refused_quietly(people, path, caplog):
    cookie = session_cookie(people.member)
    with caplog.at_level(logging.INFO):
        connected, code = handshake(path, people.workspace_a.hostname, cookie)
    assert connected is False
    assert code == 1000  # a close before accept: the server answers the handshake with 403
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_the_events_route_still_opens_for_a_member(people):
    connected, _ = handshake("/ws/events/", people.workspace_a.hostname,
                             session_cookie(people.member))
    assert connected is True

