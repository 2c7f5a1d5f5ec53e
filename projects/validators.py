"""Checks of a service's source and of variable names, shared by the forms, the API and the
deploy engine (which checks again before it uses a value: the database may hold what an older
version accepted)."""

import json
import os
import re
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from projects.addresses import NAME_RULE, Host, HostError, host_problem, parse_host
from projects.references import SHARED

RESERVED_SERVICE_NAMES = frozenset({SHARED})
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]|\s")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\s")


def validate_repository_url(url: str) -> None:
    """Raise ValidationError unless `url` is a repository the deploy engine may fetch.

    https:// only, to a host on the public internet (unless PAAS_ALLOW_INTERNAL_REPO_HOSTS is
    on); file:// URLs and absolute local paths only when PAAS_ALLOW_LOCAL_REPOS is on. Nothing
    git could read as an option (a leading "-") or as a transport helper ("ext::").
    """
    if url.startswith("-"):
        raise ValidationError("A repository URL cannot start with “-”.")
    if _CONTROL_OR_SPACE.search(url):
        raise ValidationError("A repository URL cannot contain spaces or control characters.")
    local = settings.PAAS_ALLOW_LOCAL_REPOS
    if url.startswith("/"):
        if not local:
            raise ValidationError("Local paths are not allowed on this host; use an https:// URL.")
        return
    try:
        parts = urlsplit(url)
    except ValueError:  # brackets around something that is not an IPv6 address, and the like
        raise ValidationError(f"{NAME_RULE}, or an IPv6 address in brackets.") from None
    if parts.scheme == "file" and url.startswith("file:///"):
        if not local:
            raise ValidationError(
                "file:// repositories are not allowed on this host; use an https:// URL."
            )
        return
    if parts.scheme != "https" or not url.startswith("https://") or not parts.hostname:
        allowed = "an https:// URL" + (", a file:// URL or an absolute path" if local else "")
        raise ValidationError(f"Use {allowed}, e.g. https://github.com/you/app.")
    if "@" in parts.netloc:
        raise ValidationError(
            "Leave credentials out of the URL; the panel passes them to git separately."
        )
    repository_host(url)


def repository_host(url: str) -> tuple[Host, int]:
    """The normalised host and the port of an https:// URL; ValidationError when git may not
    fetch from it as written (projects/addresses.py says what is refused, and why). The deploy
    engine resolves the name and checks the addresses as well, at fetch time."""
    parts = urlsplit(url)
    try:
        port = 443 if parts.port is None else parts.port  # ValueError: not a number, too big
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValidationError("The URL's port is not a number from 1 to 65535.")
    try:
        host = parse_host(parts.hostname or "", bracketed="[" in parts.netloc)
    except HostError as error:
        raise ValidationError(str(error)) from None
    problem = host_problem(host, allow_internal=settings.PAAS_ALLOW_INTERNAL_REPO_HOSTS)
    if problem:
        shown = host.name if host.address else "This host"
        raise ValidationError(
            f"{shown} is {problem}: the panel only fetches from public addresses; "
            "use the repository's public URL."
        )
    return host, port


def validate_branch(branch: str) -> None:
    """Raise ValidationError unless `branch` is a valid branch name, as for
    `git check-ref-format --branch`, which is asked as well when git is installed."""
    problem = None
    if branch.startswith("-"):
        problem = "cannot start with “-”"
    elif _BRANCH_FORBIDDEN.search(branch):
        problem = "cannot contain spaces, control characters or any of ~ ^ : ? * [ \\"
    elif ".." in branch:
        problem = "cannot contain “..”"
    elif "@{" in branch or branch in {"@", "HEAD"}:
        problem = "cannot be “@” or “HEAD”, nor contain “@{”"
    elif branch.startswith("/") or branch.endswith("/") or "//" in branch:
        problem = "cannot start or end with “/” or contain “//”"
    elif branch.endswith("."):
        problem = "cannot end with “.”"
    elif any(part.startswith(".") or part.endswith(".lock") for part in branch.split("/")):
        problem = "cannot have a part that starts with “.” or ends with “.lock”"
    elif not _git_accepts_branch(branch):
        problem = "is not one git accepts"
    if problem:
        raise ValidationError(f"A branch name {problem}.")


def _git_accepts_branch(branch: str) -> bool:
    """What `git check-ref-format --branch` says (argv list, no shell); True without git."""
    try:
        result = subprocess.run(
            ["git", "check-ref-format", "--branch", branch],
            cwd=tempfile.gettempdir(), capture_output=True, timeout=5, check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
                 "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull},
        )
    except (OSError, subprocess.TimeoutExpired):
        return True
    return result.returncode == 0


MAX_COMMAND_LENGTH = 2000
MAX_HEALTHCHECK_PATH_LENGTH = 255
# C0 controls (newlines, NUL, escape...), DEL, and what Unicode counts as a line break.
_COMMAND_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_PATH_ALLOWED = re.compile(r"[\x21-\x7e]*")


