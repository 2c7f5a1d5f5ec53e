"""Packing (.gitignore honoured with and without git, .git and .paas.json left out, links out
of the tree never followed) and the config file (0600 in a 0700 directory, no token in the
link file)."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import tarfile

import pytest

from cli import config
from cli.main import main
from cli.pack import GitIgnore, pack


def tree(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def names(root, use_git: bool) -> set[str]:
    buffer = io.BytesIO()
    pack(root, buffer, use_git=use_git)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer, mode="r:gz") as tar:
        return set(tar.getnames())


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "app"
    tree(root, {
        ".gitignore": "node_modules/\n*.log\n/build\n!keep.log\nsecret[0-9].txt\n",
        "index.js": "1", "package.json": "{}", "debug.log": "x", "keep.log": "k",
        "node_modules/x/index.js": "x", "build/out.js": "o", "src/build/in.js": "i",
        "src/.gitignore": "*.tmp\n", "src/a.tmp": "t", "src/a.js": "a", "secret1.txt": "s",
        ".paas.json": "{}", ".git/config": "[core]",
    })
    (tmp_path / "outside.txt").write_text("private")
    os.symlink(tmp_path / "outside.txt", root / "escape")
    os.symlink("../outside.txt", root / "escape_relative")
    os.symlink("index.js", root / "alias.js")
    return root


EXPECTED = {".gitignore", "index.js", "package.json", "keep.log", "src/build/in.js",
            "src/.gitignore", "src/a.js", "alias.js"}


def test_without_git_the_gitignore_files_are_honoured(project):
    assert names(project, use_git=False) == EXPECTED


def test_in_a_git_work_tree_git_decides(project):
    (project / ".git" / "config").unlink()
    (project / ".git").rmdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    assert names(project, use_git=True) == EXPECTED


def test_links_out_of_the_tree_are_reported_not_followed(project):
    report = pack(project, io.BytesIO(), use_git=False)
    assert sorted(report.skipped) == ["escape", "escape_relative"]


def test_gitignore_patterns():
    rules = GitIgnore().with_file("", "**/cache\nlogs/**\ndocs/*.md\n\\#hash\n")
    assert rules.ignored("a/b/cache", True) and rules.ignored("cache", False)
    assert rules.ignored("logs/x/y", False) and not rules.ignored("logs", False)
    assert rules.ignored("docs/a.md", False) and not rules.ignored("docs/x/a.md", False)
    assert rules.ignored("#hash", False)


def test_the_config_is_0600_in_a_0700_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    config.save_login("http://team.panel.localhost:8000", "paas_secret", "team")
    path = tmp_path / "xdg" / "paas" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert config.credentials(None) == ("http://team.panel.localhost:8000", "paas_secret")
    monkeypatch.setenv("PAAS_TOKEN", "paas_from_ci")
    assert config.credentials(None)[1] == "paas_from_ci"
    saved = config.save_link(tmp_path, config.Link("http://x", "team", 1, 2, 3, "web"))
    assert "paas_" not in saved.read_text() and json.loads(saved.read_text())["service"] == 3


def test_usage_errors_exit_2_and_unlinked_directories_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    with pytest.raises(SystemExit) as usage:
        main(["logs", "--since", "yesterday"])
    assert usage.value.code == 2
    assert "--since" in capsys.readouterr().err
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "paas link" in err
