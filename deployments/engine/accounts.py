"""The Unix user of each workspace: who its builds and apps run as (README, Isolation).

    uid    first uid of PAAS_WORKSPACE_UIDS + the workspace's id
    name   PAAS_WORKSPACE_USER_PREFIX + uid (e.g. paas-200007); its group has the same name
           and id, and no other member
    home   PAAS_APPS_DIR/home/<schema>, the user's own (mode 0700)

A host creates the user the first time the workspace builds or runs there (each host of the
engine creates the same ids) and the monitor removes it once the workspace is gone.

Directories. What a workspace has on a host lives under PAAS_APPS_DIR/<kind>/<schema>/ (kind:
releases, cache, logs, home), made root:<workspace group>, mode 0710: the workspace's user
may go through, nobody else may look. Below it, what the user writes (checkouts, caches, its
home) is the user's; what the panel relies on (release markers and manifests, the log files
PM2 writes as root) stays root's, so that the user can never turn it into a link elsewhere.

With isolation off (settings.PAAS_ISOLATED false: the panel is not root, or it was turned
off) every function here is a no-op and `account_for` returns None.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

from tenants.models import Workspace

NOLOGIN = next((shell for shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
                if os.path.exists(shell)), "/bin/false")
KINDS = ("releases", "cache", "logs", "home")


class AccountError(Exception):
    """The workspace's user cannot be made or used on this host (the message says why)."""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    schema_name: str

    @property
    def gid(self) -> int:
        return self.uid

    @property
    def home(self) -> Path:
        return settings.PAAS_APPS_DIR / "home" / self.schema_name


def uid_for(workspace_id: int) -> int:
    first, last = settings.PAAS_WORKSPACE_UIDS
    uid = first + workspace_id
    if uid > last:
        raise AccountError(
            f"Workspace {workspace_id} is beyond PAAS_WORKSPACE_UIDS ({first}-{last}): "
            "widen the range."
        )
    return uid


def account_for(schema_name: str, workspace_id: int) -> Account | None:
    if not settings.PAAS_ISOLATED:
        return None
    uid = uid_for(workspace_id)
    return Account(name=f"{settings.PAAS_WORKSPACE_USER_PREFIX}{uid}", uid=uid,
                   schema_name=schema_name)


def _workspace_id(schema_name: str) -> int:
    workspace_id = (Workspace.objects.filter(schema_name=schema_name)
                    .values_list("pk", flat=True).first())
    if workspace_id is None:
        raise AccountError(f"No workspace has the schema {schema_name}.")
    return workspace_id


def current() -> Account | None:
    """The account of the workspace whose schema the connection uses, made on this host."""
    if not settings.PAAS_ISOLATED:
        return None
    schema_name = connection.schema_name
    tenant = getattr(connection, "tenant", None)
    workspace_id = tenant.pk if isinstance(tenant, Workspace) else _workspace_id(schema_name)
    account = account_for(schema_name, workspace_id)
    ensure(account)
    return account


def ensure(account: Account) -> None:
    """The user, its group and home exist on this host (made now if not)."""
    if not _matches(account):
        _create(account)
    homes = apps_dir() / "home"
    homes.mkdir(exist_ok=True)
    homes.chmod(0o711)
    user_dir(account.home, account)


def _matches(account: Account) -> bool:
    try:
        entry = pwd.getpwnam(account.name)
    except KeyError:
        return False
    if entry.pw_uid != account.uid or entry.pw_gid != account.gid:
        raise AccountError(
            f"The user {account.name} exists with another uid or group than the panel's "
            f"({account.uid}): remove it or change PAAS_WORKSPACE_UIDS."
        )
    return True


def _create(account: Account) -> None:
    commands = []
    try:
        grp.getgrgid(account.gid)
    except KeyError:
        commands.append(["groupadd", "--gid", str(account.gid), account.name])
    commands.append(["useradd", "--system", "--uid", str(account.uid), "--gid",
                     str(account.gid), "--home-dir", str(account.home), "--no-create-home",
                     "--shell", NOLOGIN, "--comment", f"paas workspace {account.schema_name}",
                     account.name])
    for argv in commands:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        # Another worker of the host may have made it a moment ago (useradd locks
        # /etc/passwd; the loser fails with "already exists").
        if result.returncode != 0 and not _exists(argv[0], account):
            raise AccountError(f"{argv[0]} {account.name} failed: {result.stderr.strip()}")
    if not _matches(account):
        raise AccountError(f"The user {account.name} could not be made.")


