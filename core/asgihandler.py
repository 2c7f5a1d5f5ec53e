"""Django's ASGI handler, with each request's Django work run as one synchronous call in a
thread reused from request to request.

Django's own handler builds the middleware chain for async mode. The panel's middleware and
views are all synchronous, so a request crossed between the event loop and its thread about
eight times: around the panel's own middleware and the view, for each process_request /
process_response of the innermost middleware that can run async (messages, clickjacking,
htmx), for request_started and for closing the response; each crossing waits for a busy
loop's turn. Here the chain is built for sync mode, as under WSGI, and one call in the
request's thread sends request_started, runs the middleware and the view and, for a response
that is not streamed, closes it (request_finished: the database connection goes back to its
pool before the answer is sent). A streamed response is sent and closed as Django does,
stopping when the client goes away. Async views would still work: the sync chain calls them
through async_to_sync.

Django also starts a new thread for each request (and another to join it); here an idle one
is reused, as a WSGI server's threads are, which also keeps a connection kept for reuse
(CONN_MAX_AGE, without the pool) in a thread that lives on instead of piling up. A request
still has its thread to itself while it runs: its database connection, django-tenants'
schema and the urlconf are the thread's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import IO, Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# Idle request threads kept beyond this many are stopped (their connections closed first).
MAX_IDLE_THREADS = 64


class ResponseSent(Exception):
    pass


class SyncChainASGIHandler(ASGIHandler):
    """An ASGIHandler whose middleware chain is synchronous, called once per request."""

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        try:
            # Every thread-sensitive call of the request runs in this executor's one thread,
            # and no other request's meanwhile.
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self._release(executor)

    def _release(self, executor: ThreadPoolExecutor) -> None:
        if len(self._idle) < MAX_IDLE_THREADS:
            self._idle.append(executor)
            return
        executor.submit(connections.close_all)
        executor.shutdown(wait=False)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGIHandler.handle, with the request's Django work in one call (see above)."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            response = await sync_to_async(self.respond, thread_sensitive=True)(scope,
                                                                                 body_file)
            if response.streaming:
                await self.stream(response, receive, send)
            else:
                await self.send_response(response, send)

    def respond(self, scope: Scope, body_file: IO[bytes]) -> HttpResponseBase:
        """The response to the request, in its thread; closed unless it is streamed."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response

    async def stream(self, response: HttpResponseBase, receive: Receive, send: Send) -> None:
        """Send a streamed response until done or the client goes away, then close it (as
        ASGIHandler.handle does)."""
        try:
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self.listen_for_disconnect(receive))
                    await self.send_response(response, send)
                    raise ResponseSent
            except* (ResponseSent, RequestAborted):
                pass
        except BaseExceptionGroup as exception_group:
            if len(exception_group.exceptions) == 1:
                raise exception_group.exceptions[0] from None
            raise
        await sync_to_async(response.close, thread_sensitive=True)()


def get_asgi_application() -> SyncChainASGIHandler:
    """As django.core.asgi.get_asgi_application, with the handler above."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
