"""Fetching a repository with real git, from local bare repositories (deployments/source.py)."""

import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from deployments.engine.source import (
    GIT_OPTIONS,
    REDACTED,
    TOKEN_USERNAME,
    Commit,
    SourceError,
    fetch,
    git_env,
    run_logged,
    source_root,
)
from deployments.tests import sample_apps
from deployments.tests.sample_apps import NODE_APP, STATIC_SITE, commit, make_repo
from projects.validators import validate_root_directory

pytestmark = pytest.mark.usefixtures("local_repos")
TOKEN = "ghs_S3cretTokenValue0123456789"


@pytest.fixture
def local_repos():
    with override_settings(PAAS_ALLOW_LOCAL_REPOS=True):
        yield


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Where fetch makes its private directory (HOME, askpass), to see it go."""
    directory = tmp_path / "private-tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


class Recorder:
    """A runner like the pipeline's: runs the command, remembers what it was given."""

    def __init__(self):
        self.lines: list[str] = []
        self.calls: list[tuple[list[str], dict[str, str], Path]] = []
        self.during: list = []  # callables run while a command's environment is live

    def __call__(self, argv, env, cwd):
        self.calls.append((list(argv), dict(env), cwd))
        for check in self.during:
            check(argv, env)
        return run_logged(argv, env, cwd, self.lines.append)


def tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def git_out(checkout: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=checkout, capture_output=True, text=True,
                          check=True).stdout.strip()


# Fetching ----------------------------------------------------------------------------------

def test_fetch_checks_out_the_branch_head(tmp_path):
    repo = make_repo(tmp_path, "app", NODE_APP)
    head = commit(repo, {"CHANGELOG": "v2\n"}, "Add a changelog\n\nWith a body that is dropped.")
    lines = []
    dest = tmp_path / "build" / "src"

    result = fetch(repo, "main", dest, log=lines.append)

    assert result == Commit(sha=head, message="Add a changelog", author=sample_apps.AUTHOR)
    assert (dest / "CHANGELOG").read_text() == "v2\n"
    assert (dest / "server.js").read_text() == NODE_APP["server.js"]
    assert git_out(dest, "rev-parse", "HEAD") == head
    assert any(line.startswith("Cloning into") for line in lines)  # git's own output, logged
    assert lines[-1] == f"Checked out {head[:12]} Add a changelog"


def test_fetch_checks_out_an_exact_earlier_commit(tmp_path):
    repo = make_repo(tmp_path, "app", NODE_APP)
    first = sample_apps.head(repo)
    commit(repo, {"later.txt": "later\n"}, "A later commit")
    dest = tmp_path / "src"

    result = fetch(repo, "main", dest, commit=first.upper(), log=lambda line: None)

    assert result.sha == first
    assert result.message == "Initial commit of app"
    assert git_out(dest, "rev-parse", "HEAD") == first
    assert not (dest / "later.txt").exists()


def test_file_urls_and_branches_with_slashes_are_fetched(tmp_path):
    repo = make_repo(tmp_path, "site", STATIC_SITE, branch="release/v1")
    result = fetch(f"file://{repo}", "release/v1", tmp_path / "src", log=lambda line: None)
    assert result.sha == sample_apps.head(repo, "release/v1")
    assert (tmp_path / "src" / "index.html").read_text() == STATIC_SITE["index.html"]


def test_an_unknown_branch_is_a_clear_error_and_leaves_nothing(tmp_path, private_tmp):
    repo = make_repo(tmp_path, "app", NODE_APP)
    dest = tmp_path / "src"
    with pytest.raises(SourceError, match="Could not fetch branch “develop”"):
        fetch(repo, "develop", dest, log=lambda line: None)
    assert not dest.exists()
    assert tree(private_tmp) == set()


