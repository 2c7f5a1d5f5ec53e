"""Procfiles: `type: command` per line, as on Heroku."""

from __future__ import annotations

import re

from deployments.engine.builders.plan import BuildError

_LINE = re.compile(r"([A-Za-z0-9_-]+)[ \t]*:[ \t]*(.*)")
_SHOWN = 80


def parse_procfile(text: str) -> dict[str, str]:
    """Process type -> command. Blank lines and `#` comments are skipped; anything else that
    is not `type: command` is an error naming the line."""
    processes: dict[str, str] = {}
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line) if "\0" not in line else None
        shown = (line if len(line) <= _SHOWN else line[:_SHOWN] + "…").replace("\0", "\\0")
        if match is None:
            raise BuildError(
                f"Procfile line {number} is not “type: command” (types are letters, digits, "
                f"“-” and “_”): {shown}"
            )
        name, command = match.groups()
        if not command.strip():
            raise BuildError(f"Procfile line {number} has no command for “{name}”.")
        if name in processes:
            raise BuildError(f"Procfile line {number} defines “{name}” a second time.")
        processes[name] = command.strip()
    return processes
