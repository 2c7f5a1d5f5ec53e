"""What a custom domain's DNS should say (hosting.dns.records) and whether it says it
(hosting.dns.check), against the tests' fake resolver; the system resolver only on
loopback names (/etc/hosts), never real DNS."""

from __future__ import annotations

import socket

import pytest

from hosting import dns
from hosting.dns import Answer, LookupFailed, Record
from hosting.tests.fake_dns import FakeResolver, a, cname

TARGET = "web-team-a.apps.example.net"


@pytest.mark.parametrize(("hostname", "addresses", "expected"), [
    ("shop.example.com", [], [Record("CNAME", "shop.example.com", TARGET)]),
    ("a.b.shop.example.co.uk", ["203.0.113.7"],
     [Record("CNAME", "a.b.shop.example.co.uk", TARGET)]),
    ("*.example.com", ["203.0.113.7"], [Record("CNAME", "*.example.com", TARGET)]),
    ("example.com", ["203.0.113.7", "2001:db8::7"],
     [Record("A", "example.com", "203.0.113.7"), Record("AAAA", "example.com", "2001:db8::7")]),
    ("example.co.uk", ["203.0.113.7"], [Record("A", "example.co.uk", "203.0.113.7")]),
    ("example.com", [], [Record("ALIAS", "example.com", TARGET)]),
])
def test_subdomains_get_a_cname_and_apex_domains_address_records(hostname, addresses,
                                                                  expected):
    assert dns.records(hostname, TARGET, addresses) == expected


def test_public_suffixes_are_known():
    assert dns.is_public_suffix("co.uk") and dns.is_public_suffix("com")
    assert dns.is_public_suffix("*.co.uk")
    assert not dns.is_public_suffix("example.co.uk")
    assert dns.registrable("panel.example.co.uk") == "example.co.uk"


def test_a_cname_to_the_generated_domain_is_verified(fake_dns):
    fake_dns["shop.example.com"] = cname("shop.example.com", TARGET, "203.0.113.7")
    finding = dns.check("shop.example.com", TARGET, [], FakeResolver())
    assert finding.status == dns.VERIFIED
    assert finding.found == f"shop.example.com is a CNAME to {TARGET}."


def test_a_cname_elsewhere_is_misconfigured_saying_where(fake_dns):
    fake_dns["shop.example.com"] = cname("shop.example.com", "old-host.herokudns.com",
                                         "198.51.100.9")
    fake_dns[TARGET] = a(TARGET, "203.0.113.7")
    finding = dns.check("shop.example.com", TARGET, [], FakeResolver())
    assert finding.status == dns.MISCONFIGURED
    assert "through old-host.herokudns.com to 198.51.100.9" in finding.found
    assert f"expected a CNAME to {TARGET} or addresses 203.0.113.7" in finding.found


def test_address_records_are_verified_when_all_are_the_platforms(fake_dns):
    fake_dns["example.com"] = a("example.com", "203.0.113.7", "2001:db8::7")
    ours = ["203.0.113.7", "2001:db8::7"]
    assert dns.check("example.com", TARGET, ours, FakeResolver()).status == dns.VERIFIED
    # One address that is not ours (an old AAAA record): IPv6 visitors would miss the app.
    fake_dns["example.com"] = a("example.com", "203.0.113.7", "2001:db8::dead")
    finding = dns.check("example.com", TARGET, ours, FakeResolver())
    assert finding.status == dns.MISCONFIGURED
    assert "2001:db8::dead" in finding.found


def test_without_public_addresses_those_of_the_generated_domain_count(fake_dns):
    fake_dns[TARGET] = a(TARGET, "203.0.113.7")
    fake_dns["example.com"] = a("example.com", "203.0.113.7")
    assert dns.check("example.com", TARGET, [], FakeResolver()).status == dns.VERIFIED
    fake_dns["example.com"] = a("example.com", "192.0.2.1")
    assert dns.check("example.com", TARGET, [], FakeResolver()).status == dns.MISCONFIGURED


def test_no_such_name_is_misconfigured(fake_dns):
    finding = dns.check("shop.example.com", TARGET, ["203.0.113.7"], FakeResolver())
    assert finding.status == dns.MISCONFIGURED
    assert finding.found == "No DNS record for shop.example.com yet."


def test_a_failed_look_up_tells_nothing(fake_dns):
    fake_dns["shop.example.com"] = LookupFailed("the look-up timed out")
    finding = dns.check("shop.example.com", TARGET, [], FakeResolver())
    assert finding.status is None
    assert "timed out" in finding.found and "try again" in finding.found


def test_a_wildcard_is_checked_through_a_name_it_covers(fake_dns):
    fake_dns["paas-check.example.com"] = cname("paas-check.example.com", TARGET)
    finding = dns.check("*.example.com", TARGET, [], FakeResolver())
    assert finding.status == dns.VERIFIED
    assert FakeResolver.asked == ["paas-check.example.com"]


def test_the_system_resolver_reads_loopback_names():
    answer = dns.SystemResolver().lookup("localhost")  # /etc/hosts: no DNS query
    assert answer.addresses and set(answer.addresses) <= {"127.0.0.1", "::1"}


@pytest.mark.parametrize(("error", "expected"), [
    (socket.EAI_NONAME, Answer("shop.example.com")),
    (socket.EAI_AGAIN, LookupFailed),
])
def test_the_system_resolver_tells_no_such_name_from_a_failure(monkeypatch, error, expected):
    def getaddrinfo(*args):
        raise socket.gaierror(error, "resolver says no")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)  # no query leaves the machine
    resolver = dns.SystemResolver()
    if expected is LookupFailed:
        with pytest.raises(LookupFailed, match="resolver says no"):
            resolver.lookup("shop.example.com")
    else:
        assert resolver.lookup("shop.example.com") == expected
