"""The web process: uvicorn serving config.asgi (HTTP and WebSocket) in PAAS_WEB_WORKERS
processes on 127.0.0.1:PANEL_PORT. Production runs it (platform/systemd/panel-web.service),
`make run` too (Procfile, without the access log) and so do the benchmarks, so that what they
measure is what runs.

    python -m config.web [--no-access-log]

One process runs Python on one core at a time (the GIL): more workers use more cores. Each
has its own database pool (PAAS_DB_POOL_SIZE); WebSocket groups go through Redis, so a page
and the events it follows may be served by different workers.

Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new
connections over them. uvicorn's own --workers share one socket, and the first worker to wake
accepts every connection waiting: a proxy that opens its kept-alive connections at once
(Traefik, the webhook benchmark's 50 senders) ended up with all of them on one worker while
the others idled. This process starts the workers, starts a new one when one dies, and stops
them on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import uvicorn

APPLICATION = "config.asgi:application"
HOST = "127.0.0.1"
MAX_DEFAULT_WORKERS = 4
STOP_SECONDS = 30.0

logger = logging.getLogger("config.web")


def default_workers() -> int:
    """One per CPU, at most MAX_DEFAULT_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def workers(environ: Mapping[str, str] = os.environ) -> int:
    value = environ.get("PAAS_WEB_WORKERS", "").strip()
    return max(1, int(value)) if value else default_workers()


@dataclass(frozen=True)
class Options:
    port: int
    access_log: bool


def listening_socket(port: int) -> socket.socket:
    """A socket bound to HOST:port that other workers may bind too (SO_REUSEPORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((HOST, port))
    return sock


def listening_sockets(port: int) -> int:
    """How many sockets listen on HOST:port (/proc/net/tcp, state 0A): one per worker up."""
    local = f"{socket.inet_aton(HOST)[::-1].hex().upper()}:{port:04X}"
    with open("/proc/net/tcp") as table:
        return sum(1 for line in table.readlines()[1:]
                   if line.split()[1] == local and line.split()[3] == "0A")


def serve(options: Options) -> None:
    """One worker: uvicorn on a listening socket of its own, until SIGTERM or SIGINT."""
    config = uvicorn.Config(APPLICATION, host=HOST, port=options.port, proxy_headers=True,
                            access_log=options.access_log)
    uvicorn.Server(config).run(sockets=[listening_socket(options.port)])


def supervise(count: int, options: Options) -> None:
    """Run `count` workers, replacing any that dies, until SIGTERM or SIGINT."""
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())

    def start() -> multiprocessing.process.BaseProcess:
        process = spawn.Process(target=serve, args=(options,), name="panel-web-worker")
        process.start()
        return process

    processes = [start() for _ in range(count)]
    logger.info("web: %d workers on %s:%d", count, HOST, options.port)
    while not stop.wait(0.5):
        for number, process in enumerate(processes):
            if not process.is_alive():
                logger.error("web: worker %s exited (%s); starting another", process.pid,
                             process.exitcode)
                processes[number] = start()
    for process in processes:
        if process.is_alive():
            os.kill(process.pid, signal.SIGTERM)  # uvicorn's graceful shutdown
    for process in processes:
        process.join(STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m config.web", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-access-log", action="store_true",
                        help="do not log each request (make run: the terminal stays readable)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    options = Options(port=int(os.environ.get("PANEL_PORT") or 8000),
                      access_log=not arguments.no_access_log)
    count = workers()
    if count == 1:
        serve(options)
    else:
        supervise(count, options)


if __name__ == "__main__":
    main()
