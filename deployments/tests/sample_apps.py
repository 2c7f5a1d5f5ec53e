"""Sample apps in local bare repositories, for the engine's tests and the benchmark.

Every server listens on 127.0.0.1:$PORT and needs no network to build: the Node apps have no
dependencies and a lockfile (`npm ci` works offline), the Python app an empty requirements.txt.
The Node and Python servers answer `/` and `/health` with JSON
{"deployment": $PAAS_DEPLOYMENT_ID, "version": $VERSION or "v1", "pid": ...} and `/env` with
the sorted names (never the values) of their environment variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

AUTHOR = "Sample Author"
_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": AUTHOR,
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": AUTHOR,
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}


def _package(name: str, scripts: dict[str, str]) -> dict[str, str]:
    package = {"name": name, "version": "1.0.0", "private": True, "scripts": scripts}
    lock = {
        "name": name, "version": "1.0.0", "lockfileVersion": 3, "requires": True,
        "packages": {"": {"name": name, "version": "1.0.0"}},
    }
    return {
        "package.json": json.dumps(package, indent=2) + "\n",
        "package-lock.json": json.dumps(lock, indent=2) + "\n",
    }


NODE_SERVER = r"""const http = require("http");

const version = process.env.VERSION || "v1";
const crashAfter = Number(process.env.CRASH_AFTER_SECONDS || "0");

function send(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body) + "\n");
}

const server = http.createServer((req, res) => {
  const path = req.url.split("?")[0];
  if (path === "/" || path === "/health") {
    send(res, 200, {
      deployment: process.env.PAAS_DEPLOYMENT_ID || null,
      version: version,
      pid: process.pid,
    });
  } else if (path === "/env") {
    send(res, 200, Object.keys(process.env).sort());
  } else {
    send(res, 404, { error: "not found" });
  }
});

server.listen(Number(process.env.PORT), "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${process.env.PORT} (${version}, pid ${process.pid})`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    console.log(`${signal}: finishing requests, then exiting`);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  });
}

if (crashAfter > 0) {
  setTimeout(() => {
    console.error(`crashing on purpose after ${crashAfter} s`);
    process.exit(1);
  }, crashAfter * 1000);
}
"""

PYTHON_SERVER = r'''"""A stdlib HTTP server for the deploy engine's tests."""

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("VERSION", "v1")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?")[0]
        if path in ("/", "/health"):
            body = {
                "deployment": os.environ.get("PAAS_DEPLOYMENT_ID"),
                "version": VERSION,
                "pid": os.getpid(),
                "venv": sys.prefix != sys.base_prefix,
            }
            self.send(200, body)
        elif path == "/env":
            self.send(200, sorted(os.environ))
        else:
            self.send(404, {"error": "not found"})

    def send(self, status, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=server.shutdown).start())
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print(f"listening on 127.0.0.1:{os.environ['PORT']} ({VERSION}, pid {os.getpid()})", flush=True)
server.serve_forever()
'''

NODE_APP: dict[str, str] = {
    **_package("sample-node", {"start": "node server.js"}),
    "server.js": NODE_SERVER,
}

PYTHON_APP: dict[str, str] = {
    "requirements.txt": "",
    "Procfile": "web: python server.py\n",
    "server.py": PYTHON_SERVER,
}

PROCFILE_APP: dict[str, str] = {
    "Procfile": (
        "# a one-line web server and a worker\n"
        'web: exec python3 -m http.server "$PORT" --bind 127.0.0.1\n'
        'worker: while true; do echo "worker tick"; sleep 1; done\n'
    ),
    "health": "ok\n",
    "hello.txt": "hello from the Procfile app\n",
}

STATIC_SITE: dict[str, str] = {
    "index.html": (
        "<!doctype html>\n<html><head><title>Sample site</title>"
        '<link rel="stylesheet" href="style.css"></head>\n'
        "<body><h1>Hello from a static site</h1></body></html>\n"
    ),
    "style.css": "body { font-family: sans-serif; color: #0f172a; }\n",
}

FAILING_BUILD: dict[str, str] = {
    **_package("sample-failing-build", {
        "build": "echo 'sample build: failing on purpose' && exit 1",
        "start": "node server.js",
    }),
    "server.js": NODE_SERVER,
}

NEVER_LISTENS: dict[str, str] = {
    "Procfile": 'web: echo "started, but never listening"; exec sleep 86400\n',
}

# Serves 200 for CRASH_AFTER_SECONDS (3 unless the variable says otherwise), then exits 1, at
# every start.
CRASH_LOOP: dict[str, str] = {
    **_package("sample-crash-loop", {"start": "node server.js"}),
    "server.js": NODE_SERVER.replace(
        'process.env.CRASH_AFTER_SECONDS || "0"', 'process.env.CRASH_AFTER_SECONDS || "3"'
    ),
}


def _git(args: list[str], cwd: Path) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), **_GIT_ENV}
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _write(work: Path, files: dict[str, str], symlinks: dict[str, str]) -> None:
    for name, content in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(0o755 if name.endswith(".sh") else 0o644)
    for name, target in symlinks.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(target)


def make_repo(
    root: Path, name: str, files: dict[str, str], *, branch: str = "main",
    symlinks: dict[str, str] | None = None,
) -> str:
    """A bare repository `root/<name>.git` whose `branch` has one commit of `files` (and of
    `symlinks`: link name -> target); returns its absolute path."""
    bare = (root / f"{name}.git").resolve()
    bare.parent.mkdir(parents=True, exist_ok=True)
    _git(["init", "--quiet", "--bare", f"--initial-branch={branch}", str(bare)], bare.parent)
    with tempfile.TemporaryDirectory(prefix="sample-app-") as temp:
        work = Path(temp)
        _git(["init", "--quiet", f"--initial-branch={branch}"], work)
        _write(work, files, symlinks or {})
        _git(["add", "--all"], work)
        _git(["commit", "--quiet", "--message", f"Initial commit of {name}"], work)
        _git(["push", "--quiet", str(bare), f"HEAD:refs/heads/{branch}"], work)
    return str(bare)


def commit(
    repo: str, files: dict[str, str], message: str, *, branch: str = "",
    remove: tuple[str, ...] = (), symlinks: dict[str, str] | None = None,
) -> str:
    """Add a commit on `branch` (the repository's default branch unless given) that writes
    `files` over the previous tree (other files stay) and deletes `remove`; returns its sha."""
    with tempfile.TemporaryDirectory(prefix="sample-app-") as temp:
        work = Path(temp) / "work"
        branch_args = ["--branch", branch] if branch else []
        _git(["clone", "--quiet", *branch_args, repo, str(work)], Path(temp))
        for name in remove:
            _git(["rm", "--quiet", "-r", "--", name], work)
        _write(work, files, symlinks or {})
        _git(["add", "--all"], work)
        _git(["commit", "--quiet", "--allow-empty", "--message", message], work)
        _git(["push", "--quiet", "origin", "HEAD"], work)
        return _git(["rev-parse", "HEAD"], work)


def head(repo: str, branch: str = "main") -> str:
    """The sha `branch` of a sample repository points to."""
    return _git(["rev-parse", f"refs/heads/{branch}"], Path(repo))
