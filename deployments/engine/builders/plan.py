"""What a build does and runs, independent of the runtime that produced it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MAX_MANIFEST_BYTES = 1_000_000
SHELL = "/bin/sh"


class BuildError(Exception):
    """The app cannot be built as it is; the message tells the user what to change."""


@dataclass
class BuildStep:
    argv: list[str]
    label: str  # what the log shows before the step's output
    cwd: Path


@dataclass
class BuildPlan:
    runtime: str  # "node" | "python" | "static" | "procfile"
    steps: list[BuildStep] = field(default_factory=list)
    processes: dict[str, list[str]] = field(default_factory=dict)  # type -> argv, cwd = app dir
    env: dict[str, str] = field(default_factory=dict)  # for the build steps and the app
    path_prefix: list[str] = field(default_factory=list)  # directories to put before PATH


def shell(command: str) -> list[str]:
    """The argv that runs one of the team's own commands (build, start, a Procfile line)."""
    return [SHELL, "-c", command]


def manifest(app_dir: Path, name: str) -> Path | None:
    """`app_dir/name` when it is a regular file inside the app directory (a symlink pointing
    outside it is refused: its content could end up in an error message)."""
    path = app_dir / name
    if not path.is_symlink() and not path.exists():
        return None
    if not path.resolve().is_relative_to(app_dir.resolve()):
        raise BuildError(f"{name} is a symbolic link to a file outside the app directory.")
    return path if path.is_file() else None


def read_manifest(path: Path) -> str:
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BuildError(f"{path.name} is larger than {MAX_MANIFEST_BYTES // 1000} kB.")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BuildError(f"{path.name} is not UTF-8 text.") from None


def command_step(command: str, cwd: Path) -> BuildStep:
    """The service's own build command as a step."""
    return BuildStep(argv=shell(command), label=command, cwd=cwd)