def validate_command(command: str) -> None:
    """Raise ValidationError unless `command` is a build or start command the panel may store:
    a single line with no control characters, at most MAX_COMMAND_LENGTH characters.

    The command runs as the team's own code; several steps belong in a script in the
    repository, not in a multi-line field a shell would read as several commands."""
    if len(command) > MAX_COMMAND_LENGTH:
        raise ValidationError(f"A command is at most {MAX_COMMAND_LENGTH} characters; put "
                              "longer steps in a script in your repository.")
    if any(char in command for char in "\r\n\x85\u2028\u2029"):
        raise ValidationError("A command is a single line. For several steps, put them in a "
                              "script in your repository (e.g. ./build.sh) and run that.")
    if _COMMAND_FORBIDDEN.search(command):
        raise ValidationError("A command cannot contain control characters (tabs, NUL, "
                              "escape sequences).")


def validate_healthcheck_path(path: str) -> None:
    """Raise ValidationError unless `path` is a path on the app's own port, like `/health` or
    `/ready?full=1`: it starts with "/", not "//" (a host), has no scheme, host, whitespace,
    backslash or control character, and is at most MAX_HEALTHCHECK_PATH_LENGTH characters."""
    if len(path) > MAX_HEALTHCHECK_PATH_LENGTH:
        raise ValidationError(
            f"A healthcheck path is at most {MAX_HEALTHCHECK_PATH_LENGTH} characters."
        )
    if not path.startswith("/"):
        raise ValidationError("A healthcheck path starts with “/”, e.g. /health; the panel "
                              "asks the app on its own port, never another host.")
    if path.startswith("//"):
        raise ValidationError("A healthcheck path cannot start with “//” (that names a host).")
    if not _PATH_ALLOWED.fullmatch(path):
        raise ValidationError("A healthcheck path cannot contain spaces, line breaks or control "
                              "characters; percent-encode other characters.")
    if "\\" in path:
        raise ValidationError("A healthcheck path cannot contain “\\”.")
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        raise ValidationError("A healthcheck path is a path only, without scheme or host.")


def validate_root_directory(value: str) -> None:
    """Raise ValidationError unless `value` is a relative directory inside a checkout
    ("" is the checkout itself). Symlinks are refused later, by source_root on the checkout."""
    if not value:
        return
    if _CONTROL.search(value):
        raise ValidationError("A root directory cannot contain control characters.")
    if "\\" in value:
        raise ValidationError("Use “/” to separate directories in the root directory.")
    if value.startswith("/"):
        raise ValidationError("The root directory is relative to the repository, e.g. apps/web.")
    if value.startswith("-"):
        raise ValidationError("A root directory cannot start with “-”.")
    if ".." in value.split("/"):
        raise ValidationError("A root directory cannot contain “..”.")


# Variable names -----------------------------------------------------------------------------

# pm2 flattens an app's env into its own process record: a variable with one of these names
# would change how pm2 runs the process (pm_out_log_path, cwd, args, uid...). So would any
# option name of pm2 (pm2_option_names) and any name with one of PM2_PREFIXES.
PM2_RUNTIME_KEYS = frozenset({
    "name", "status", "pm_id", "restart_time", "unstable_restarts", "created_at", "unique_id",
    "pm_uptime", "exit_code", "prev_restart_delay", "versioning", "version", "km_link",
    "exec_mode", "exec_interpreter", "username", "windowsHide", "kill_retry_time", "env",
    "instances", "axm_actions", "axm_monitor", "axm_options", "axm_dynamic", "treekill",
    "automation", "pmx", "vizion", "vizion_running", "namespace", "node_args", "args", "cwd",
})
PM2_PREFIXES = ("pm_", "pm2_", "axm_")  # compared case-insensitively: PM2_HOME too
# The platform's own variables (PAAS_DEPLOYMENT_ID, PAAS_PUBLIC_URL...): it sets them, and
# logs do not mask their values.
PLATFORM_PREFIX = "PAAS_"


def pm2_reserves(key: str) -> bool:
    """Whether PM2 would read a variable named `key` as part of its own process record."""
    return (key in PM2_RUNTIME_KEYS or key in pm2_option_names()
            or key.lower().startswith(PM2_PREFIXES))


@cache
def pm2_option_names() -> frozenset[str]:
    """Every option name of the installed pm2 (lib/API/schema.json), aliases included; none
    when pm2 is not installed here."""
    bin_path = Path(settings.PAAS_PM2_BIN).resolve()  # node_modules/pm2/bin/pm2
    try:
        schema = json.loads((bin_path.parent.parent / "lib/API/schema.json").read_text())
    except (OSError, ValueError):
        schema = {}
    names = set(schema)
    for option in schema.values():
        alias = option.get("alias") if isinstance(option, dict) else None
        names.update([alias] if isinstance(alias, str) else alias or [])
    return frozenset(names)


def reserved_key_reason(key: str) -> str | None:
    """Why a user may not set a variable named `key`, or None when it is theirs to set."""
    if pm2_reserves(key):
        return f"{key} is reserved: PM2 uses it to run the service."
    if key.startswith(PLATFORM_PREFIX):
        return (f"{key} is reserved: {PLATFORM_PREFIX}* variables are set by the platform "
                "(e.g. PAAS_PUBLIC_URL); choose another name.")
    return None


def validate_unreserved_key(key: str) -> None:
    """Raise ValidationError, naming the key and why, if a user may not set it."""
    if reason := reserved_key_reason(key):
        raise ValidationError(reason, code="reserved_key")
