"""The output files PM2 writes for the log shipper (deployments.engine.shipper): finding them
without following a link, opening only the daemon's own, and freeing the part already read.

    PAAS_APPS_DIR/logs/<schema>/<service id>/<deployment id>/<type>-<index>.{out,err}.log[.1]
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deployments.engine import releases
from deployments.models import Stream

ROTATED = ".1"  # appended to a file renamed aside (rotation without hole punching)
FILE_NAME = re.compile(
    rf"[A-Za-z0-9_-]+-[0-9]+({re.escape(releases.OUT_SUFFIX)}|{re.escape(releases.ERR_SUFFIX)})"
    rf"({re.escape(ROTATED)})?")
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
STREAMS = {releases.OUT_SUFFIX: Stream.STDOUT, releases.ERR_SUFFIX: Stream.STDERR}
BLOCK = 4096
_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02


@dataclass(frozen=True, slots=True)
class Source:
    """Whose a file is, as its path says."""

    schema_name: str
    service_id: int
    deployment_id: int


def candidates(root: Path) -> Iterator[tuple[str, Source, str]]:
    """(path, source, stream suffix) of the files in the logs tree, reached through
    directories only: a link is never followed."""
    for schema in _directories(root):
        if not SCHEMA_NAME.fullmatch(schema.name):
            continue
        for service in _directories(schema.path):
            if not service.name.isdigit():
                continue
            for deployment in _directories(service.path):
                if not deployment.name.isdigit():
                    continue
                source = Source(schema.name, int(service.name), int(deployment.name))
                try:
                    entries = list(os.scandir(deployment.path))
                except OSError:
                    continue
                for entry in entries:
                    match = FILE_NAME.fullmatch(entry.name)
                    if match and entry.is_file(follow_symlinks=False):
                        yield entry.path, source, match[1]


def _directories(path: str | Path) -> list[os.DirEntry]:
    try:
        return [entry for entry in os.scandir(path) if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def open_checked(path: str, identity: tuple[int, int]) -> tuple[int, int] | None:
    """(descriptor, size) of the file the walk found at `path`, read-only, when it is a
    regular file of this process's user (the daemon's), with one name, reached without a
    link: never one an app made or pointed at. None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    status = os.fstat(fd)
    if ((status.st_dev, status.st_ino) != identity or not stat.S_ISREG(status.st_mode)
            or status.st_uid != os.geteuid() or status.st_nlink != 1
            or os.path.realpath(path) != path):
        os.close(fd)
        return None
    return fd, status.st_size


_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]


def punch_hole(path: str, identity: tuple[int, int], end: int) -> int | None:
    """Free the disk blocks of the file's first `end` bytes (rounded down to a block), which
    then read as zeros: its size, the offsets in it and the daemon's descriptor stay as they
    are, so nothing written meanwhile is lost. The bytes freed from the start; None when the
    filesystem cannot (the caller rotates by renaming then)."""
    end -= end % BLOCK
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        status = os.fstat(fd)
        if (status.st_dev, status.st_ino) != identity:
            return 0
        if end <= 0:
            return 0
        if _libc.fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, 0, end) != 0:
            error = ctypes.get_errno()
            if error in (errno.EOPNOTSUPP, errno.ENOSYS):
                return None
            return 0
        return end
    finally:
        os.close(fd)
