"""Uploaded source trees: a gzipped tar, checked entry by entry while it is decompressed, and
extracted without anything landing outside its directory.

One walk serves both uses: `check` (the upload, before anything is stored: nothing is
written) and `extract` (the build host, into the release's `src/`). Refused, each with a
one-line message naming the entry: names that are absolute, contain `..`, are not UTF-8 or
hold control characters; symbolic links whose target leaves the tree (absolute, or up through
`..`, also by way of another link in the tree); hard links to anything but an earlier file;
entries written through a symbolic link or over an earlier entry; devices, FIFOs and other
special files; setuid and setgid bits (the sticky bit is dropped); more entries than
PAAS_UPLOAD_MAX_FILES; and more decompressed bytes than PAAS_UPLOAD_MAX_EXPANDED_BYTES or
PAAS_UPLOAD_MAX_RATIO times the compressed size (counted as the gzip stream is read, so a
bomb stops there, whatever the headers claim). A refused extraction leaves nothing behind.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

GZIP_MAGIC = b"\x1f\x8b"
RATIO_FLOOR = 1024 * 1024  # a tiny archive may expand this much whatever its ratio
CHUNK = 64 * 1024
MAX_LINK_HOPS = 40  # as Linux's own limit on following links
MAX_NAME_BYTES, MAX_PATH_BYTES = 255, 4000  # a component, a whole name (Linux: 255, 4096)
_SHOWN_MAX = 120
MAX_EXTENDED_HEADER = 64 * 1024  # a pax record or GNU long name; real ones are a few hundred

Parts = tuple[str, ...]


class ArchiveRefused(Exception):
    """The archive is not accepted; str(error) says why in one line, naming the entry."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_expanded_bytes: int
    max_ratio: int
    max_files: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(settings.PAAS_UPLOAD_MAX_BYTES, settings.PAAS_UPLOAD_MAX_EXPANDED_BYTES,
                   settings.PAAS_UPLOAD_MAX_RATIO, settings.PAAS_UPLOAD_MAX_FILES)

    def allowance(self, compressed_size: int) -> int:
        """How many decompressed bytes an archive of `compressed_size` may expand to."""
        return min(self.max_expanded_bytes,
                   max(self.max_ratio * compressed_size, RATIO_FLOOR))


@dataclass(frozen=True)
class Summary:
    entries: int  # every member: directories, files, links
    files: int  # regular files and hard links
    bytes: int  # their contents


@dataclass
class _Entry:
    kind: str  # "dir", "file" or "link"
    target: str = ""  # a link's


def shown(name: str) -> str:
    """A name as a message may show it: invalid bytes and control characters escaped, long
    names shortened."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256
                   else f"\\u{ord(c):04x}" for c in text)
    return f"“{text[:_SHOWN_MAX]}{'…' if len(text) > _SHOWN_MAX else ''}”"


def spool(source: bytes | BinaryIO, out: BinaryIO, limits: Limits) -> tuple[int, str]:
    """Copy an upload (bytes, or a file read to its end) to `out`, refusing it once it
    passes PAAS_UPLOAD_MAX_BYTES; returns its size and sha256 (hex)."""
    digest, size = hashlib.sha256(), 0
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else source
    while data := stream.read(CHUNK):
        size += len(data)
        if size > limits.max_bytes:
            raise ArchiveRefused(f"The archive is larger than {limits.max_bytes} bytes "
                                 "(PAAS_UPLOAD_MAX_BYTES).")
        digest.update(data)
        out.write(data)
    out.seek(0)
    return size, digest.hexdigest()


def check(fileobj: BinaryIO, compressed_size: int, limits: Limits | None = None) -> Summary:
    """Read the whole archive from `fileobj` and raise ArchiveRefused if extracting it would
    be refused; nothing is written."""
    return _walk(fileobj, compressed_size, limits or Limits.from_settings(), None)


def extract(archive: Path, dest: Path, limits: Limits | None = None) -> Summary:
    """Extract the .tar.gz at `archive` into `dest` (created; it must not exist or be
    empty). On refusal `dest` is as it was before: nothing of the archive remains."""
    if dest.exists() and (not dest.is_dir() or dest.is_symlink() or any(dest.iterdir())):
        raise ArchiveRefused("The build directory is not empty.")
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with open(archive, "rb") as fileobj:
            return _walk(fileobj, archive.stat().st_size, limits or Limits.from_settings(),
                         _Writer(dest))
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in dest.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise


class _BoundedTarInfo(tarfile.TarInfo):
    """A tar header whose extended records (a GNU long name or link, pax attributes) are
    refused past MAX_EXTENDED_HEADER before tarfile reads them into memory whole: within the
    expansion allowance a single record could otherwise take a gigabyte of the web process."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        extended = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                    tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
        if self.type in extended and self.size > MAX_EXTENDED_HEADER:
            raise ArchiveRefused(f"An extended header of {self.size} bytes (a long name or pax "
                                 f"record; at most {MAX_EXTENDED_HEADER}) is refused.")
        return super()._proc_member(tar)


