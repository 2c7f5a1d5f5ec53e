"""Node apps (package.json): npm ci or npm install, npm run build, npm start."""

from __future__ import annotations

import json
from pathlib import Path

from deployments.engine.builders.plan import (
    BuildError,
    BuildPlan,
    BuildStep,
    command_step,
    manifest,
    read_manifest,
)

LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
START = ["npm", "start"]
NO_START = (
    "package.json has no “start” script and there is no server.js: add a start script, a "
    "Procfile with a “web:” line, or set the service's start command."
)


def plan(app_dir: Path, package_json: Path, build_command: str) -> BuildPlan:
    scripts = _scripts(package_json)
    locked = any(manifest(app_dir, name) for name in LOCKFILES)
    install = ["npm", "ci"] if locked else ["npm", "install"]
    steps = [BuildStep(argv=install, label=" ".join(install), cwd=app_dir)]
    if build_command:
        steps.append(command_step(build_command, app_dir))
    elif _defined(scripts, "build"):
        steps.append(BuildStep(argv=["npm", "run", "build"], label="npm run build", cwd=app_dir))
    starts = _defined(scripts, "start") or manifest(app_dir, "server.js") is not None
    return BuildPlan(
        runtime="node", steps=steps, processes={"web": list(START)} if starts else {},
        path_prefix=[str(app_dir / "node_modules" / ".bin")],  # `web: next start` works
    )


def _scripts(package_json: Path) -> dict[str, object]:
    try:
        package = json.loads(read_manifest(package_json))
    except json.JSONDecodeError as error:
        raise BuildError(
            f"package.json is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg})."
        ) from None
    if not isinstance(package, dict):
        raise BuildError("package.json must hold a JSON object.")
    scripts = package.get("scripts", {})
    if not isinstance(scripts, dict):
        raise BuildError("The “scripts” of package.json must be an object.")
    return scripts


def _defined(scripts: dict[str, object], name: str) -> bool:
    value = scripts.get(name)
    return isinstance(value, str) and bool(value.strip())
