"""Fetching a service's repository into a build directory (DESIGN.md §5, step 1).

Everything git is given is an argv list. The environment is built from scratch: no system or
global git configuration, no terminal prompts, only the https transport (and file:// when
PAAS_ALLOW_LOCAL_REPOS is on), and a token only through a GIT_ASKPASS script that reads it
from the environment, so it is never in a URL, an argv or a log line.

An https host is checked as written (projects/validators.py), then resolved here, once: every
address must be public (projects/addresses.py), and git is pinned to those addresses
(http.curloptResolve), so a second DNS answer cannot send it into the panel's network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from projects import addresses
from projects.validators import (
    repository_host,
    validate_branch,
    validate_repository_url,
    validate_root_directory,
)

Runner = Callable[[list[str], dict[str, str], Path], int]
"""runner(argv, env, cwd) -> exit status; streams the command's output to the caller's log."""

Log = Callable[[str], None]

TOKEN_VARIABLE = "PAAS_GIT_TOKEN"
TOKEN_USERNAME = "x-access-token"  # what GitHub expects beside an installation or OAuth token
REDACTED = "***"
_SHA = re.compile(r"[0-9a-f]{40}")
GIT_OPTIONS = [
    "-c", "protocol.ext.allow=never",
    "-c", "protocol.version=2",
    "-c", "core.hooksPath=/dev/null",
    "-c", "advice.detachedHead=false",
    # A redirect would send git to a host nobody checked (curl resolves it itself, past the
    # pinning below), so none is followed. What this costs: GitHub answers a renamed or
    # transferred repository's old URL with a redirect; the fetch then fails, and the error
    # asks for the repository's current URL, which is what the service should store anyway.
    "-c", "http.followRedirects=false",
]
_ASKPASS_SCRIPT = f"""#!/bin/sh
case "$1" in
  [Uu]sername*) printf '%s\\n' {TOKEN_USERNAME} ;;
  *) printf '%s\\n' "${TOKEN_VARIABLE}" ;;
