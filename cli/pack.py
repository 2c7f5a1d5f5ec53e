"""What `paas up` uploads: the project's directory as a .tar.gz, honouring .gitignore.

In a git work tree the files are what `git ls-files --cached --others --exclude-standard`
lists (tracked, and untracked but not ignored); elsewhere the .gitignore files of the tree
are read here (GitIgnore: the common syntax — `*`, `?`, `[…]`, `**`, a leading or inner `/`
anchors, a trailing `/` means directories, `!` re-includes). Always left out: `.git/`, the
link file `.paas.json`, special files, and symbolic links that lead out of the tree (they are
never followed; one that stays inside is packed as a link)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cli.config import LINK_FILE

ALWAYS_SKIPPED = {".git", LINK_FILE}


@dataclass
class Packed:
    files: int = 0
    skipped: list[str] = field(default_factory=list)  # links leaving the tree, special files


def _translate(pattern: str) -> str:
    out, index = [], 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("/**", index) and index + 3 == len(pattern):
            out.append("/.*")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        elif pattern[index] == "[" and "]" in pattern[index + 2:]:
            end = pattern.index("]", index + 2)
            body = pattern[index + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            index = end + 1
        else:
            if pattern[index] == "\\" and index + 1 < len(pattern):
                index += 1
            out.append(re.escape(pattern[index]))
            index += 1
    return "".join(out)


@dataclass(frozen=True)
class Rule:
    base: str  # the directory of its .gitignore, relative to the root ("" for the root)
    regex: re.Pattern
    negated: bool
    directories_only: bool


class GitIgnore:
    """The rules of the .gitignore files met so far; the last matching rule decides."""

    def __init__(self, rules: tuple[Rule, ...] = ()) -> None:
        self.rules = rules

    def with_file(self, base: str, text: str) -> GitIgnore:
        rules = list(self.rules)
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            line = line[1:] if negated else line
            line = line[1:] if line.startswith("\\") and line[1:2] in "#!" else line
            directories_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = "/" in line
            regex = _translate(line.lstrip("/"))
            regex = regex if anchored else "(?:.*/)?" + regex
            rules.append(Rule(base, re.compile(regex + r"\Z"), negated, directories_only))
        return GitIgnore(tuple(rules))

    def ignored(self, path: str, is_dir: bool) -> bool:
        verdict = False
        for rule in self.rules:
            if rule.directories_only and not is_dir:
                continue
            if rule.base:
                if not path.startswith(rule.base + "/"):
                    continue
                relative = path[len(rule.base) + 1:]
            else:
                relative = path
            if rule.regex.match(relative):
                verdict = not rule.negated
        return verdict


def _walk(root: Path) -> Iterator[str]:
    """Every path under `root` that no .gitignore leaves out (links not followed)."""
    ignores = {"": GitIgnore()}
    for directory, dirnames, filenames in os.walk(root):
        relative = os.path.relpath(directory, root)
        relative = "" if relative == "." else relative
        rules = ignores.pop(relative)
        gitignore = Path(directory) / ".gitignore"
        if gitignore.is_file() and not gitignore.is_symlink():
            rules = rules.with_file(relative, gitignore.read_text(errors="replace"))
        kept = []
        for name in sorted(dirnames):
            path = f"{relative}/{name}" if relative else name
            if name in ALWAYS_SKIPPED or rules.ignored(path, True):
                continue
            if (Path(directory) / name).is_symlink():
                yield path  # packed as a link, never descended into
                continue
            kept.append(name)
            ignores[path] = rules
        dirnames[:] = kept
        for name in sorted(filenames):
            path = f"{relative}/{name}" if relative else name
            if name not in ALWAYS_SKIPPED and not rules.ignored(path, False):
                yield path


def _git_files(root: Path) -> list[str] | None:
    """What git would keep, or None when `root` is not in a git work tree."""
    try:
        inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=root,
                                capture_output=True, text=True, check=False)
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return None
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    names = {name for name in listed.stdout.decode("utf-8", "surrogateescape").split("\0")
             if name}
    return sorted(name for name in names
                  if not ({".git", LINK_FILE} & {name.split("/")[0], name.rsplit("/", 1)[-1]}))


def files_of(root: Path, use_git: bool = True) -> list[str]:
    """The relative paths `paas up` packs from `root`."""
    listed = _git_files(root) if use_git else None
    return listed if listed is not None else list(_walk(root))


def _inside(root: Path, path: Path) -> bool:
    target = os.readlink(path)
    resolved = Path(os.path.normpath(path.parent / target))
    if os.path.isabs(target):
        return False
    try:
        resolved.relative_to(root)
    except ValueError:
        return False
    # A link through another link could still leave: resolve it fully.
    real = Path(os.path.realpath(path))
    try:
        real.relative_to(Path(os.path.realpath(root)))
    except ValueError:
        return False
    return True


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode &= 0o755 if info.isdir() or info.mode & 0o100 else 0o644
    return info


def pack(root: Path, out: BinaryIO, use_git: bool = True) -> Packed:
    """Write the .tar.gz of `root` to `out`."""
    root = root.resolve()
    packed = Packed()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name in files_of(root, use_git):
            path = root / name
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue  # listed by git but deleted since
            if stat.S_ISLNK(mode):
                if not _inside(root, path):
                    packed.skipped.append(name)
                    continue
            elif not stat.S_ISREG(mode):
                if not stat.S_ISDIR(mode):
                    packed.skipped.append(name)
                continue  # directories come with their files (git lists submodules so)
            tar.add(path, arcname=name, recursive=False, filter=_normalised)
            packed.files += 1
    return packed
