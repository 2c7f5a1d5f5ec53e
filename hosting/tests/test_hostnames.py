"""Hostnames before they reach a Traefik rule: what users type is normalised, and whatever
could break out of a rule (or is not a name) is refused with a reason."""

from __future__ import annotations

import pytest

from hosting.hostnames import MAX_LENGTH, is_hostname, is_within, normalise


@pytest.mark.parametrize(("typed", "kept"), [
    ("shop.example.com", "shop.example.com"),
    ("  Shop.Example.COM. ", "shop.example.com"),
    ("Bücher.example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ("a-b.c-d.example.io", "a-b.c-d.example.io"),
    ("0.example.com", "0.example.com"),
])
def test_names_are_kept_in_one_form(typed, kept):
    assert normalise(typed) == kept
    assert is_hostname(kept)


@pytest.mark.parametrize(("typed", "reason"), [
    ("", "Enter a domain name"),
    ("shop.example.com`) || Host(`evil.com", "only letters, digits"),
    ("shop.example.com\nHost(`x`)", "only letters, digits"),
    ("shop.example.com||evil.com", "only letters, digits"),
    ("a b.example.com", "only letters, digits"),
    ("shop.example.com)", "only letters, digits"),
    ("shop_1.example.com", "Not a valid domain name"),
    ("-shop.example.com", "Not a valid domain name"),
    ("shop-.example.com", "Not a valid domain name"),
    ("shop..example.com", "Not a valid domain name"),
    ("localhost", "full domain name"),
    ("127.0.0.1", "not an IP address"),
    ("::1", "only letters"),
    ("[::1]", "only letters"),
    ("1.2.3.4.5", "not a number"),
    ("x" * 64 + ".example.com", "at most 63"),
    (".".join(["abcdefghi"] * 26) + ".com", f"at most {MAX_LENGTH - 2}"),
    ("*.example.com", "Wildcard domains are not allowed"),
    ("a.*.example.com", "may only stand alone"),
    ("*shop.example.com", "may only stand alone"),
])
def test_what_is_not_a_hostname_is_refused_with_the_reason(typed, reason):
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace("*", r"\*")):
        normalise(typed)
    assert not is_hostname(typed)


def test_wildcards_only_where_allowed():
    assert normalise("*.Example.com", allow_wildcard=True) == "*.example.com"
    assert is_hostname("*.example.com", allow_wildcard=True)
    assert not is_hostname("*.example.com")
    with pytest.raises(ValueError, match="may only stand alone"):
        normalise("*shop.example.com", allow_wildcard=True)


def test_stored_values_not_in_the_kept_form_are_not_hostnames():
    for stored in ("Shop.example.com", "shop.example.com.", "bücher.example", None, 7,
                   "a`b.example.com"):
        assert not is_hostname(stored)


def test_within_a_domain():
    assert is_within("panel.example.com", "panel.example.com")
    assert is_within("team.panel.example.com", "panel.example.com")
    assert not is_within("mypanel.example.com", "panel.example.com")
    assert is_within("*.example.com", "panel.example.com")  # would take the panel's name
    assert is_within("*.panel.example.com", "panel.example.com")
    assert not is_within("*.other.com", "panel.example.com")
