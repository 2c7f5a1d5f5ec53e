"""core.asgihandler: a request's Django work is one call in one thread, reused by the next
request; a plain response is closed (request_finished) before it is sent, a streamed one
after its last part or as soon as the client goes away."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import path

from core.asgihandler import SyncChainASGIHandler

threads: dict[str, int] = {}


def plain(request: HttpRequest) -> HttpResponse:
    threads["view"] = threading.get_ident()
    return HttpResponse(b"plain")


class Stream:
    def __init__(self) -> None:
        self.finished = False

    async def parts(self) -> AsyncIterator[bytes]:
        try:
            for part in (b"one ", b"two ", b"three"):
                yield part
                await asyncio.sleep(0)
        finally:
            self.finished = True


STREAM = Stream()


def streamed(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(STREAM.parts())


urlpatterns = [path("plain/", plain), path("streamed/", streamed)]


def scope(url: str) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": url, "raw_path": url.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", settings.PAAS_DOMAIN.encode())],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}


async def call(handler: SyncChainASGIHandler, url: str, events: list[str],
               disconnect_after_first_part: bool = False) -> bytes:
    """The body `handler` answers to GET url; `events` gets "sent" for each message sent."""
    body = b""
    parts = asyncio.Event()
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop(0)
        if disconnect_after_first_part:
            await parts.wait()
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()  # the client stays
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        nonlocal body
        events.append("sent")
        if message["type"] == "http.response.body" and message.get("body"):
            body += message["body"]
            parts.set()
            await asyncio.sleep(0.05)  # a slow client

    await handler(scope(url), receive, send)
    return body


@pytest.fixture
def served():
    events: list[str] = []

    def started(**kwargs: object) -> None:
        threads["started"] = threading.get_ident()

    def finished(**kwargs: object) -> None:
        threads["finished"] = threading.get_ident()
        events.append("finished")

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        with override_settings(MIDDLEWARE=[], ROOT_URLCONF=__name__):
            yield SyncChainASGIHandler(), events
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
        threads.clear()


async def test_one_thread_per_request_reused_and_closed_before_the_answer_is_sent(served):
    handler, events = served
    assert await call(handler, "/plain/", events) == b"plain"
    assert events == ["finished", "sent", "sent"]
    first = dict(threads)
    assert first["started"] == first["view"] == first["finished"] != threading.get_ident()
    events.clear()
    assert await call(handler, "/plain/", events) == b"plain"
    assert threads["view"] == first["view"]  # the idle thread, not a new one


async def test_a_streamed_response_is_sent_whole_then_closed(served):
    handler, events = served
    STREAM.finished = False
    assert await call(handler, "/streamed/", events) == b"one two three"
    assert STREAM.finished
    assert events[-1] == "finished" and events.count("finished") == 1


async def test_a_streamed_response_stops_when_the_client_goes_away(served):
    handler, events = served
    body = await call(handler, "/streamed/", events, disconnect_after_first_part=True)
    assert body == b"one "
    assert events[-1] == "finished"
