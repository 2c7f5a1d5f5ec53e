"""Repository URLs that would make the panel's git reach its own network are refused, in
every notation the C library and curl read as an address (issue 9, projects/addresses.py)."""

import socket

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from projects.addresses import parse_ipv4
from projects.validators import validate_repository_url

TOKEN = "ghp_S3cretTokenValue0123456789abcdef"
# What a production host has (DEBUG=0): neither local repositories nor internal hosts.
production = override_settings(PAAS_ALLOW_LOCAL_REPOS=False, PAAS_ALLOW_INTERNAL_REPO_HOSTS=False)


def refusal(url: str) -> str:
    with pytest.raises(ValidationError) as error:
        validate_repository_url(url)
    [message] = error.value.messages
    return message


INTERNAL = [
    # IPv4, as inet_aton and curl read it
    ("https://0x7f000001/x.git", "127.0.0.1 is a loopback address"),
    ("https://2130706433/x.git", "127.0.0.1 is a loopback address"),
    ("https://127.1/x.git", "127.0.0.1 is a loopback address"),
    ("https://017700000001/x.git", "127.0.0.1 is a loopback address"),
    ("https://0x7f.0.0.1/x.git", "127.0.0.1 is a loopback address"),
    ("https://0X7F.1/x.git", "127.0.0.1 is a loopback address"),
    ("https://127.0.0.1./x.git", "127.0.0.1 is a loopback address"),
    ("https://127.0.0.1:8443/x.git", "127.0.0.1 is a loopback address"),
    ("https://0251.0376.0251.0376/latest/meta-data", "169.254.169.254 is the cloud metadata"),
    ("https://2852039166/latest/meta-data", "169.254.169.254 is the cloud metadata"),
    ("https://169.254.1.1/x.git", "169.254.1.1 is a link-local address"),
    ("https://10.1/x.git", "10.0.0.1 is a private address"),
    ("https://0xc0.0xa8.1.1/x.git", "192.168.1.1 is a private address"),
    ("https://172.16.0.1/x.git", "172.16.0.1 is a private address"),
    ("https://100.64.0.1/x.git", "100.64.0.1 is a shared (carrier-grade NAT) address"),
    ("https://100.100.100.200/x.git", "100.100.100.200 is the cloud metadata address"),
    ("https://0/x.git", "0.0.0.0 is an unspecified address"),
    ("https://0.0.0.0/x.git", "0.0.0.0 is an unspecified address"),
    ("https://224.0.0.1/x.git", "224.0.0.1 is a multicast address"),
    ("https://239.1.2.3/x.git", "239.1.2.3 is a multicast address"),
    ("https://255.255.255.255/x.git", "255.255.255.255 is the broadcast address"),
    ("https://4294967295/x.git", "255.255.255.255 is the broadcast address"),
    ("https://240.0.0.1/x.git", "240.0.0.1 is a reserved address"),
    ("https://192.0.2.10/x.git", "192.0.2.10 is a documentation address"),
    ("https://198.18.0.1/x.git", "198.18.0.1 is a private address"),
    # Full-width digits: IDNA maps them to 127.0.0.1
    ("https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/x.git", "127.0.0.1 is a loopback"),
    # IPv6, in brackets
    ("https://[::1]/x.git", "::1 is a loopback address"),
    ("https://[0:0:0:0:0:0:0:1]/x.git", "::1 is a loopback address"),
    ("https://[::]/x.git", ":: is an unspecified address"),
    ("https://[::ffff:127.0.0.1]/x.git", "a loopback address (127.0.0.1 inside an IPv6"),
    ("https://[::ffff:7f00:1]/x.git", "a loopback address (127.0.0.1 inside an IPv6"),
    ("https://[::ffff:169.254.169.254]/x.git", "the cloud metadata address (169.254.169.254"),
    ("https://[::127.0.0.1]/x.git", "a loopback address (127.0.0.1 inside an IPv6"),
    ("https://[64:ff9b::7f00:1]/x.git", "a loopback address (127.0.0.1 inside an IPv6"),
    ("https://[64:ff9b::a9fe:a9fe]/x.git", "the cloud metadata address (169.254.169.254"),
    ("https://[2002:7f00:1::]/x.git", "a loopback address (127.0.0.1 inside an IPv6"),
    ("https://[2002:c0a8:101::1]/x.git", "a private address (192.168.1.1 inside an IPv6"),
    ("https://[2002:808:808::]/x.git", "a deprecated IPv6 transition address"),
    ("https://[fe80::1%25eth0]/x.git", "fe80::1 is a link-local address"),
    ("https://[fe80::1]/x.git", "fe80::1 is a link-local address"),
    ("https://[fd00:ec2::254]/x.git", "fd00:ec2::254 is the cloud metadata address"),
    ("https://[fd12:3456::1]/x.git", "fd12:3456::1 is a private address"),
    ("https://[fec0::1]/x.git", "fec0::1 is a site-local address"),
    ("https://[ff02::1]/x.git", "ff02::1 is a multicast address"),
    ("https://[2001:db8::1]/x.git", "2001:db8::1 is a documentation address"),
    ("https://[64:ff9b:1::a]/x.git", "64:ff9b:1::a is a"),
    # Names the panel's own network answers
    ("https://localhost/x.git", "a name on the panel's own network"),
    ("https://LOCALHOST./x.git", "a name on the panel's own network"),
    ("https://git.localhost/x.git", "a name on the panel's own network"),
    ("https://metadata.google.internal/x.git", "a name on the panel's own network"),
    ("https://nas.local/x.git", "a name on the panel's own network"),
    ("https://gitea/x.git", "a name without a domain"),
]


