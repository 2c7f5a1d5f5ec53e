"""Python apps (requirements.txt or pyproject.toml): a virtualenv in the app directory and pip.
The start command comes from the Procfile or the service: there is no default."""

from __future__ import annotations

import tomllib
from pathlib import Path

from deployments.engine.builders.plan import (
    BuildError,
    BuildPlan,
    BuildStep,
    command_step,
    manifest,
    read_manifest,
)

VENV = ".venv"
NO_START = (
    "Python apps need a start command: add a Procfile with a line such as "
    "“web: python app.py”, or set the service's start command."
)


def detected(app_dir: Path) -> bool:
    return any(manifest(app_dir, name) for name in ("requirements.txt", "pyproject.toml"))


def plan(app_dir: Path, build_command: str) -> BuildPlan:
    venv = app_dir / VENV
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install"]
    steps = [BuildStep(argv=["python3", "-m", "venv", VENV], label=f"python3 -m venv {VENV}",
                       cwd=app_dir)]
    if manifest(app_dir, "requirements.txt"):
        steps.append(BuildStep(argv=[*pip, "-r", "requirements.txt"],
                               label=f"{VENV}/bin/pip install -r requirements.txt", cwd=app_dir))
    elif _installable(app_dir / "pyproject.toml"):
        steps.append(BuildStep(argv=[*pip, "."], label=f"{VENV}/bin/pip install .", cwd=app_dir))
    if build_command:
        steps.append(command_step(build_command, app_dir))
    return BuildPlan(
        runtime="python", steps=steps,
        env={"VIRTUAL_ENV": str(venv), "PYTHONUNBUFFERED": "1"},
        path_prefix=[str(venv / "bin")],
    )


def _installable(pyproject: Path) -> bool:
    """Whether pyproject.toml describes a package pip can install (not only tool settings)."""
    try:
        data = tomllib.loads(read_manifest(pyproject))
    except tomllib.TOMLDecodeError as error:
        raise BuildError(f"pyproject.toml is not valid TOML: {error}.") from None
    return "project" in data or "build-system" in data