class _Counted:
    """The decompressed stream, refusing the archive once it passes its allowance."""

    def __init__(self, raw: BinaryIO, allowance: int, limits: Limits) -> None:
        self.gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self.allowance, self.limits, self.total = allowance, limits, 0

    def read(self, size: int = -1) -> bytes:
        data = self.gzip.read(CHUNK if size is None or size < 0 else min(size, 1 << 20))
        self.total += len(data)
        if self.total > self.allowance:
            if self.allowance >= self.limits.max_expanded_bytes:
                raise ArchiveRefused(
                    f"The archive expands to more than {self.limits.max_expanded_bytes} bytes "
                    "(PAAS_UPLOAD_MAX_EXPANDED_BYTES).")
            raise ArchiveRefused(
                f"The archive expands to more than {self.limits.max_ratio} times its "
                f"compressed size (PAAS_UPLOAD_MAX_RATIO): refused as a possible gzip bomb.")
        return data


def _walk(raw: BinaryIO, compressed_size: int, limits: Limits,
          writer: _Writer | None) -> Summary:
    if compressed_size > limits.max_bytes:
        raise ArchiveRefused(f"The archive is larger than {limits.max_bytes} bytes "
                             "(PAAS_UPLOAD_MAX_BYTES).")
    if raw.read(2) != GZIP_MAGIC:
        raise ArchiveRefused("The upload is not a gzip file (a .tar.gz is expected).")
    raw.seek(0)
    stream = _Counted(raw, limits.allowance(compressed_size), limits)
    walk = _Walk(limits, writer)
    try:
        with tarfile.open(fileobj=stream, mode="r|", encoding="utf-8",
                          errors="surrogateescape", tarinfo=_BoundedTarInfo) as tar:
            for member in tar:
                walk.member(tar, member)
        while stream.read(CHUNK):  # the rest, so that the gzip trailer (CRC) is checked
            pass
    except (gzip.BadGzipFile, zlib.error) as error:
        raise ArchiveRefused(f"The upload is not a valid gzip file ({error}).") from None
    except EOFError:
        raise ArchiveRefused("The archive is truncated: its gzip stream ends early.") from None
    except tarfile.TarError as error:
        raise ArchiveRefused(f"The upload is not a valid tar archive ({error}).") from None
    if not walk.tree:
        raise ArchiveRefused("The archive is empty.")
    walk.finish()
    return Summary(entries=walk.entries, files=walk.files, bytes=walk.bytes)


