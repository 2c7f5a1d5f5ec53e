"""Where the CLI keeps what it knows.

- The user's config (`$XDG_CONFIG_HOME/paas/config.json`, else `~/.config/paas/config.json`;
  the directory 0700, the file 0600): each workspace URL logged in to, with its token, and
  which one is current.
- The link (`.paas.json` in the project's directory, found from the current one upwards):
  the workspace URL and the project, environment and service ids. No token in it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

LINK_FILE = ".paas.json"


class ConfigError(Exception):
    """Something the user has to do first (log in, link); str() says what."""


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "paas" / "config.json"


def write_private(path: Path, data: dict) -> None:
    """Write JSON readable by the user only: the directory 0700, the file 0600 from its first
    byte (written beside it, then renamed over it)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_config() -> dict:
    path = config_path()
    if not path.exists():
        return {"current": None, "panels": {}}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"Cannot read {path}: {error}") from None
    data.setdefault("panels", {})
    data.setdefault("current", None)
    return data


def save_login(url: str, token: str, workspace: str) -> None:
    data = load_config()
    data["panels"][url] = {"token": token, "workspace": workspace}
    data["current"] = url
    write_private(config_path(), data)


def forget_login(url: str) -> bool:
    data = load_config()
    if data["panels"].pop(url, None) is None:
        return False
    if data["current"] == url:
        data["current"] = next(iter(data["panels"]), None)
    write_private(config_path(), data)
    return True


def normal_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "https://" + url
    return url


@dataclass
class Link:
    url: str
    workspace: str
    project: int
    environment: int
    service: int
    service_name: str = ""


def find_link(start: Path | None = None) -> tuple[Path, Link] | None:
    """The nearest .paas.json from `start` (the current directory) upwards."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        path = directory / LINK_FILE
        if path.is_file():
            try:
                data = json.loads(path.read_text())
                return directory, Link(**{key: data[key] for key in Link.__dataclass_fields__
                                          if key in data})
            except (OSError, ValueError, TypeError) as error:
                raise ConfigError(f"Cannot read {path}: {error}") from None
    return None


def save_link(directory: Path, link: Link) -> Path:
    path = directory / LINK_FILE
    path.write_text(json.dumps(asdict(link), indent=2) + "\n")
    return path


def credentials(url: str | None) -> tuple[str, str]:
    """The workspace URL and token to use: PAAS_URL / PAAS_TOKEN from the environment (CI)
    over `url` (the link's) over the current login."""
    data = load_config()
    url = normal_url(os.environ.get("PAAS_URL") or url or data.get("current") or "") \
        if (os.environ.get("PAAS_URL") or url or data.get("current")) else ""
    if not url:
        raise ConfigError("Not logged in: run `paas login <workspace URL>`.")
    token = os.environ.get("PAAS_TOKEN") or data["panels"].get(url, {}).get("token")
    if not token:
        raise ConfigError(f"No token for {url}: run `paas login {url}`.")
    return url, token
