"""Uploaded source trees (deployments.archives): hostile archives are refused with a message
naming the entry and leave nothing behind; a good one is extracted faithfully."""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import tarfile
from pathlib import Path

import pytest

from deployments.archives import ArchiveRefused, Limits, check, extract

LIMITS = Limits(max_bytes=10 * 1024 * 1024, max_expanded_bytes=200 * 1024 * 1024,
                max_ratio=100, max_files=1000)


def entry(name: str, data: bytes | None = b"hello\n", *, kind: bytes = tarfile.REGTYPE,
          mode: int = 0o644, target: str = "", pax: dict[str, str] | None = None,
          ) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, target
    info.mtime = 1_700_000_000
    if kind == tarfile.REGTYPE:
        info.size = len(data or b"")
    else:
        data = None
    if pax:
        info.pax_headers = pax
    return info, data


def link(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    return entry(name, kind=tarfile.SYMTYPE, target=target, mode=0o777)


def hard(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    return entry(name, kind=tarfile.LNKTYPE, target=target)


def folder(name: str, mode: int = 0o755) -> tuple[tarfile.TarInfo, None]:
    return entry(name, kind=tarfile.DIRTYPE, mode=mode)


def targz(*members: tuple[tarfile.TarInfo, bytes | None],
          fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed:
        with tarfile.open(fileobj=compressed, mode="w", format=fmt, encoding="utf-8",
                          errors="surrogateescape") as tar:
            for info, data in members:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def many_files(count: int) -> bytes:
    return targz(*(entry(f"f{i}", b"") for i in range(count)))


def bomb() -> bytes:
    """50 MB of zeros: about 50 kB compressed, a ratio near 1000."""
    info = tarfile.TarInfo("zeros.bin")
    info.size = 50 * 1024 * 1024
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as compressed:
        with tarfile.open(fileobj=compressed, mode="w") as tar:
            tar.addfile(info, io.BytesIO(bytes(info.size)))
    return buffer.getvalue()


GOOD = targz(entry("package.json", b"{}\n"))

HOSTILE = {
    "absolute": (lambda out: targz(entry(str(out / "evil"))), "is an absolute path"),
    "dotdot": (lambda out: targz(entry("../x")), "“../x” goes up a directory"),
    "inner dotdot": (lambda out: targz(entry("a/../../x")), "“a/../../x” goes up"),
    "symlink to /etc/passwd": (lambda out: targz(link("passwd", "/etc/passwd")),
                               "“passwd” points to the absolute path “/etc/passwd”"),
    "symlink up": (lambda out: targz(folder("a"), link("a/up", "../..")),
                   "“a/up” → “../..” leads outside the tree"),
    "write through a symlinked directory": (
        lambda out: targz(folder("real"), link("via", "real"), entry("via/x")),
        "“via/x” would be written through the symbolic link “via”"),
    "escape through an earlier link": (
        lambda out: targz(link("here", "."), link("out", "here/..")),
        "“out” → “here/..” leads outside the tree"),
    "escape through a later link": (
        lambda out: targz(link("out", "here/.."), link("here", ".")),
        "“out” → “here/..” leads outside the tree"),
    "link loop": (lambda out: targz(link("a", "b/x"), link("b", "a/y")), "loop of links"),
    "hardlink outside": (lambda out: targz(hard("h", "../../etc/passwd")), "goes up"),
    "hardlink absolute": (lambda out: targz(hard("h", "/etc/passwd")), "absolute path"),
    "hardlink to nothing earlier": (lambda out: targz(hard("h", "later"), entry("later")),
                                    "not an earlier file"),
    "char device": (lambda out: targz(entry("null", kind=tarfile.CHRTYPE)),
                    "“null” is a device"),
    "block device": (lambda out: targz(entry("sda", kind=tarfile.BLKTYPE)), "is a device"),
    "fifo": (lambda out: targz(entry("pipe", kind=tarfile.FIFOTYPE)), "“pipe” is a FIFO"),
    "setuid": (lambda out: targz(entry("sh", mode=0o4755)), "“sh” has the setuid"),
    "setgid directory": (lambda out: targz(folder("d", mode=0o2755)), "setgid"),
    "twice": (lambda out: targz(entry("a"), entry("a")), "“a” appears twice"),
    "file over a directory": (lambda out: targz(folder("a"), entry("a")), "appears twice"),
    "inside a file": (lambda out: targz(entry("a"), entry("a/b")), "which is a file"),
    "too many files": (lambda out: many_files(10_000), "more than 1000 entries"),
    "gzip bomb": (lambda out: bomb(), "times its compressed size"),
    "truncated gzip": (lambda out: targz(entry("a", os.urandom(50_000)))[:-30],
                       "truncated"),
    "corrupt gzip": (lambda out: _corrupt(targz(entry("a", os.urandom(50_000)))),
                     "not a valid gzip file"),
    "not gzip": (lambda out: b"PK\x03\x04 a zip file" + bytes(100), "not a gzip file"),
    "gzip but not tar": (lambda out: gzip.compress(b"just text\n" * 100),
                         "not a valid tar archive"),
    "empty": (lambda out: targz(), "empty"),
    "NUL in a name": (lambda out: targz(entry("x", pax={"path": "a\x00b"})),
                      "“a\\x00b” contains a control character"),
    "name too long": (lambda out: targz(entry("a" * 256)), "is too long for a file name"),
    "huge pax record": (lambda out: targz(entry("x", pax={"comment": "x" * 200_000})),
                        "An extended header of"),
    "huge GNU long name": (lambda out: targz(entry("d/" * 50_000 + "x"),
                                             fmt=tarfile.GNU_FORMAT),
                           "An extended header of"),
    "newline in a name": (lambda out: targz(entry("a\nb")), "control character"),
    "invalid UTF-8": (lambda out: targz(entry("bad\udcffname"), fmt=tarfile.GNU_FORMAT),
                      "“bad\\xffname” is not valid UTF-8"),
}


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    """The target directory (not made yet) and a neighbour with a file that must not change."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("untouched")
    return tmp_path / "work" / "src", outside


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_archive_is_refused_and_leaves_nothing(tmp_path, places, case):
    out, outside = places
    make, message = HOSTILE[case]
    body = make(outside)
    archive = tmp_path / "upload.tar.gz"
    archive.write_bytes(body)

    with pytest.raises(ArchiveRefused, match=_literal(message)) as checked:
        check(io.BytesIO(body), len(body), LIMITS)
    with pytest.raises(ArchiveRefused, match=_literal(message)) as extracted:
        extract(archive, out, LIMITS)

    assert str(checked.value) == str(extracted.value)  # one code path, one message
    assert "\n" not in str(extracted.value)
    assert not out.exists(), "a partial tree was left behind"
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == []
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "untouched"


def test_a_refused_archive_leaves_an_existing_empty_directory_empty(tmp_path):
    out = tmp_path / "src"
    out.mkdir()
    archive = tmp_path / "upload.tar.gz"
    archive.write_bytes(targz(entry("a/b/ok.txt"), folder("real"), link("via", "real"),
                              entry("via/x")))
    with pytest.raises(ArchiveRefused, match="written through"):
        extract(archive, out, LIMITS)
    assert out.is_dir() and not list(out.iterdir())


def test_the_limits(tmp_path):
    body = targz(entry("big.bin", os.urandom(300_000)))
    with pytest.raises(ArchiveRefused, match=r"larger than 1000 bytes \(PAAS_UPLOAD_MAX_BYTES"):
        check(io.BytesIO(body), len(body), Limits(1000, 10**9, 100, 10))
    with pytest.raises(ArchiveRefused, match="“big.bin” takes the archive past 100000 bytes"):
        check(io.BytesIO(body), len(body), Limits(10**9, 100_000, 100, 10))
    # A small archive may expand past the ratio up to a floor (an empty tar alone is 10 kB).
    small = targz(entry("a", b""))
    assert len(small) * 100 < 10_240
    assert check(io.BytesIO(small), len(small), LIMITS).files == 1


def test_a_good_archive_is_extracted_faithfully(tmp_path):
    body = targz(
        folder("./"),
        folder("app"),
        entry("app/run.sh", b"#!/bin/sh\necho hi\n", mode=0o755),
        entry("app/lib/deep/data.txt", b"data\n", mode=0o640),
        link("app/current", "lib/deep"),
        link("app/lib/deep/up", "../../run.sh"),
        link("dangling", "app/not-yet"),
        hard("app/copy.sh", "app/run.sh"),
        folder("app/sticky", mode=0o1777),
        entry("naïve café.txt", b"unicode\n"),
    )
    archive = tmp_path / "upload.tar.gz"
    archive.write_bytes(body)
    out = tmp_path / "src"

    summary = extract(archive, out, LIMITS)

    assert (summary.files, summary.entries) == (4, 10)
    assert summary.bytes == len(b"#!/bin/sh\necho hi\n") + len(b"data\n") + len(b"unicode\n")
    run = out / "app" / "run.sh"
    assert run.read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE(run.stat().st_mode) == 0o755
    assert int(run.stat().st_mtime) == 1_700_000_000
    assert stat.S_IMODE((out / "app/lib/deep/data.txt").stat().st_mode) == 0o640
    assert os.readlink(out / "app" / "current") == "lib/deep"
    assert (out / "app" / "current" / "data.txt").read_text() == "data\n"
    assert (out / "app/lib/deep/up").read_text() == "#!/bin/sh\necho hi\n"
    assert os.readlink(out / "dangling") == "app/not-yet"
    assert os.path.samefile(out / "app" / "copy.sh", run)
    assert stat.S_IMODE((out / "app" / "sticky").stat().st_mode) == 0o777  # sticky dropped
    assert (out / "naïve café.txt").read_text() == "unicode\n"
    assert check(io.BytesIO(body), len(body), LIMITS) == summary


def _corrupt(body: bytes) -> bytes:
    """The gzip trailer's CRC changed."""
    return body[:-8] + bytes([body[-8] ^ 0xFF]) + body[-7:]


def _literal(text: str) -> str:
    return re.escape(text)
