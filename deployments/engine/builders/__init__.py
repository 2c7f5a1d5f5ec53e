"""Runtime detection (DESIGN.md §5, step 2): what to install and build, and what to run.

Pure inspection of the app directory: nothing is executed here. Install and build steps come
from the detected language; processes come, in order of precedence, from the service's start
command (it replaces `web`), the Procfile, and the runtime's default. The team's own commands
(build, start, Procfile lines) always run as `/bin/sh -c <command>`, never inside a command
line of the panel's.
"""

from __future__ import annotations

from pathlib import Path

from deployments.engine.builders import node, python, static
from deployments.engine.builders.plan import (
    BuildError,
    BuildPlan,
    BuildStep,
    command_step,
    manifest,
    read_manifest,
    shell,
)
from deployments.engine.builders.procfile import parse_procfile

__all__ = ["BuildError", "BuildPlan", "BuildStep", "cache_env", "detect", "parse_procfile"]

NO_PROCESS = "The Procfile defines no process."
LOOKED_FOR = "a Procfile, package.json, requirements.txt, pyproject.toml or index.html"


def detect(app_dir: Path, *, build_command: str = "", start_command: str = "") -> BuildPlan:
    """The build plan of the app in `app_dir`; BuildError says what to change when there is
    none."""
    for what, command in (("build", build_command), ("start", start_command)):
        if any(char in command for char in "\r\n\0"):
            raise BuildError(f"The {what} command must be a single line.")
    build_command, start_command = build_command.strip(), start_command.strip()
    app_dir = app_dir.absolute()
    if not app_dir.is_dir():
        raise BuildError("The app directory does not exist.")
    procfile_path = manifest(app_dir, "Procfile")
    procfile = parse_procfile(read_manifest(procfile_path)) if procfile_path else {}
    if package_json := manifest(app_dir, "package.json"):
        plan, missing = node.plan(app_dir, package_json, build_command), node.NO_START
    elif python.detected(app_dir):
        plan, missing = python.plan(app_dir, build_command), python.NO_START
    elif procfile_path is not None or (start_command and not manifest(app_dir, "index.html")):
        steps = [command_step(build_command, app_dir)] if build_command else []
        plan, missing = BuildPlan(runtime="procfile", steps=steps), NO_PROCESS
    elif manifest(app_dir, "index.html"):
        plan, missing = static.plan(app_dir, build_command), ""
    else:
        raise BuildError(
            f"Nothing to run was found: looked for {LOOKED_FOR} in the app directory. Add one, "
            "set the service's start command, or check its root directory."
        )
    plan.processes.update({name: shell(command) for name, command in procfile.items()})
    if start_command:
        plan.processes["web"] = shell(start_command)
    if not plan.processes:
        raise BuildError(missing)
    return plan


def cache_env(cache_dir: Path) -> dict[str, str]:
    """Environment of build steps that keeps npm's and pip's downloads in the service's cache
    and skips what needs the network without changing the result (audit, fund, update checks)."""
    return {
        "npm_config_cache": str(cache_dir / "npm"),
        "npm_config_prefer_offline": "true",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
        "npm_config_update_notifier": "false",
        "PIP_CACHE_DIR": str(cache_dir / "pip"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }
