"""Hostnames as they may reach a Traefik rule: RFC 1123 names, checked and normalised here
before anything stores or renders them, so a hostname can never carry a backtick, `||`, `)`,
a space or a newline into a rule.

- `normalise` turns what a user typed into the one form kept: IDNs to punycode (UTS 46),
  lower case, no trailing dot; or raises ValueError saying what is wrong.
- `is_hostname` says whether a stored value is still in that form (the Traefik configuration
  leaves out a row that is not: the database may hold what an older version accepted).

Pure functions, no models or settings: the forms, the API, the routing table and the
configuration endpoint all use them.
"""

from __future__ import annotations

import ipaddress
import re

import idna

MAX_LENGTH = 253  # RFC 1035: a name in text form, without the trailing dot
MAX_LABEL = 63
LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
WILDCARD = "*"
# Letters of another script, accents, spaces and controls are left to idna, which refuses
# what is not a valid IDN; this is only the quick refusal of what never is.
NEVER = re.compile(r"[\x00-\x20\x7f`'\"()|&!=<>{}\[\],;\\/@:?#%$^~+]")


def normalise(text: str, *, allow_wildcard: bool = False) -> str:
    """The hostname `text` names, in ASCII lower case without a trailing dot. A leftmost
    `*` label only with `allow_wildcard` (`*.example.com`, which matches one label)."""
    name = text.strip()
    if not name:
        raise ValueError("Enter a domain name.")
    if NEVER.search(name):
        raise ValueError("A domain name has only letters, digits, hyphens and dots.")
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValueError("Enter a domain name, not an IP address.")
    name = name.removesuffix(".")
    wildcard = name.startswith("*.")
    if wildcard and not allow_wildcard:
        raise ValueError("Wildcard domains are not allowed here.")
    rest = name[2:] if wildcard else name
    if WILDCARD in rest:
        raise ValueError("A “*” may only stand alone as the first label (*.example.com).")
    if rest.isascii():  # the lengths said plainly (idna says them for IDNs)
        _check_lengths(rest.lower())
    try:
        ascii_name = idna.encode(rest, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise ValueError(f"Not a valid domain name ({_reason(error)}).") from None
    ascii_name = ascii_name.lower()
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValueError("Enter a full domain name, such as app.example.com.")
    _check_lengths(ascii_name)
    for label in labels:
        if not LABEL.fullmatch(label):
            raise ValueError("Each part of a domain name has letters, digits and hyphens, "
                             "and does not start or end with a hyphen.")
    if labels[-1].isdigit():
        raise ValueError("The last part of a domain name is not a number.")
    return f"{WILDCARD}.{ascii_name}" if wildcard else ascii_name


def is_hostname(value: object, *, allow_wildcard: bool = False) -> bool:
    """Whether `value` is a hostname exactly as `normalise` writes it."""
    if not isinstance(value, str):
        return False
    try:
        return normalise(value, allow_wildcard=allow_wildcard) == value
    except ValueError:
        return False


def is_within(hostname: str, domain: str) -> bool:
    """Whether `hostname` is `domain` or one of its subdomains (both normalised)."""
    bare = hostname.removeprefix(f"{WILDCARD}.")
    return bare == domain or bare.endswith(f".{domain}") or (
        hostname.startswith(f"{WILDCARD}.") and domain.endswith(f".{bare}"))


def _check_lengths(name: str) -> None:
    if len(name) > MAX_LENGTH - 2:  # room for a wildcard's "*."
        raise ValueError(f"A domain name has at most {MAX_LENGTH - 2} characters.")
    if any(len(label) > MAX_LABEL for label in name.split(".")):
        raise ValueError(f"Each part of a domain name has at most {MAX_LABEL} characters.")


def _reason(error: Exception) -> str:
    text = str(error).strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else "not an IDN"
