"""A `pm2 start` prepared ahead of time.

Most of what a `pm2 start` costs is Node loading pm2 and connecting to the daemon (about
0.15 s, measured in benchmarks/deploy.py). A Starter spawns deployments/pm2_start.js while the
release builds; when the build is done, `pm2.start(apps, starter=...)` hands it the ecosystem
file and the apps start at once. It runs with the same minimal environment as the pm2 CLI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from django.conf import settings

from deployments.engine.pm2_daemon import PM2Error, cli_env, ensure_daemon, home

SCRIPT = Path(__file__).with_name("pm2_start.js")


def pm2_module() -> Path:
    """node_modules/pm2, from the pm2 binary the settings name."""
    return Path(settings.PAAS_PM2_BIN).resolve().parent.parent


class Starter:
    def __init__(self) -> None:
        ensure_daemon()  # a dead daemon is resurrected, never replaced by an empty one
        env = cli_env()
        node = shutil.which("node", path=env["PATH"])
        if node is None:
            raise PM2Error("node is not on PAAS_APP_PATH")
        self.process = subprocess.Popen(
            [node, str(SCRIPT), str(pm2_module())], env=env, cwd=home(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def start(self, ecosystem: Path, timeout: float) -> None:
        """Start the apps of the ecosystem file; PM2Error with pm2's message on failure."""
        try:
            stdout, stderr = self.process.communicate(f"{ecosystem}\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise PM2Error(f"pm2 start did not finish within {timeout:g} s") from None
        outcome = _last_json_line(stdout)
        if outcome.get("ok"):
            return
        raise PM2Error(f"pm2 start failed: {outcome.get('error') or stderr.strip()[-500:]}")

    def close(self) -> None:
        """Let an unused starter go (a failed or cancelled build)."""
        if self.process.poll() is not None:
            return
        try:
            self.process.communicate("", timeout=10)
        except (subprocess.TimeoutExpired, OSError, ValueError):
            self.process.kill()
            self.process.wait()


def _last_json_line(output: str) -> dict:
    for line in reversed(output.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}
