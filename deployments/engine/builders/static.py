"""Static sites (index.html and no other runtime), served by the host's Python."""

from __future__ import annotations

from pathlib import Path

from deployments.engine.builders.plan import BuildPlan, command_step

SERVER = ["/bin/sh", "-c", 'exec python3 -m http.server "$PORT" --bind 127.0.0.1']


def plan(app_dir: Path, build_command: str) -> BuildPlan:
    steps = [command_step(build_command, app_dir)] if build_command else []
    return BuildPlan(runtime="static", steps=steps, processes={"web": list(SERVER)})