class _Walk:
    """The checks, entry by entry, over a map of what the archive has made so far."""

    def __init__(self, limits: Limits, writer: _Writer | None) -> None:
        self.limits, self.writer = limits, writer
        self.tree: dict[Parts, _Entry] = {}
        self.entries = self.files = self.bytes = 0

    def member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.entries += 1
        if self.entries > self.limits.max_files:
            raise ArchiveRefused(f"The archive has more than {self.limits.max_files} entries "
                                 "(PAAS_UPLOAD_MAX_FILES).")
        name = shown(member.name)
        parts = _parts(member.name, f"The entry {name}")
        if not parts:
            if member.isdir():
                return  # "./": the tree itself
            raise ArchiveRefused(f"The entry {name} has no name.")
        kind = _kind(member, name)
        if member.mode & 0o6000:
            raise ArchiveRefused(f"The entry {name} has the setuid or setgid bit.")
        self._parents(parts, name)
        existing = self.tree.get(parts)
        if existing is not None and not (existing.kind == kind == "dir"):
            raise ArchiveRefused(f"The entry {name} appears twice in the archive.")
        try:
            self._add(tar, member, parts, kind, name)
        except gzip.BadGzipFile:
            raise  # reading, not writing: refused as not valid gzip
        except OSError as error:  # the disk is full, say: the host's problem, named
            raise ArchiveRefused(f"The entry {name} could not be written: "
                                 f"{error.strerror or error}.") from None

    def _add(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: Parts, kind: str,
             name: str) -> None:
        if kind == "dir":
            self.tree[parts] = _Entry("dir")
            if self.writer:
                self.writer.directory(parts, member.mode)
        elif kind == "link":
            self._symlink(parts, member.linkname, name)
        elif kind == "hardlink":
            self._hardlink(parts, member.linkname, name)
        else:
            self._file(tar, member, parts, name)

    def _parents(self, parts: Parts, name: str) -> None:
        """Every directory above the entry exists (made now if the archive leaves it
        implicit); none is a link or a file."""
        for depth in range(1, len(parts)):
            above = self.tree.get(parts[:depth])
            if above is None:
                self.tree[parts[:depth]] = _Entry("dir")
                if self.writer:
                    self.writer.directory(parts[:depth], 0o755)
            elif above.kind == "link":
                raise ArchiveRefused(f"The entry {name} would be written through the symbolic "
                                     f"link {shown('/'.join(parts[:depth]))}.")
            elif above.kind != "dir":
                raise ArchiveRefused(f"The entry {name} is inside "
                                     f"{shown('/'.join(parts[:depth]))}, which is a file.")

    def _symlink(self, parts: Parts, target: str, name: str) -> None:
        _valid_text(target, f"The symbolic link {name}'s target")
        if target.startswith("/"):
            raise ArchiveRefused(f"The symbolic link {name} points to the absolute path "
                                 f"{shown(target)}, outside the tree.")
        self.tree[parts] = _Entry("link", target)
        self._inside(parts)
        if self.writer:
            self.writer.symlink(parts, target)

    def _inside(self, parts: Parts) -> None:
        problem, _ = _resolve(self.tree, parts[:-1], self.tree[parts].target, [0])
        if problem:
            raise ArchiveRefused(f"The symbolic link {shown('/'.join(parts))} → "
                                 f"{shown(self.tree[parts].target)} {problem}.")

    def _hardlink(self, parts: Parts, target: str, name: str) -> None:
        source = _parts(target, f"The hard link {name}'s target")
        entry = self.tree.get(source)
        if entry is None or entry.kind != "file" or any(
                self.tree.get(source[:depth], _Entry("dir")).kind != "dir"
                for depth in range(1, len(source))):
            raise ArchiveRefused(f"The hard link {name} points to {shown(target)}, which is "
                                 "not an earlier file of the archive.")
        self.tree[parts] = _Entry("file")
        self.files += 1
        if self.writer:
            self.writer.hardlink(parts, source)

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: Parts,
              name: str) -> None:
        if self.bytes + member.size > self.limits.max_expanded_bytes:
            raise ArchiveRefused(f"The entry {name} takes the archive past "
                                 f"{self.limits.max_expanded_bytes} bytes "
                                 "(PAAS_UPLOAD_MAX_EXPANDED_BYTES).")
        self.tree[parts] = _Entry("file")
        self.files += 1
        content = tar.extractfile(member)
        assert content is not None
        sink = self.writer.file(parts, member.mode) if self.writer else None
        try:
            while chunk := content.read(CHUNK):
                self.bytes += len(chunk)
                if sink is not None:
                    _write_all(sink, chunk)
            if sink is not None:
                os.utime(sink, (member.mtime, member.mtime))
        finally:
            if sink is not None:
                os.close(sink)

    def finish(self) -> None:
        """Every link again, now that the tree is complete: a link may have been made, later
        in the archive, on the way of an earlier one's target."""
        for parts, entry in self.tree.items():
            if entry.kind == "link":
                self._inside(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _valid_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ArchiveRefused(f"{what} {shown(text)} is not valid UTF-8.") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ArchiveRefused(f"{what} {shown(text)} contains a control character.")


def _parts(path: str, what: str) -> Parts:
    """The components of an entry's name (or a hard link's target), refusing names that
    are absolute or go up."""
    _valid_text(path, what)
    if path.startswith("/"):
        raise ArchiveRefused(f"{what} {shown(path)} is an absolute path.")
    parts = tuple(part for part in path.split("/") if part not in ("", "."))
    if ".." in parts:
        raise ArchiveRefused(f"{what} {shown(path)} goes up a directory (“..”).")
    if (len(path.encode()) > MAX_PATH_BYTES
            or any(len(part.encode()) > MAX_NAME_BYTES for part in parts)):
        raise ArchiveRefused(f"{what} {shown(path)} is too long for a file name.")
    return parts


def _kind(member: tarfile.TarInfo, name: str) -> str:
    if member.issparse():
        raise ArchiveRefused(f"The entry {name} is a sparse file, which is not supported.")
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "link"
    if member.islnk():
        return "hardlink"
    if member.ischr() or member.isblk():
        raise ArchiveRefused(f"The entry {name} is a device.")
    if member.isfifo():
        raise ArchiveRefused(f"The entry {name} is a FIFO.")
    raise ArchiveRefused(f"The entry {name} is a special file (type {member.type!r}).")


def _resolve(tree: dict[Parts, _Entry], base: Parts, target: str,
             hops: list[int]) -> tuple[str, Parts]:
    """Where `target`, relative to the directory `base` of the tree, leads (following the
    tree's own links on the way), and why that is outside the tree ("" when it is not)."""
    current: Parts = base
    for part in (p for p in target.split("/") if p not in ("", ".")):
        if part == "..":
            if not current:
                return "leads outside the tree", current
            current = current[:-1]
            continue
        current = (*current, part)
        entry = tree.get(current)
        if entry is not None and entry.kind == "link":
            hops[0] += 1
            if hops[0] > MAX_LINK_HOPS:
                return "goes round a loop of links", current
            if entry.target.startswith("/"):
                return "leads outside the tree", current
            problem, current = _resolve(tree, current[:-1], entry.target, hops)
            if problem:
                return problem, current
    return "", current


class _Writer:
    """Writes the checked entries under `root`, never following a link."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, parts: Parts) -> str:
        return os.path.join(self.root, *parts)

    def directory(self, parts: Parts, mode: int) -> None:
        path = self._path(parts)
        if not os.path.isdir(path) or os.path.islink(path):
            os.mkdir(path, 0o700)
        os.chmod(path, (mode & 0o777) | 0o700, follow_symlinks=False)

    def file(self, parts: Parts, mode: int) -> int:
        path = self._path(parts)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, (mode & 0o777) | 0o600)
        return fd

    def symlink(self, parts: Parts, target: str) -> None:
        os.symlink(target, self._path(parts))

    def hardlink(self, parts: Parts, source: Parts) -> None:
        os.link(self._path(source), self._path(parts), follow_symlinks=False)
