"""Log lines as apps print them, for the log benchmarks: access lines, plain messages and JSON
lines of a structured logger (debug 25 %, info 61 %, warning 12 %, error 2 % of them: about
1 % of all lines are errors); some say "timeout" or "connection refused", none "zebrafish"."""

from __future__ import annotations

import json
import random

PATHS = ("/api/items", "/api/users", "/api/orders", "/health", "/login", "/static/app.js")
METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
MESSAGES = {
    "debug": ("cache lookup", "query plan chosen", "connection refused, retrying in 1 s",
              "pool checkout", "feature flag evaluated"),
    "info": ("request completed", "job processed", "user signed in", "order created",
             "cache warmed"),
    "warning": ("slow query", "retrying after timeout", "deprecated header used",
                "queue depth high"),
    "error": ("connection refused by database", "upstream timeout", "unhandled exception",
              "payment provider returned 502"),
}
LEVELS = (("debug", 0.25), ("info", 0.61), ("warning", 0.12), ("error", 0.02))


def _level(rng: random.Random) -> str:
    roll = rng.random()
    for level, share in LEVELS:
        if roll < share:
            return level
        roll -= share
    return "info"


def line(rng: random.Random, number: int) -> tuple[str, str]:
    """(text, stream) of one line."""
    roll = rng.random()
    if roll < 0.40:
        status = rng.choice((200, 200, 200, 201, 204, 301, 404, 500))
        return (f'10.0.{rng.randrange(256)}.{rng.randrange(256)} - - "{rng.choice(METHODS)} '
                f'{rng.choice(PATHS)}/{rng.randrange(100000)} HTTP/1.1" {status} '
                f"{rng.randrange(100, 90000)} {rng.random() * 200:.1f}ms", "stdout")
    if roll < 0.50:
        if rng.random() < 0.05:
            return (f"worker {rng.randrange(8)}: job {number} failed: timeout after "
                    f"{rng.randrange(1, 30)} s", "stderr")
        return (f"worker {rng.randrange(8)}: processed job {number} in "
                f"{rng.randrange(1, 900)} ms", "stdout")
    level = _level(rng)
    record = {"level": level, "time": 1_733_000_000_000 + number, "pid": 4242,
              "msg": rng.choice(MESSAGES[level]), "req_id": f"{rng.getrandbits(48):012x}",
              "user": rng.choice(("alice", "bob", "carol", "dave")),
              "duration_ms": rng.randrange(1, 3000)}
    return json.dumps(record), "stderr" if level == "error" else "stdout"


def lines(count: int, seed: int = 20251203) -> list[tuple[str, str]]:
    rng = random.Random(seed)  # noqa: S311 - test data
    return [line(rng, number) for number in range(count)]