def test_an_unknown_commit_is_a_clear_error_and_leaves_nothing(tmp_path):
    repo = make_repo(tmp_path, "app", NODE_APP)
    dest = tmp_path / "src"
    with pytest.raises(SourceError, match="Commit 0123456789abcdef0123456789abcdef01234567 was"):
        fetch(repo, "main", dest, commit="0123456789abcdef0123456789abcdef01234567",
              log=lambda line: None)
    assert not dest.exists()


@pytest.mark.parametrize("sha", ["abc123", "HEAD", "main", "g" * 40, "a" * 41, "-" + "a" * 39,
                                 "a" * 39 + "\n"])
def test_a_commit_that_is_not_a_full_sha_is_refused_before_git_runs(tmp_path, sha):
    repo = make_repo(tmp_path, "app", NODE_APP)
    runner = Recorder()
    with pytest.raises(SourceError, match="full 40-character sha"):
        fetch(repo, "main", tmp_path / "src", commit=sha, log=lambda line: None, run=runner)
    assert runner.calls == []
    assert not (tmp_path / "src").exists()


def test_a_build_directory_that_is_not_empty_is_refused(tmp_path):
    repo = make_repo(tmp_path, "app", NODE_APP)
    dest = tmp_path / "src"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(SourceError, match="not empty"):
        fetch(repo, "main", dest, log=lambda line: None)
    assert (dest / "keep.txt").read_text() == "mine"


def test_git_runs_with_a_clean_environment_and_argv(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "panel-secret")
    repo = make_repo(tmp_path, "app", NODE_APP)
    runner = Recorder()
    fetch(repo, "main", tmp_path / "src", log=lambda line: None, run=runner)
    assert runner.calls
    for argv, env, cwd in runner.calls:
        assert argv[:len(GIT_OPTIONS) + 1] == ["git", *GIT_OPTIONS]
        assert "protocol.ext.allow=never" in argv
        assert cwd == tmp_path / "src"
        assert set(env) == {"PATH", "HOME", "LC_ALL", "GIT_TERMINAL_PROMPT", "GIT_ALLOW_PROTOCOL",
                            "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL"}
        assert env["GIT_ALLOW_PROTOCOL"] == "https:file"
        assert env["GIT_TERMINAL_PROMPT"] == "0"
    clone_argv = next(argv for argv, _, _ in runner.calls if "clone" in argv)
    assert clone_argv[-5:] == ["--branch", "main", "--", f"file://{repo}", "."]


# Hostile input ------------------------------------------------------------------------------

