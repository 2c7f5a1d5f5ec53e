"""What the HTTP benchmarks share: a hand-written HTTP/1.1 client on kept-alive connections,
and the two loads it generates, closed loop (saturation) and open loop (a fixed rate).

The client is a few lines of asyncio, one connection per client, all in one event loop: httpx
spent half a core of a two-core machine on the clients' side, which the server under test
would not get. It reads answers framed by Content-Length (what Django sends), nothing else.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Phase:
    """What one load measured: every answer's latency and status."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[98]


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   request: bytes) -> tuple[int, bytes]:
    """Send one request on a kept-alive connection; the answer's status and body."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            raise ValueError(f"this client reads no {value.strip()} answer: {lines[0]}")
    return int(lines[0].split()[1]), await reader.readexactly(length)


# One request of client number n and its answer on the client's connection (`exchange`, with
# what the benchmark checks or keeps of it); returns the answer's status.
Exchange = Callable[[int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[int]]
Client = Callable[[int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def with_clients(port: int, clients: int, client: Client) -> None:
    """Run `client` on `clients` kept-alive connections to 127.0.0.1:port, all opened before
    any is used."""
    connections = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port)
                                         for _ in range(clients)))
    try:
        await asyncio.gather(*(client(number, reader, writer)
                               for number, (reader, writer) in enumerate(connections)))
    finally:
        for _, writer in connections:
            writer.close()


async def _timed(phase: Phase, one: Exchange, number: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, since: float) -> None:
    """One exchange of client `number`; its latency counted from `since`."""
    status = await one(number, reader, writer)
    phase.latencies_ms.append((time.perf_counter() - since) * 1000)
    phase.statuses[status] = phase.statuses.get(status, 0) + 1


async def closed_loop(phase: Phase, one: Exchange, port: int, clients: int,
                      seconds: float) -> Phase:
    """Each client sends its next request as soon as its last one is answered, for
    `seconds`; latencies from each request's sending."""
    started = time.perf_counter()
    deadline = started + seconds

    async def client(number: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        while time.perf_counter() < deadline:
            await _timed(phase, one, number, reader, writer, time.perf_counter())

    await with_clients(port, clients, client)
    phase.seconds = time.perf_counter() - started
    return phase


async def open_loop(phase: Phase, one: Exchange, port: int, clients: int, seconds: float,
                    rate: float) -> Phase:
    """The clients jointly offer `rate` requests a second for `seconds`, each on a fixed
    schedule (one every clients/rate s, the clients staggered evenly), whether or not the
    server keeps up. A request's latency runs from the time it was scheduled to be sent: a
    client still waiting for an answer sends its next request late, and that wait counts in
    the next one's latency, so queueing in the server is not hidden (coordinated omission)."""
    interval = clients / rate
    started = time.perf_counter()
    end = started + seconds

    async def client(number: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        scheduled = started + interval * number / clients
        while scheduled < end:
            wait = scheduled - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            await _timed(phase, one, number, reader, writer, scheduled)
            scheduled += interval

    await with_clients(port, clients, client)
    phase.seconds = seconds
    return phase


def run_load(phase: Phase, one: Exchange, port: int, clients: int, load: str, seconds: float,
             rate: float = 0.0) -> Phase:
    """Run the load ("closed", or "open" at `rate`) in a new event loop; `phase` filled."""
    if load == "open":
        return asyncio.run(open_loop(phase, one, port, clients, seconds, rate))
    if load == "closed":
        return asyncio.run(closed_loop(phase, one, port, clients, seconds))
    raise ValueError(f"unknown load {load!r}")