def _exists(command: str, account: Account) -> bool:
    try:
        if command == "groupadd":
            return grp.getgrgid(account.gid).gr_name == account.name
        return pwd.getpwnam(account.name).pw_uid == account.uid
    except KeyError:
        return False


def remove(account: Account) -> None:
    """Remove the user and its group (its processes must be gone; its files are removed by
    the caller)."""
    for argv in (["userdel", account.name], ["groupdel", account.name]):
        subprocess.run(argv, capture_output=True, check=False)


def accounts_on_host() -> list[Account]:
    """The workspace users of this host: the prefix and the uid range the panel's."""
    first, last = settings.PAAS_WORKSPACE_UIDS
    prefix = settings.PAAS_WORKSPACE_USER_PREFIX
    found = []
    for entry in pwd.getpwall():
        if (first < entry.pw_uid <= last and entry.pw_name == f"{prefix}{entry.pw_uid}"):
            schema_name = Path(entry.pw_dir).name
            found.append(Account(name=entry.pw_name, uid=entry.pw_uid, schema_name=schema_name))
    return found


# Directories -------------------------------------------------------------------------------


def apps_dir() -> Path:
    """PAAS_APPS_DIR: searchable, not listable, by others (0711). With isolation, every
    directory above it must let others through, or no workspace user reaches its files."""
    path = settings.PAAS_APPS_DIR
    path.mkdir(parents=True, exist_ok=True)
    if settings.PAAS_ISOLATED:
        path.chmod(0o711)
        closed = next((folder for folder in path.parents if not folder.stat().st_mode & 0o001),
                      None)
        if closed is not None:
            raise AccountError(
                f"PAAS_APPS_DIR ({path}) is inside {closed}, which other users may not go "
                f"through: the workspaces' users cannot reach their releases. Set "
                f"PAAS_APPS_DIR elsewhere (e.g. /var/lib/paas/apps) or chmod o+x {closed}."
            )
    return path


def workspace_dir(kind: str, schema_name: str, account: Account | None) -> Path:
    """PAAS_APPS_DIR/<kind>/<schema>: root:<workspace group> 0710 when isolated."""
    assert kind in KINDS
    top = apps_dir() / kind
    top.mkdir(exist_ok=True)
    if account is not None:
        top.chmod(0o711)
    return panel_dir(top / schema_name, account)


def _directory(path: Path, account: Account | None, owner: int, mode: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if account is not None:
        os.chown(path, owner, account.gid, follow_symlinks=False)
        path.chmod(mode)
    return path


def panel_dir(path: Path, account: Account | None) -> Path:
    """A directory of the panel's inside a workspace directory (root:<group> 0710)."""
    return _directory(path, account, 0, 0o710)


def user_dir(path: Path, account: Account | None) -> Path:
    """A directory of the workspace user's own (0700) inside a workspace directory."""
    return _directory(path, account, account.uid if account else 0, 0o700)


def hand_over(path: Path, account: Account | None) -> None:
    """Give a tree the panel made (a checkout) to the workspace's user, without ever following
    a link: bottom up, so that no directory is the user's (and changeable by it) before
    everything below it is done. The tree's parent must not be the user's."""
    if account is None:
        return
    for folder, dirs, files in os.walk(path, topdown=False):
        for name in (*files, *dirs):
            os.chown(os.path.join(folder, name), account.uid, account.gid,
                     follow_symlinks=False)
    os.chown(path, account.uid, account.gid, follow_symlinks=False)
    path.chmod(0o700)


def private_tmp(account: Account | None) -> dict[str, str]:
    """TMPDIR of the workspace's builds and apps: a directory of its own rather than the
    host's shared /tmp (empty when isolation is off)."""
    if account is None:
        return {}
    return {"TMPDIR": str(user_dir(account.home / "tmp", account))}
