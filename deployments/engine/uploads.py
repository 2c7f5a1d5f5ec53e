"""An uploaded source tree into a build directory (DESIGN.md §5, step 1, for uploads).

The archive's bytes come from the database (every host reads the same), are streamed to a
temporary file of the build host, compared with the size and sha256 recorded at upload, and
extracted by deployments.archives, which checks every entry again: the limits and the rules
are those of this host's settings and code, whatever accepted the upload.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from deployments.archives import ArchiveRefused, Summary, extract
from deployments.engine.source import SourceError
from deployments.models import SourceArchive


class _Hashing:
    """A file that also hashes what is written to it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.digest = out, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.out.write(data)


def size_text(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} kB"
    return f"{size / (1024 * 1024):.1f} MB"


def unpack(archive: SourceArchive, dest: Path, log: Callable[[str], None]) -> Summary:
    """Extract `archive` into `dest` (which must not exist or be empty; on failure it is left
    as it was). Raises SourceError with a message a user may read."""
    by = f", uploaded by {archive.uploaded_by}" if archive.uploaded_by else ""
    log(f"Unpacking the upload ({archive.files} files, {size_text(archive.expanded_bytes)}, "
        f"sha256 {archive.short_sha}…{by})")
    with tempfile.TemporaryDirectory(prefix="paas-upload-") as temp:
        path = Path(temp) / "source.tar.gz"
        with open(path, "wb") as out:
            hashing = _Hashing(out)
            written = archive.write_to(hashing)
        if written != archive.size or hashing.digest.hexdigest() != archive.sha256:
            raise SourceError(f"The stored upload {archive.short_sha} is damaged (its size or "
                              "sha256 differs from what was uploaded); upload it again.")
        try:
            summary = extract(path, dest)
        except ArchiveRefused as error:
            raise SourceError(f"The upload was refused: {error}") from None
    log(f"Unpacked {summary.files} files ({size_text(summary.bytes)})")
    return summary