@production
@pytest.mark.parametrize("url, expected", INTERNAL)
def test_internal_hosts_are_refused_in_every_notation(url, expected):
    message = refusal(url)
    assert expected in message
    assert "public" in message


@override_settings(PAAS_ALLOW_LOCAL_REPOS=True, PAAS_ALLOW_INTERNAL_REPO_HOSTS=False)
@pytest.mark.parametrize("url", ["https://0x7f000001/x.git", "https://[::ffff:7f00:1]/x.git",
                                 "https://localhost/x.git", "https://10.0.0.7/x.git"])
def test_local_repositories_do_not_open_internal_https_hosts(url):
    """PAAS_ALLOW_LOCAL_REPOS (on in development and tests) is about file:// and paths only."""
    assert "public addresses" in refusal(url)


MALFORMED = [
    ("https://%31%32%37.0.0.1/x.git", "cannot be percent-encoded"),
    ("https://git%2ehub.com/x.git", "cannot be percent-encoded"),
    ("https://a..b.com/x.git", "empty part"),
    ("https://.github.com/x.git", "empty part"),
    ("https://git_hub.com/x.git", "letters, digits, hyphens and dots"),
    ("https://github.com\\.evil/x.git", "letters, digits, hyphens and dots"),
    ("https://" + "a" * 64 + ".com/x.git", "at most 63 characters"),
    ("https://git\ue000hub.com/x.git", "IDNA"),  # private use: no IDNA form
    ("https://git\u0080hub.com/x.git", "IDNA"),  # a C1 control character
    ("https://git\u0000hub.com/x.git", "control characters"),
    ("https://1.2.3.4.5/x.git", "not a valid IPv4 address"),
    ("https://256.0.0.1/x.git", "not a valid IPv4 address"),
    ("https://08.0.0.1/x.git", "not a valid IPv4 address"),
    ("https://1.16777216/x.git", "not a valid IPv4 address"),
    ("https://4294967296/x.git", "not a valid IPv4 address"),
    ("https://github.0x7f/x.git", "not a valid IPv4 address"),
    ("https://[v1.fe80::1]/x.git", "not a valid IPv6 address"),
    ("https://[127.0.0.1]/x.git", "an IPv6 address in brackets"),
    ("https://[github.com]/x.git", "an IPv6 address in brackets"),
    ("https://github.com:0/x.git", "port"),
    ("https://github.com:65536/x.git", "port"),
    ("https://github.com:https/x.git", "port"),
]


