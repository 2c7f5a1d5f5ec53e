"""What the CLI prints: colours only on a terminal and never with NO_COLOR, a spinner and a
progress bar on stderr only when it is a terminal, JSON for scripts (`--json`)."""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from typing import TextIO

COLOURS = {"red": 31, "green": 32, "yellow": 33, "blue": 34, "cyan": 36, "grey": 90,
           "bold": 1}
STATUS_COLOURS = {"active": "green", "failed": "red", "crashed": "red", "cancelled": "yellow",
                  "queued": "grey", "building": "blue", "deploying": "cyan"}


def is_tty(stream: TextIO) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def colours_on(stream: TextIO) -> bool:
    return is_tty(stream) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    if not colours_on(stream or sys.stdout) or colour not in COLOURS:
        return text
    return f"\x1b[{COLOURS[colour]}m{text}\x1b[0m"


def status_text(status: str, stream: TextIO | None = None) -> str:
    return paint(status, STATUS_COLOURS.get(status, "bold"), stream)


def say(text: str = "", stream: TextIO | None = None) -> None:
    """A line on `stream`, sys.stdout as it is when called (not when this was imported)."""
    print(text, file=stream or sys.stdout, flush=True)


def emit_json(data: object) -> None:
    print(json.dumps(data, indent=2, sort_keys=True), flush=True)


def clean(text: str) -> str:
    """One line for an error message."""
    return " ".join(str(text).split())


class Spinner:
    """A line on stderr that turns while we wait (nothing when stderr is no terminal)."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream, self.frames, self.shown = stream, itertools.cycle(self.FRAMES), False

    def tick(self, text: str) -> None:
        if is_tty(self.stream):
            self.stream.write(f"\r\x1b[2K{next(self.frames)} {text}")
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.shown = False


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


class Progress:
    """A progress bar on stderr (a terminal only), at most ten redraws a second."""

    WIDTH = 30

    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total, self.label, self.stream = max(total, 1), label, stream
        self.done, self.drawn_at = 0, 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if is_tty(self.stream) and (now - self.drawn_at > 0.1 or self.done >= self.total):
            self.drawn_at = now
            filled = int(self.WIDTH * min(self.done, self.total) / self.total)
            bar = "█" * filled + "░" * (self.WIDTH - filled)
            self.stream.write(f"\r\x1b[2K{self.label} {bar} {human_size(self.done)} / "
                              f"{human_size(self.total)}")
            self.stream.flush()

    def finish(self) -> None:
        if is_tty(self.stream):
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
