"""An attacker's app, for the isolation tests: it tries what it is told and says what worked.

`python3 probe.py once` (a build command) tries the attempts of $PROBES and prints one line
`PROBE <json>`; `python3 probe.py serve` (the web process) tries those POSTed to it as JSON.
An attempt is [label, kind, target]; its result is "ok" or the error it met. Kinds: read,
list, write (a file), unix (connect), tcp ([host, port]), signal (pid, signal 0), postgres
and redis ({"host", "port"} or {"path"}: authenticated as the panel would be, or not).
"""

PROBE = r'''
import json
import os
import socket
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def connect(target):
    if "path" in target:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(3)
        sock.connect(target["path"])
        return sock
    return socket.create_connection((target["host"], target["port"]), timeout=3)


def postgres(target):
    sock = connect(target)
    params = b"user\0postgres\0database\0postgres\0\0"
    sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
    reply = sock.recv(1024)
    sock.close()
    if reply[:1] == b"R" and struct.unpack("!i", reply[5:9])[0] == 0:
        return "ok"
    return "refused: " + reply[:80].decode("latin-1")


def redis(target):
    sock = connect(target)
    sock.sendall(b"*1\r\n$4\r\nPING\r\n")
    reply = sock.recv(1024)
    sock.close()
    return "ok" if reply.startswith(b"+PONG") else "refused: " + reply[:80].decode("latin-1")


def attempt(kind, target):
    try:
        if kind == "read":
            with open(target, "rb") as handle:
                handle.read(64)
        elif kind == "list":
            os.listdir(target)
        elif kind == "write":
            with open(target, "w") as handle:
                handle.write("written by another workspace")
        elif kind == "unix":
            connect({"path": target}).close()
        elif kind == "tcp":
            connect({"host": target[0], "port": target[1]}).close()
        elif kind == "signal":
            os.kill(int(target), 0)
        elif kind == "postgres":
            return postgres(target)
        elif kind == "redis":
            return redis(target)
        else:
            return "unknown kind"
        return "ok"
    except Exception as error:
        return f"{type(error).__name__}: {error}"


def run(attempts):
    return {label: attempt(kind, target) for label, kind, target in attempts}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.answer({"pid": os.getpid(), "uid": os.getuid()})

    def do_POST(self):
        attempts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.answer(run(attempts))

    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if sys.argv[1] == "once":
    print("PROBE " + json.dumps(run(json.loads(os.environ.get("PROBES", "[]")))), flush=True)
else:
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''

PROBE_APP: dict[str, str] = {
    "probe.py": PROBE,
    "Procfile": "web: python3 probe.py serve\n",
}