@production
@pytest.mark.parametrize("url, expected", MALFORMED)
def test_hosts_that_are_not_plain_names_or_addresses_are_refused(url, expected):
    assert expected in refusal(url)


@production
@pytest.mark.parametrize("url", [
    "https://github.com/acme/web.git",
    "https://GitHub.com/acme/web",
    "https://github.com./acme/web.git",
    "https://gitlab.example.com:8443/acme/web.git",
    "https://git-server.example.org/acme/web.git",
    "https://1e100.net/acme/web.git",
    "https://b\u00fccher.example/acme/web.git",
    "https://140.82.112.3/acme/web.git",
    "https://0x8c.0x52.0x70.3/acme/web.git",
    "https://2354212867/acme/web.git",
    "https://[2606:50c0:8000::153]/acme/web.git",
    "https://[::ffff:140.82.112.3]/acme/web.git",
    "https://[64:ff9b::8c52:7003]/acme/web.git",
])
def test_public_names_and_addresses_are_accepted(url):
    validate_repository_url(url)


@override_settings(PAAS_ALLOW_LOCAL_REPOS=False, PAAS_ALLOW_INTERNAL_REPO_HOSTS=True)
def test_an_operator_may_allow_their_own_network_but_never_the_metadata_service():
    for url in ("https://127.1/x.git", "https://[::1]/x.git", "https://gitea.internal/x.git",
                "https://10.0.0.7/x.git", "https://gitea/x.git"):
        validate_repository_url(url)
    for url in ("https://169.254.169.254/latest", "https://0251.0376.0251.0376/latest",
                "https://[fd00:ec2::254]/latest", "https://[::ffff:a9fe:a9fe]/latest"):
        assert "the cloud metadata address" in refusal(url)
    assert "multicast" in refusal("https://224.0.0.1/x.git")
    assert "not a valid IPv4 address" in refusal("https://1.2.3.4.5/x.git")


@production
def test_a_refusal_names_the_problem_and_never_the_token_in_the_url():
    for url in (f"https://0x7f000001/{TOKEN}/x.git", f"https://localhost/x.git?t={TOKEN}",
                f"https://{TOKEN}@127.1/x.git", f"https://x:{TOKEN}@github.com/x.git",
                f"https://[::1]/x.git#{TOKEN}", f"https://%67{TOKEN}.com/x.git"):
        assert TOKEN not in refusal(url)


# inet_aton ----------------------------------------------------------------------------------

NOTATIONS = [
    "127.0.0.1", "127.1", "127.0.1", "0x7f000001", "0X7F000001", "2130706433", "017700000001",
    "0x7f.1", "0177.0.0.1", "0251.0376.0251.0376", "0", "00", "0.0", "4294967295", "0xffffffff",
    "0377.0377.0377.0377", "1.16777215", "1.2.65535", "00000000000000000001",
    "0x00000000000000007f000001", "9", "010.1", "1.2.3.4.5", "256.1", "1.16777216", "1.2.65536",
    "4294967296", "0x100000000", "08", "09", "0400.1.1.1", "1..2", ".1", "0xg", "1e3", "a.b",
    "", "1.2.3.-1", "+1",
]


@pytest.mark.parametrize("text", NOTATIONS)
def test_ipv4_notations_read_as_the_c_library_reads_them(text):
    try:
        expected = socket.inet_ntoa(socket.inet_aton(text))
    except OSError:
        expected = None
    parsed = parse_ipv4(text)
    assert (str(parsed) if parsed else None) == expected


def test_a_trailing_dot_and_an_empty_hex_part_are_addresses_too():
    """curl's URL parser and browsers read them as addresses; so does the check (broader than
    inet_aton is safe: what the check reads as an address it judges, and hands git as such)."""
    assert str(parse_ipv4("127.0.0.1.")) == "127.0.0.1"
    assert str(parse_ipv4("0x")) == "0.0.0.0"