esac
"""


class SourceError(Exception):
    """Fetching failed; the message is safe to show a user (it never contains a token)."""


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str  # the subject line
    author: str


def source_root(checkout: Path, root_directory: str) -> Path:
    """The directory `root_directory` of `checkout`, refusing anything that could lead outside
    it: absolute paths, "..", and any symbolic link on the way."""
    try:
        validate_root_directory(root_directory)
    except ValidationError as error:
        raise SourceError(error.messages[0]) from None
    current = checkout
    for part in (p for p in root_directory.split("/") if p not in ("", ".")):
        current = current / part
        if current.is_symlink():
            raise SourceError(
                f"The root directory “{root_directory}” goes through a symbolic link; "
                "use the real directory."
            )
        if not current.is_dir():
            raise SourceError(
                f"The root directory “{root_directory}” does not exist in the repository."
            )
    if not current.resolve().is_relative_to(checkout.resolve()):
        raise SourceError(f"The root directory “{root_directory}” is outside the repository.")
    return current  # under `checkout` as given, with no symbolic link below it


def git_env(home: Path) -> dict[str, str]:
    """The whole environment git runs with (nothing inherited from the panel)."""
    return {
        "PATH": settings.PAAS_APP_PATH,
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": "https:file" if settings.PAAS_ALLOW_LOCAL_REPOS else "https",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }


def run_logged(argv: list[str], env: dict[str, str], cwd: Path, log: Log) -> int:
    """The default runner: stdout and stderr merged, each line to `log`."""
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    with process.stdout:
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n").rsplit("\r", 1)[-1]
            log(line)
    return process.wait()


def fetch(
    url: str, branch: str, dest: Path, *, commit: str = "", log: Log, token: str = "",
    run: Runner | None = None,
) -> Commit:
    """Check out the head of `branch` of `url` (or the exact `commit`, a full sha, detached)
    into `dest`, and return what was checked out. `dest` must not exist or be empty; it is
    created, and removed again when fetching fails."""
    url, commit = _checked(url, branch, commit)
    pinning = _pinning(url)  # before anything is created: a refused host leaves nothing
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise SourceError("The build directory is not empty.")
    if token:
        log = _redacting(log, token)
    runner = run or (lambda argv, env, cwd: run_logged(argv, env, cwd, log))
    created = not dest.exists()
    private = Path(tempfile.mkdtemp(prefix="paas-git-"))  # mode 0700: HOME and the askpass
    try:
        dest.mkdir(parents=True, exist_ok=True)
        env = git_env(private)
        if token:
            askpass = private / "askpass.sh"
            askpass.write_text(_ASKPASS_SCRIPT)
            askpass.chmod(0o700)
            env.update(GIT_ASKPASS=str(askpass), **{TOKEN_VARIABLE: token})
        git = _Git(runner, env, dest, pinning)
        if commit:
            git.run(["init", "--quiet", "--template=", "--initial-branch=deploy"], "git init")
            sha = _fetch_commit(git, url, branch, commit, log)
            git.run(["checkout", "--quiet", "--detach", sha], f"Checking out {sha[:12]}")
        else:
            _clone_branch(git, url, branch, log)  # one process: the common case, kept quick
        sha, author, subject = (git.output(["log", "-1", "--format=%H%x00%an%x00%s", "HEAD"])
                                .split("\0", 2) + ["", "", ""])[:3]
        if not _SHA.fullmatch(sha):
            raise SourceError(f"Branch “{branch}” of {url} does not point to a commit.")
        log(f"Checked out {sha[:12]} {subject}")
        return Commit(sha=sha, message=subject, author=author)
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in dest.iterdir():
                _remove(child)
        raise
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _checked(url: str, branch: str, commit: str) -> tuple[str, str]:
    """Validate again (the database may hold values an older version accepted); returns the
    URL git is given and the commit in lower case."""
    for validate, value, what in ((validate_repository_url, url, "repository URL"),
                                  (validate_branch, branch, "branch")):
        try:
            validate(value)
        except ValidationError as error:
            raise SourceError(f"Invalid {what}: {error.messages[0]}") from None
    commit = commit.lower()
    if commit and not _SHA.fullmatch(commit):
        raise SourceError("A commit must be given as its full 40-character sha.")
    if url.startswith("/"):
        url = "file://" + url
    elif url.startswith("https://"):
        url = _normalised(url)
    return url, commit


def _normalised(url: str) -> str:
    """The https URL with its host as it was checked (127.1 is 127.0.0.1, Unicode is xn--),
    so that git cannot read it differently."""
    host, _ = repository_host(url)
    parts = urlsplit(url)
    netloc = host.in_url + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _pinning(url: str) -> list[str]:
    """git's options that pin an https URL's host name to the addresses it resolves to now,
    after checking every one of them; [] for an address literal or a local repository.

    Always checked, whatever the form accepted: the name may resolve elsewhere today."""
    if not url.startswith("https://"):
        return []
    host, port = repository_host(url)  # the URL _checked accepted: it raises nothing now
    if host.address is not None:
        return []  # checked by repository_host; curl does not resolve a literal
    try:
        resolved = addresses.resolve_host(host.name, port)
    except (OSError, UnicodeError):  # socket.gaierror: no such name, no DNS answer
        resolved = []
    if not resolved:
        raise SourceError(f"The repository host {host.name} could not be resolved: check the "
                          "repository URL.")
    allow_internal = settings.PAAS_ALLOW_INTERNAL_REPO_HOSTS
    for address in resolved:
        problem = addresses.address_problem(address, allow_internal=allow_internal)
        if problem:
            raise SourceError(
                f"The repository host {host.name} resolves to {address}, {problem}: the panel "
                "only fetches from public addresses. Use the repository's public URL."
            )
    pinned = ",".join(addresses.url_form(address) for address in resolved)
    return ["-c", f"http.curloptResolve={host.name}:{port}:{pinned}"]


class _Git:
    def __init__(self, runner: Runner, env: dict[str, str], cwd: Path,
                 options: list[str]) -> None:
        self.runner, self.env, self.cwd, self.options = runner, env, cwd, options

    def argv(self, args: list[str]) -> list[str]:
        return ["git", *GIT_OPTIONS, *self.options, *args]

    def run(self, args: list[str], what: str) -> None:
        status = self.runner(self.argv(args), dict(self.env), self.cwd)
        if status != 0:
            raise SourceError(f"{what} failed (git exited with status {status}).")

    def status(self, args: list[str]) -> int:
        return self.runner(self.argv(args), dict(self.env), self.cwd)

    def output(self, args: list[str]) -> str:
        """A local, quick git command whose output is wanted rather than logged."""
        env = {k: v for k, v in self.env.items() if k != TOKEN_VARIABLE}
        result = subprocess.run(
            self.argv(args), cwd=self.cwd, env=env, capture_output=True, timeout=60, check=False
        )
        return result.stdout.decode("utf-8", "replace").strip() if result.returncode == 0 else ""


def _clone_branch(git: _Git, url: str, branch: str, log: Log) -> None:
    """The head of `branch`, shallow, into the (empty) working directory."""
    log(f"Fetching branch {branch} of {url}")
    status = git.status(["clone", "--depth", "1", "--single-branch", "--no-tags",
                         "--template=", "--branch", branch, "--", url, "."])
    if status != 0:
        raise _could_not_fetch(url, branch, status)


def _could_not_fetch(url: str, branch: str, status: int) -> SourceError:
    moved = (" If the repository was renamed or moved, use its new URL: the panel does not "
             "follow redirects." if url.startswith("https://") else "")
    return SourceError(
        f"Could not fetch branch “{branch}” of {url} (git exited with status {status}): "
        f"check that the repository and the branch exist and that the panel may read them.{moved}"
    )


def _fetch_branch(git: _Git, url: str, branch: str, log: Log, *, depth: bool = True) -> str:
    log(f"Fetching branch {branch} of {url}")
    args = ["fetch", "--no-tags", "--no-recurse-submodules"]
    status = git.status([*args, *(["--depth", "1"] if depth else []), "--", url,
                         f"refs/heads/{branch}"])
    if status != 0:
        raise _could_not_fetch(url, branch, status)
    sha = git.output(["rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}"])
    if not _SHA.fullmatch(sha):
        raise SourceError(f"Branch “{branch}” of {url} does not point to a commit.")
    return sha


def _fetch_commit(git: _Git, url: str, branch: str, commit: str, log: Log) -> str:
    log(f"Fetching commit {commit} of {url}")
    args = ["fetch", "--no-tags", "--no-recurse-submodules", "--depth", "1", "--", url, commit]
    if git.status(args) != 0:
        log(f"The server did not send commit {commit[:12]} by itself; fetching branch {branch}")
        _fetch_branch(git, url, branch, log, depth=False)
    sha = git.output(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"])
    if sha != commit:
        raise SourceError(f"Commit {commit} was not found in {url} (branch “{branch}”).")
    return sha


def _redacting(log: Log, token: str) -> Log:
    def redacted(line: str) -> None:
        log(line.replace(token, REDACTED))

    return redacted


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
