"""Talking to the panel's PM2 daemon without its CLI (deployments/pm2.py uses these).

The CLI costs a Node start per call; the daemon's RPC socket (PM2_HOME/rpc.sock: an axon "req"
socket, AMP framing, JSON arguments, as in node_modules/pm2/lib/Client.js) answers a process
list in a millisecond and never spawns a daemon. And the apps a daemon that died left running
(spawned detached, they outlive it) are found through PM2_HOME/pids and /proc.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

from django.conf import settings

RPC_TIMEOUT = 15.0
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
