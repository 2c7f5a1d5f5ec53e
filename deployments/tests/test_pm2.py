"""The panel's own PM2 (deployments/pm2.py), against the real pm2 of node_modules and real HTTP."""

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from conftest import free_port
from deployments.engine import pm2

HTTP_APP = """\
import http.server, json, os
port = int(os.environ["PORT"])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"deployment": os.environ.get("PAAS_DEPLOYMENT_ID"),
                           "pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("listening on", port, flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""

# Counts its runs in a file, then exits with EXIT_CODE.
EXITING_APP = """\
import os, sys
with open(os.environ["RUNS_FILE"], "a") as runs:
    runs.write("run\\n")
sys.exit(int(os.environ["EXIT_CODE"]))
"""

ENV_DUMP_APP = """\
import json, os
with open(os.environ["DUMP_FILE"], "w") as out:
    json.dump(dict(os.environ), out)
"""


def until(predicate, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return None


def fetch(port: int) -> dict | None:
    """The app's JSON answer on the port, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return json.loads(response.read()) if response.status == 200 else None
    except (OSError, urllib.error.URLError):
        return None


def info_of(name: str) -> pm2.ProcessInfo | None:
    return next((info for info in pm2.jlist() if info.name == name), None)


def app(prefix: str, tmp_path: Path, kind: str, source: str, *, env: dict | None = None,
        policy: str = "always", max_restarts: int = 0) -> pm2.AppSpec:
    script = tmp_path / f"{kind}.py"
    script.write_text(source)
    return pm2.AppSpec(
        name=f"{prefix}{kind}", argv=["python3", script.name], cwd=tmp_path,
        env={"PATH": settings.PAAS_APP_PATH, **(env or {})}, restart_policy=policy,
        max_restarts=max_restarts, out_file=tmp_path / "logs" / f"{kind}.out.log",
        err_file=tmp_path / "logs" / f"{kind}.err.log",
    )


def web_app(prefix: str, tmp_path: Path, port: int, deployment_id: str = "42") -> pm2.AppSpec:
    return app(prefix, tmp_path, "web", HTTP_APP,
               env={"PORT": str(port), "PAAS_DEPLOYMENT_ID": deployment_id})


def test_an_app_runs_and_answers_on_its_port(pm2_prefix, tmp_path):
    port = free_port()
    spec = web_app(pm2_prefix, tmp_path, port)
    pm2.start([spec])

    answer = until(lambda: fetch(port))
    assert answer and answer["deployment"] == "42"
    info = info_of(spec.name)
    assert info.status == "online"
    assert info.pid == answer["pid"]
    assert info.restarts == 0
    assert info.env_deployment_id == "42"
    assert info.memory_bytes > 0
    assert info.uptime_started_ms and info.uptime_started_ms <= time.time() * 1000
    assert until(lambda: f"listening on {port}" in pm2.tail(spec.out_file))
    # pm2 read the ecosystem file, which held the variable values: it is gone
    assert not list(spec.out_file.parent.glob("*.json"))


def test_restart_policies(pm2_prefix, tmp_path):
    def exiting(kind, code, policy, max_restarts=0):
        return app(pm2_prefix, tmp_path, kind, EXITING_APP, policy=policy,
                   max_restarts=max_restarts,
                   env={"RUNS_FILE": str(tmp_path / f"{kind}.runs"), "EXIT_CODE": str(code)})

    def runs(kind):
        path = tmp_path / f"{kind}.runs"
        return len(path.read_text().splitlines()) if path.exists() else 0

    pm2.start([
        exiting("failing", 1, "on-failure", max_restarts=2),
        exiting("failing-once", 1, "on-failure", max_restarts=0),
        exiting("finishing", 0, "on-failure", max_restarts=2),
        exiting("always", 0, "always"),
        exiting("never", 1, "never"),
    ])

    def info(kind):
        return info_of(f"{pm2_prefix}{kind}")

    assert until(lambda: info("failing").status == "errored"), info("failing")
    assert until(lambda: info("always").restarts >= 3), info("always")
    # By now a process that was going to be restarted would have been, more than once.
    assert (info("failing").restarts, runs("failing")) == (2, 3)
    assert info("failing-once").status == "errored"
    assert (info("failing-once").restarts, runs("failing-once")) == (0, 1)
    assert info("finishing").status == "stopped"
    assert (info("finishing").restarts, runs("finishing")) == (0, 1)
    assert info("never").status == "stopped"
    assert (info("never").restarts, runs("never")) == (0, 1)
    assert until(lambda: runs("always") >= 4)


