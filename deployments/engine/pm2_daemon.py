"""Talking to the panel's PM2 daemon without its CLI (deployments/pm2.py uses these).

The CLI costs a Node start per call; the daemon's RPC socket (PM2_HOME/rpc.sock: an axon "req"
socket, AMP framing, JSON arguments, as in node_modules/pm2/lib/Client.js) answers a process
list in a millisecond and never spawns a daemon. And the apps a daemon that died left running
(spawned detached, they outlive it) are found through PM2_HOME/pids and /proc.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

RPC_TIMEOUT = 15.0
CLI_TIMEOUT = 60.0
KILL_TIMEOUT_MS = 5000  # SIGTERM, then SIGKILL after this long
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_rpc_ids = iter(range(1, 2**62))


class PM2Error(Exception):
    """pm2 refused or failed; the message never carries variable values."""


def rpc_socket() -> str:
    return str(Path(settings.PAAS_PM2_HOME) / "rpc.sock")


def daemon_running() -> bool:
    """Whether the daemon answers on its RPC socket (what pm2's own ping does); spawns none."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(rpc_socket())
        except OSError:
            return False
    return True


def call(method: str, *args: object) -> object:
    """Call a method of the daemon (God) like pm2's CLI does. ConnectionRefusedError or
    FileNotFoundError when no daemon listens."""
    message_id = f"paas-{os.getpid()}:{next(_rpc_ids)}"
    request = _amp_pack([
        b"j:" + json.dumps({"type": "call", "method": method, "args": list(args)}).encode(),
        b"s:" + message_id.encode(),
    ])
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(RPC_TIMEOUT)
        try:
            sock.connect(rpc_socket())
        except (ConnectionRefusedError, FileNotFoundError):
            raise
        except OSError as error:
            raise PM2Error(f"pm2 daemon unreachable: {error}") from None
        try:
            sock.sendall(request)
            parts = _amp_read(sock)
        except OSError as error:
            raise PM2Error(f"pm2 daemon did not answer {method}: {error}") from None
    if len(parts) < 2 or parts[-1] != b"s:" + message_id.encode() or parts[0][:2] != b"j:":
        raise PM2Error(f"pm2 daemon sent an unexpected answer to {method}")
    reply = json.loads(parts[0][2:])
    if "error" in reply:
        raise PM2Error(f"pm2 {method} failed: {reply['error']}")
    values = reply.get("args") or [None]
    return values[0]


def _amp_pack(parts: list[bytes]) -> bytes:
    frame = bytes([0x10 | len(parts)])
    return frame + b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _amp_read(sock: socket.socket) -> list[bytes]:
    count = _read_exactly(sock, 1)[0] & 0x0F
    return [_read_exactly(sock, int.from_bytes(_read_exactly(sock, 4), "big"))
            for _ in range(count)]


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionResetError("pm2 daemon closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def stop_orphans(grace_seconds: float) -> None:
    """SIGTERM (then SIGKILL) the process groups of apps a dead daemon left running."""
    marker = f"PM2_HOME={settings.PAAS_PM2_HOME}".encode()
    orphans = []
    for pid_file in (Path(settings.PAAS_PM2_HOME) / "pids").glob("*.pid"):
        try:
            pid = int(pid_file.read_text().strip())
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except (OSError, ValueError):
            continue
        if pid > 1 and marker in environ.split(b"\0"):
            _signal_group(pid, signal.SIGTERM)
            orphans.append(pid)
        pid_file.unlink(missing_ok=True)
    deadline = time.monotonic() + grace_seconds
    while orphans and time.monotonic() < deadline:
        time.sleep(0.05)
        orphans = [pid for pid in orphans if _alive(pid)]
    for pid in orphans:
        _signal_group(pid, signal.SIGKILL)


def _signal_group(pid: int, signum: int) -> None:
    try:
        if os.getpgid(pid) == pid:  # pm2 spawns apps detached: each leads its own group
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# The files the daemon writes -------------------------------------------------------------


def daemon_pid() -> int | None:
    try:
        pid = int((Path(settings.PAAS_PM2_HOME) / "pm2.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 1 and _alive(pid) else None


def reload_logs() -> bool:
    """Have the daemon close and reopen every app's output files (`pm2 reloadLogs`), as after
    a file was renamed aside. False when no daemon runs (nothing holds a file then)."""
    try:
        call("reloadLogs", {})
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    return True


def open_files() -> set[tuple[int, int]]:
    """(device, inode) of every file the daemon holds open now (Linux /proc)."""
    pid = daemon_pid()
    if pid is None:
        return set()
    held = set()
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return set()
    for descriptor in descriptors:
        try:
            status = os.stat(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue
        held.add((status.st_dev, status.st_ino))
    return held


def trim_daemon_log(max_bytes: int) -> bool:
    """Keep PM2_HOME/pm2.log (the daemon's own output) under `max_bytes`: past it, the file
    is copied to pm2.log.1 and emptied. The daemon writes it in append mode, so its next
    line lands at the start of the emptied file. Whether it was trimmed."""
    path = Path(settings.PAAS_PM2_HOME) / "pm2.log"
    try:
        if path.stat().st_size <= max_bytes:
            return False
        shutil.copyfile(path, path.with_name("pm2.log.1"))
        os.truncate(path, 0)
    except OSError:
        return False
    return True


# The daemon's life and the CLI ---------------------------------------------------------


def home() -> Path:
    """PM2_HOME of the panel's daemon, created private (mode 0700)."""
    path = Path(settings.PAAS_PM2_HOME)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def cli_env() -> dict[str, str]:
    """The whole environment of the pm2 CLI, its daemon and (merged under theirs) every app."""
    pm2_home = Path(settings.PAAS_PM2_HOME)
    return {
        "PATH": settings.PAAS_APP_PATH,
        "HOME": str(pm2_home.parent),
        "PM2_HOME": str(pm2_home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PM2_DISCRETE_MODE": "true",  # no banner on stdout
        "PM2_DISABLE_VERSION_CHECK": "true",  # no daily call home
        "PM2_KILL_SIGNAL": "SIGTERM",  # pm2 stops apps with SIGINT otherwise (daemon-wide)
    }


@contextmanager
def _daemon_lock() -> Iterator[None]:
    """One process of the host at a time spawns or kills the daemon."""
    with open(home() / "panel.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_daemon() -> None:
    """A running daemon: one that died is resurrected with its saved process list."""
    if not daemon_running():
        resurrect()



def resurrect() -> None:
    """Start the daemon (if needed) and start every process of the saved list that it does not
    run. Orphans of a daemon that died are stopped first."""
    with _daemon_lock():
        if not daemon_running():
            stop_orphans(KILL_TIMEOUT_MS / 1000)
        run_cli(["resurrect"], timeout=CLI_TIMEOUT)


def kill_daemon() -> None:
    """Stop every process and the daemon (tests, shutdown). The saved list stays as saved."""
    with _daemon_lock():
        if daemon_running():
            run_cli(["kill"], timeout=CLI_TIMEOUT)


def run_cli(args: list[str], *, timeout: float = CLI_TIMEOUT, secrets: Iterable[str] = (),
         missing_ok: Iterable[str] = ()) -> str:
    """Run `pm2 <args>` with the minimal environment; its output, or PM2Error."""
    try:
        result = subprocess.run(
            [settings.PAAS_PM2_BIN, *args], env=cli_env(), cwd=home(), capture_output=True,
            stdin=subprocess.DEVNULL, text=True, errors="replace", timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise PM2Error(f"pm2 {args[0]} did not finish within {timeout:g} s") from None
    except OSError as error:
        raise PM2Error(f"pm2 could not run ({settings.PAAS_PM2_BIN}): {error.strerror}") from None
    output = _ANSI.sub("", result.stdout + "\n" + result.stderr)
    if result.returncode == 0:
        return output
    errors = [line.split("[PM2][ERROR]", 1)[1].strip() for line in output.splitlines()
              if "[PM2][ERROR]" in line]
    missing = {f"Process or Namespace {name} not found" for name in missing_ok}
    if errors and all(error in missing for error in errors):
        return output
    message = "; ".join(errors) or " / ".join(
        line.strip() for line in output.splitlines() if line.strip())[-500:]
    raise PM2Error(f"pm2 {args[0]} failed: {scrub(message or 'no output', secrets)}")


def scrub(text: str, secrets: Iterable[str]) -> str:
    for value in sorted({value for value in secrets if len(value) >= 4}, key=len, reverse=True):
        text = text.replace(value, "[value hidden]")
    return text