HOSTILE_URLS = [
    "ext::sh -c touch% {marker}",
    "ext::sh%20-c%20touch%20{marker}",
    "ssh://git@10.0.0.1/app.git",
    "ssh://localhost:22/srv/app.git",
    "git@internal.example:team/app.git",
    "git://127.0.0.1/app.git",
    "http://169.254.169.254/latest/meta-data",
    "https://0x7f000001/app.git",
    "https://0251.0376.0251.0376/latest/meta-data",
    "https://[::ffff:7f00:1]/app.git",
    "https://%31%32%37.0.0.1/app.git",
    "https://user:password@github.com/team/app.git",
    "-uhttps://github.com/team/app.git",
    "--upload-pack=touch {marker}",
    "--upload-pack=touch%20{marker}",
    "https://github.com/team/app.git\n--upload-pack=touch {marker}",
    "https://github.com/team/app\x00.git",
    "https://github.com/team/\x1b[31mapp.git",
    "fd::17",
    "file::{marker}",
    "relative/path/app.git",
    "",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_urls_are_refused_and_nothing_is_created(tmp_path, url):
    marker = tmp_path / "pwned"
    before = tree(tmp_path)
    runner = Recorder()
    with pytest.raises(SourceError, match="Invalid repository URL"):
        fetch(url.format(marker=marker), "main", tmp_path / "src", log=lambda line: None,
              run=runner)
    assert runner.calls == []
    assert tree(tmp_path) == before


@pytest.mark.parametrize("branch", [
    "-b", "--upload-pack=touch x", "main\n", "ma in", "ma\x07in", "a..b", "@{-1}", "HEAD", "@",
    "x.lock", "/main", "main/", "feature//x", "ma~1", "ma^", "a:b", "ma?", "ma*", "ma[in",
    "ma\\in", ".hidden", "main.", "",
])
def test_hostile_branches_are_refused_and_nothing_is_created(tmp_path, branch):
    repo = make_repo(tmp_path, "app", NODE_APP)
    before = tree(tmp_path)
    runner = Recorder()
    with pytest.raises(SourceError, match="Invalid branch"):
        fetch(repo, branch, tmp_path / "src", log=lambda line: None, run=runner)
    assert runner.calls == []
    assert tree(tmp_path) == before


def test_local_repositories_are_refused_when_the_host_does_not_allow_them(tmp_path):
    repo = make_repo(tmp_path, "app", NODE_APP)
    runner = Recorder()
    with override_settings(PAAS_ALLOW_LOCAL_REPOS=False):
        for url in (repo, f"file://{repo}"):
            with pytest.raises(SourceError, match="not allowed on this host"):
                fetch(url, "main", tmp_path / "src", log=lambda line: None, run=runner)
    assert runner.calls == []
    assert not (tmp_path / "src").exists()


def test_git_itself_refuses_other_transports_with_the_fetch_environment(tmp_path):
    """Defence in depth: were a URL to get past the validators, git would still refuse it."""
    repo = make_repo(tmp_path, "app", NODE_APP)
    marker = tmp_path / "pwned"

    def ls_remote(url):
        return subprocess.run(["git", *GIT_OPTIONS, "ls-remote", "--", url], cwd=tmp_path,
                              env=git_env(tmp_path), capture_output=True, text=True)

    result = ls_remote(f"ext::sh -c touch% {marker}")
    assert result.returncode != 0 and "not allowed" in result.stderr
    assert not marker.exists()
    assert ls_remote(f"file://{repo}").returncode == 0
    with override_settings(PAAS_ALLOW_LOCAL_REPOS=False):
        result = ls_remote(f"file://{repo}")
    assert result.returncode != 0 and "transport 'file' not allowed" in result.stderr


# Tokens -------------------------------------------------------------------------------------

def test_a_token_reaches_git_only_through_askpass(tmp_path, private_tmp):
    repo = make_repo(tmp_path, "app", NODE_APP)
    runner = Recorder()
    seen = []

    def askpass_answers(argv, env):
        askpass = Path(env["GIT_ASKPASS"])
        assert stat.S_IMODE(askpass.stat().st_mode) == 0o700
        assert stat.S_IMODE(askpass.parent.stat().st_mode) == 0o700
        assert TOKEN not in askpass.read_text()

        def ask(prompt):
            return subprocess.run([str(askpass), prompt], env=env, capture_output=True,
                                  text=True, check=True).stdout

        seen.append((ask("Username for 'https://github.com': "),
                     ask("Password for 'https://x-access-token@github.com': ")))

    runner.during.append(askpass_answers)
    fetch(repo, "main", tmp_path / "src", log=lambda line: None, token=TOKEN, run=runner)

    assert seen and set(seen) == {(f"{TOKEN_USERNAME}\n", f"{TOKEN}\n")}
    for argv, _, _ in runner.calls:
        assert not any(TOKEN in arg for arg in argv)  # what `ps` would show
    assert not any(TOKEN in line for line in runner.lines)
    assert tree(private_tmp) == set()  # the askpass script is gone


def test_no_askpass_without_a_token(tmp_path):
    repo = make_repo(tmp_path, "app", NODE_APP)
    runner = Recorder()
    fetch(repo, "main", tmp_path / "src", log=lambda line: None, run=runner)
    assert all("GIT_ASKPASS" not in env for _, env, _ in runner.calls)


def test_the_token_is_masked_in_every_logged_line(tmp_path):
    """A repository whose path contains the token: git prints the path, the log must not."""
    repo = make_repo(tmp_path, TOKEN, NODE_APP)
    lines = []
    fetch(repo, "main", tmp_path / "src", log=lines.append, token=TOKEN)
    assert not any(TOKEN in line for line in lines)
    assert any(f"file://{tmp_path}/{REDACTED}" in line for line in lines)


def test_the_token_is_not_in_errors(tmp_path):
    repo = make_repo(tmp_path, "app", NODE_APP)
    with pytest.raises(SourceError) as error:
        fetch(repo, "nope", tmp_path / "src", log=lambda line: None, token=TOKEN)
    assert TOKEN not in str(error.value)


# Root directory ----------------------------------------------------------------------------

@pytest.fixture
def monorepo(tmp_path):
    repo = make_repo(
        tmp_path, "monorepo", {"apps/web/index.html": "<h1>web</h1>\n", "README": "mono\n"},
        symlinks={"etc": "/etc", "up": "..", "apps/escape": "../../..", "apps/alias": "web"},
    )
    checkout = tmp_path / "src"
    fetch(repo, "main", checkout, log=lambda line: None)
    assert (checkout / "etc").is_symlink() and (checkout / "up").is_symlink()  # git made them
    return checkout


@pytest.mark.parametrize("value", ["apps/web", "apps/web/", "./apps/web", "apps//web"])
def test_the_root_directory_is_found_inside_the_checkout(monorepo, value):
    assert source_root(monorepo, value) == monorepo / "apps" / "web"


def test_an_empty_root_directory_is_the_checkout(monorepo):
    assert source_root(monorepo, "") == monorepo


@pytest.mark.parametrize("value, message", [
    ("etc", "symbolic link"), ("etc/ssh", "symbolic link"), ("up", "symbolic link"),
    ("up/src", "symbolic link"), ("apps/escape", "symbolic link"),
    ("apps/alias", "symbolic link"), ("../src", "“..”"), ("apps/../..", "“..”"),
    ("/etc", "relative"), ("-apps", "“-”"), ("apps\\web", "/"), ("apps/\nweb", "control"),
    ("missing", "does not exist"), ("README", "does not exist"),
])
def test_root_directories_that_escape_or_do_not_exist_are_refused(monorepo, value, message):
    with pytest.raises(SourceError, match=message):
        source_root(monorepo, value)


@pytest.mark.parametrize("value", ["", "apps/web", "services/api/", "my app"])
def test_validate_root_directory_accepts_relative_directories(value):
    validate_root_directory(value)


@pytest.mark.parametrize("value", [
    "/srv/app", "..", "../other", "apps/../../x", "apps\\web", "-rf", "apps/web\n", "a\x00b",
    "a\tb", "a\x7fb",
])
def test_validate_root_directory_refuses_escapes_and_odd_characters(value):
    with pytest.raises(ValidationError):
        validate_root_directory(value)


def test_fetch_does_not_write_outside_its_build_directory(tmp_path, private_tmp):
    repo = make_repo(tmp_path, "app", NODE_APP)
    before = tree(tmp_path)
    fetch(repo, "main", tmp_path / "src", log=lambda line: None, token=TOKEN)
    created = tree(tmp_path) - before
    assert created and all(path == "src" or path.startswith("src/") for path in created)
    assert os.listdir(private_tmp) == []


def test_sample_commits_write_over_the_tree_and_remove_files(tmp_path):
    repo = make_repo(tmp_path, "app", {**NODE_APP, "run.sh": "#!/bin/sh\necho hi\n"})
    sha = commit(repo, {"server.js": "// v2\n"}, "v2", remove=("package-lock.json",))
    assert sample_apps.head(repo) == sha
    dest = tmp_path / "src"
    fetch(repo, "main", dest, log=lambda line: None)
    assert (dest / "server.js").read_text() == "// v2\n"
    assert (dest / "package.json").exists() and not (dest / "package-lock.json").exists()
    assert os.access(dest / "run.sh", os.X_OK) and not os.access(dest / "server.js", os.X_OK)
