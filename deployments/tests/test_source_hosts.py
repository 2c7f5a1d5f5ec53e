"""At fetch time an https host is resolved once, every address checked, and git pinned to
them (deployments/engine/source.py, projects/addresses.py; issue 9). A test resolver stands
in for DNS; the one real connection is to a listener on loopback."""

import ipaddress
import socket
import threading
from pathlib import Path

import pytest
from django.test import override_settings

from deployments.engine.source import GIT_OPTIONS, SourceError, fetch, run_logged
from projects import addresses

PIN = "http.curloptResolve"


@pytest.fixture(autouse=True)
def production():
    """What DEBUG=0 has: no local repositories, no hosts on the panel's own network."""
    with override_settings(PAAS_ALLOW_LOCAL_REPOS=False, PAAS_ALLOW_INTERNAL_REPO_HOSTS=False):
        yield


class Resolver:
    """DNS for the test: name -> addresses (or an exception); remembers what was asked."""

    def __init__(self, answers: dict[str, list[str] | Exception]):
        self.answers, self.asked = answers, []

    def __call__(self, name: str, port: int):
        self.asked.append((name, port))
        answer = self.answers[name]
        if isinstance(answer, Exception):
            raise answer
        return [ipaddress.ip_address(address) for address in answer]


@pytest.fixture
def resolve(monkeypatch):
    def install(**answers):
        resolver = Resolver({name.replace("_", "."): value for name, value in answers.items()})
        monkeypatch.setattr(addresses, "resolve_host", resolver)
        return resolver
    return install