def test_apps_do_not_inherit_the_panels_environment(pm2_prefix, tmp_path, monkeypatch):
    secrets = {
        name: f"leaked-{name.lower()}-value"
        for name in ("SECRET_KEY", "DATABASE_URL", "PAAS_ENCRYPTION_KEYS", "REDIS_URL",
                     "GITHUB_CLIENT_SECRET", "AWS_SECRET_ACCESS_KEY")
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    pm2.kill_daemon()  # the daemon too is spawned from this environment
    dump = tmp_path / "env.json"
    spec = app(pm2_prefix, tmp_path, "env", ENV_DUMP_APP, policy="never",
               env={"DUMP_FILE": str(dump), "APP_VARIABLE": "the app's own"})
    pm2.start([spec])

    assert until(lambda: dump.exists() and dump.stat().st_size > 0)
    seen = json.loads(until(lambda: dump.read_text() or None))
    assert seen["APP_VARIABLE"] == "the app's own"
    assert seen["PATH"].endswith(settings.PAAS_APP_PATH)  # (pyenv's python3 shim prepends)
    assert not set(secrets) & set(seen)
    assert not [key for key, value in seen.items() if "leaked-" in value]
    daemon_pid = int((Path(settings.PAAS_PM2_HOME) / "pm2.pid").read_text())
    daemon_env = Path(f"/proc/{daemon_pid}/environ").read_bytes()
    assert b"leaked-" not in daemon_env
    assert oct(Path(settings.PAAS_PM2_HOME).stat().st_mode & 0o777) == "0o700"


def test_start_refuses_what_pm2_would_misread_without_echoing_values(pm2_prefix, tmp_path):
    spec = web_app(pm2_prefix, tmp_path, free_port())
    spec.env["pm_out_log_path"] = "/tmp/elsewhere-secret-value"
    with pytest.raises(pm2.PM2Error) as refused:
        pm2.start([spec])
    assert "pm_out_log_path" in str(refused.value)
    assert "secret-value" not in str(refused.value)

    missing = app(pm2_prefix, tmp_path, "missing", "", env={"TOKEN": "hunter2-secret"})
    missing.argv = ["no-such-command-here"]
    with pytest.raises(pm2.PM2Error) as refused:
        pm2.start([missing])
    assert "no-such-command-here" in str(refused.value)
    assert "hunter2" not in str(refused.value)

    for name in ("all", "default", "12", "-x", "a b"):
        with pytest.raises(pm2.PM2Error):
            pm2.delete([name])
    assert not [info for info in pm2.jlist() if info.name.startswith(pm2_prefix)]


def test_delete_is_idempotent(pm2_prefix, tmp_path):
    port = free_port()
    spec = web_app(pm2_prefix, tmp_path, port)
    pm2.start([spec])
    assert until(lambda: fetch(port))

    pm2.delete([spec.name, f"{pm2_prefix}never-started"])
    assert info_of(spec.name) is None
    assert fetch(port) is None
    pm2.delete([spec.name])
    pm2.delete([])


def test_stop_then_restart(pm2_prefix, tmp_path):
    port = free_port()
    spec = web_app(pm2_prefix, tmp_path, port)
    pm2.start([spec])
    first = until(lambda: fetch(port))

    pm2.stop([spec.name, f"{pm2_prefix}unknown"])
    assert info_of(spec.name).status == "stopped"
    assert info_of(spec.name).pid is None
    assert fetch(port) is None

    pm2.restart([spec.name])
    second = until(lambda: fetch(port))
    assert second and second["pid"] != first["pid"]
    assert info_of(spec.name).status == "online"
    with pytest.raises(pm2.PM2Error, match="not found"):
        pm2.restart([f"{pm2_prefix}unknown"])


def test_a_killed_daemon_comes_back_with_the_saved_apps(pm2_prefix, tmp_path):
    port = free_port()
    spec = web_app(pm2_prefix, tmp_path, port)
    pm2.start([spec])
    assert until(lambda: fetch(port))
    pm2.save()

    pm2.kill_daemon()
    assert not pm2.daemon_running()
    assert fetch(port) is None
    assert pm2.jlist() == []
    assert not pm2.daemon_running(), "listing processes spawned a daemon"

    pm2.resurrect()
    assert pm2.daemon_running()
    assert until(lambda: fetch(port))
    assert info_of(spec.name).status == "online"


def test_a_daemon_that_died_hard_leaves_no_orphan_in_the_way(pm2_prefix, tmp_path):
    port = free_port()
    spec = web_app(pm2_prefix, tmp_path, port)
    pm2.start([spec])
    before = until(lambda: fetch(port))
    pm2.save()

    daemon_pid = int((Path(settings.PAAS_PM2_HOME) / "pm2.pid").read_text())
    os.kill(daemon_pid, signal.SIGKILL)
    assert until(lambda: not pm2.daemon_running(), timeout=5)
    assert fetch(port) == before  # the app outlived its daemon, and holds the port

    pm2.resurrect()
    after = until(lambda: (answer := fetch(port)) and answer["pid"] != before["pid"] and answer)
    assert after, "the resurrected app never took over its port"
    assert not Path(f"/proc/{before['pid']}/cmdline").exists() or _zombie(before["pid"])
    info = info_of(spec.name)
    assert (info.status, info.pid) == ("online", after["pid"])


def _zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_tail(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {n}\n" for n in range(1, 31)) + "partial é")
    assert pm2.tail(log, 3) == ["line 29", "line 30", "partial é"]
    assert len(pm2.tail(log)) == 20
    assert pm2.tail(tmp_path / "missing.log") == []