class ArgvOnly:
    """A runner that records what git would be run with, and fails as an unreachable host
    would (git is not run: no network is reached); `git init` succeeds."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, argv, env, cwd):
        self.calls.append(list(argv))
        return 0 if "init" in argv else 128


def files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize("answer, shown", [
    (["127.0.0.1"], "resolves to 127.0.0.1, a loopback address"),
    (["::1"], "resolves to ::1, a loopback address"),
    (["10.0.0.7"], "resolves to 10.0.0.7, a private address"),
    (["169.254.169.254"], "resolves to 169.254.169.254, the cloud metadata address"),
    (["fd00:ec2::254"], "resolves to fd00:ec2::254, the cloud metadata address"),
    (["::ffff:127.0.0.1"], "a loopback address (127.0.0.1 inside an IPv6 address)"),
    (["100.64.0.9"], "a shared (carrier-grade NAT) address"),
    (["140.82.112.3", "192.168.1.20"], "resolves to 192.168.1.20, a private address"),
])
def test_a_name_that_resolves_into_the_panels_network_is_refused_before_git_runs(
        tmp_path, resolve, answer, shown):
    resolver = resolve(git_example_com=answer)
    runner = ArgvOnly()
    before = files(tmp_path)
    with pytest.raises(SourceError) as error:
        fetch("https://git.example.com/acme/web.git", "main", tmp_path / "src",
              log=lambda line: None, run=runner)
    message = str(error.value)
    assert message.startswith("The repository host git.example.com resolves to ")
    assert shown in message and "only fetches from public addresses" in message
    assert resolver.asked == [("git.example.com", 443)]
    assert runner.calls == []
    assert files(tmp_path) == before


def test_the_check_holds_on_a_host_that_allows_local_repositories(tmp_path, resolve):
    resolve(git_example_com=["127.0.0.1"])
    runner = ArgvOnly()
    with override_settings(PAAS_ALLOW_LOCAL_REPOS=True), pytest.raises(
            SourceError, match="resolves to 127.0.0.1, a loopback address"):
        fetch("https://git.example.com/x.git", "main", tmp_path / "src",
              log=lambda line: None, run=runner)
    assert runner.calls == []


def test_a_name_that_does_not_resolve_is_a_clear_error(tmp_path, resolve):
    resolve(git_example_com=socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    runner = ArgvOnly()
    with pytest.raises(SourceError, match="git.example.com could not be resolved"):
        fetch("https://git.example.com/x.git", "main", tmp_path / "src",
              log=lambda line: None, run=runner)
    assert runner.calls == []


def test_git_is_pinned_to_exactly_the_address_that_was_checked(tmp_path, resolve):
    resolver = resolve(github_com=["140.82.112.3"])
    runner = ArgvOnly()
    with pytest.raises(SourceError) as error:
        fetch("https://github.com/acme/web.git", "main", tmp_path / "src",
              log=lambda line: None, run=runner)
    assert "renamed or moved, use its new URL" in str(error.value)  # no redirect followed
    [argv] = runner.calls
    assert argv[:len(GIT_OPTIONS) + 3] == ["git", *GIT_OPTIONS, "-c",
                                          f"{PIN}=github.com:443:140.82.112.3"]
    assert "http.followRedirects=false" in GIT_OPTIONS
    assert [arg for arg in argv if arg.startswith(PIN)] == [f"{PIN}=github.com:443:140.82.112.3"]
    assert argv[-2:] == ["https://github.com/acme/web.git", "."]
    assert resolver.asked == [("github.com", 443)]


def test_every_git_command_of_a_commit_fetch_is_pinned_and_the_name_resolved_once(
        tmp_path, resolve):
    resolver = resolve(git_example_com=["2606:50c0:8000::153", "185.199.108.153"])
    runner = ArgvOnly()
    with pytest.raises(SourceError):
        fetch("https://Git.Example.COM.:8443/acme/web.git", "main", tmp_path / "src",
              commit="a" * 40, log=lambda line: None, run=runner)
    pin = f"{PIN}=git.example.com:8443:[2606:50c0:8000::153],185.199.108.153"
    fetches = [argv for argv in runner.calls if "fetch" in argv]
    assert len(fetches) == 2 and len(runner.calls) == 3  # init; the commit; its branch
    for argv in runner.calls:
        assert argv[len(GIT_OPTIONS) + 1:len(GIT_OPTIONS) + 3] == ["-c", pin]
    for argv in fetches:  # the URL git is given has the host as it was checked
        assert "https://git.example.com:8443/acme/web.git" in argv
    assert resolver.asked == [("git.example.com", 8443)]


def test_an_address_literal_is_not_resolved_and_git_gets_it_normalised(tmp_path, resolve):
    resolver = resolve()
    runner = ArgvOnly()
    with pytest.raises(SourceError):
        fetch("https://0x8c527003/acme/web.git", "main", tmp_path / "src",
              log=lambda line: None, run=runner)
    [argv] = runner.calls
    assert argv[-2:] == ["https://140.82.112.3/acme/web.git", "."]
    assert not any(arg.startswith(PIN) for arg in argv)
    assert resolver.asked == []


def test_real_git_connects_to_the_pinned_address_only(tmp_path, resolve):
    """git itself honours the pin: a name no DNS knows (.invalid) reaches the loopback
    listener the test resolver named, the only way the connection can arrive."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    port = listener.getsockname()[1]
    accepted = []

    def accept():
        try:
            connection, peer = listener.accept()
            accepted.append(peer)
            connection.recv(16)  # the start of the TLS handshake
            connection.close()
        except OSError as error:
            accepted.append(error)

    thread = threading.Thread(target=accept)
    thread.start()
    resolve(git_pinned_invalid=["127.0.0.1"])
    lines = []
    try:
        with override_settings(PAAS_ALLOW_INTERNAL_REPO_HOSTS=True), pytest.raises(SourceError):
            fetch(f"https://git.pinned.invalid:{port}/x.git", "main", tmp_path / "src",
                  log=lines.append, run=lambda argv, env, cwd: run_logged(argv, env, cwd,
                                                                          lines.append))
    finally:
        thread.join(35)
        listener.close()
    assert len(accepted) == 1 and accepted[0][0] == "127.0.0.1", (accepted, lines)


def test_the_real_resolver_asks_the_c_library():
    """getaddrinfo, as curl would: /etc/hosts and numeric notations, no network needed."""
    assert ipaddress.ip_address("127.0.0.1") in addresses.resolve_host("localhost", 443)
    assert addresses.resolve_host("0x7f000001", 443) == [ipaddress.ip_address("127.0.0.1")]
