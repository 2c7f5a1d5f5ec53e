"""Which hosts the panel's git may reach (issue 9, "Outbound fetches").

A team chooses the repository URL, and the panel's git connects to it from inside the panel's
network. Without care that is a way into that network: the cloud metadata service, a database
on loopback, a private Git server, and git's error messages tell the team what answered.

So a repository host must be globally routable. It is checked twice:

- as written in the URL (`parse_host`, then `host_problem`), after normalising every notation
  the C library and curl read as an address: IPv4 in 1 to 4 parts, each decimal, octal (a
  leading 0) or hex (0x), the last part filling the remaining bytes (inet_aton), with or
  without a trailing dot (and "0x" alone, as browsers read it); IPv6 in brackets, compressed
  or not, with an embedded IPv4 address or a zone id. A name must be plain ASCII letters,
  digits, hyphens and dots (Unicode is turned into its IDNA "xn--" form first);
- at fetch time, every address the name resolves to (`resolve_host`, then `address_problem`),
  and git is pinned to those addresses so that a second DNS answer cannot swap them.

PAAS_ALLOW_INTERNAL_REPO_HOSTS (off unless set) lets an operator fetch from their own network,
e.g. a Gitea on a private address; the metadata addresses stay refused even then.

Module of its own, with no Django import: the forms, the API and the deploy engine use it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services (AWS, GCP, Azure, Oracle: 169.254.169.254; AWS over IPv6:
# fd00:ec2::254; Alibaba: 100.100.100.200): never a git server, refused under any setting.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(address) for address in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200",
))
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d (RFC 4291)
_DOCUMENTATION = tuple(ipaddress.ip_network(network) for network in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20",
))
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".lan", ".home.arpa")
_LABEL = re.compile(r"[a-z0-9-]{1,63}")
_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(r"0x[0-9a-f]*")
_OCTAL = re.compile(r"0[0-7]+")

NAME_RULE = "A repository host is a name of letters, digits, hyphens and dots, e.g. github.com"


class HostError(ValueError):
    """The host cannot be used; the message says why, and never repeats the URL."""


@dataclass(frozen=True)
class Host:
    """A URL's host, normalised: `name` is what git is given (an ASCII name in lower case
    without a trailing dot, a dotted-quad IPv4 or a compressed IPv6 address), `address` is set
    for an address literal."""

    name: str
    address: IPAddress | None = None
    zone: str = ""

    @property
    def in_url(self) -> str:
        """The host as a URL writes it (IPv6 in brackets)."""
        return url_form(self.address) if self.address else self.name


def url_form(address: IPAddress) -> str:
    """An address as a URL (or curl's resolve option) writes it: IPv6 in brackets."""
    return f"[{address}]" if address.version == 6 else str(address)


def parse_host(hostname: str, *, bracketed: bool) -> Host:
    """The host of a URL, normalised; `bracketed` when the URL wrote it in [brackets]
    (then only IPv6 is accepted, as by curl). HostError when it is neither a valid name nor a
    valid address."""
    if bracketed:
        literal, _, zone = hostname.partition("%")
        try:
            address = ipaddress.IPv6Address(literal)
        except ValueError:
            raise HostError("The host in brackets is not a valid IPv6 address.") from None
        return Host(str(address), address, zone)
    if "%" in hostname:
        raise HostError(f"{NAME_RULE}; it cannot be percent-encoded.")
    name = hostname
    if not name.isascii():
        try:  # IDNA maps look-alikes too: full-width "１２７.０.０.１" is 127.0.0.1
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise HostError(f"{NAME_RULE}; this name has characters that cannot be "
                            "written in IDNA (xn--) form.") from None
    name = name.lower()
    name = name.removesuffix(".")
    labels = name.split(".")
    if _DECIMAL.fullmatch(labels[-1]) or _HEX.fullmatch(labels[-1]):
        address = parse_ipv4(name)  # a numeric last label makes it an address (as curl does)
        if address is None:
            raise HostError("The host is not a valid IPv4 address.")
        return Host(str(address), address)
    if not all(labels):
        raise HostError(f"{NAME_RULE}; this one has an empty part (two dots in a row?).")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise HostError(f"{NAME_RULE}, in parts of at most 63 characters.")
    return Host(name)


def parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """`text` read as inet_aton does (and curl's URL parser): 1 to 4 parts separated by dots,
    each decimal, octal with a leading 0 or hex with 0x, the last one filling the remaining
    bytes (127.1 is 127.0.0.1, 2130706433 and 0x7f000001 are too). None when it is not one."""
    parts = text.lower().removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if _HEX.fullmatch(part):
            values.append(int(part[2:] or "0", 16))
        elif _OCTAL.fullmatch(part):
            values.append(int(part, 8))
        elif _DECIMAL.fullmatch(part) and (part == "0" or not part.startswith("0")):
            values.append(int(part))
        else:
            return None  # empty, a letter, or 8 or 9 in an octal part
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (4 - len(leading)):
        return None
    number = last
    for index, value in enumerate(leading):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def host_problem(host: Host, *, allow_internal: bool) -> str | None:
    """Why git may not fetch from `host` as written (no DNS asked), e.g. "a loopback address";
    None when it may."""
    if host.address is not None:
        problem = address_problem(host.address, allow_internal=allow_internal)
        if problem is None and host.zone:
            problem = "an address with an interface (zone) id"
        return problem
    if not allow_internal and (host.name == "localhost"
                               or host.name.endswith(_INTERNAL_SUFFIXES)):
        return "a name on the panel's own network"
    if not allow_internal and "." not in host.name:
        return "a name without a domain (one the panel's own network would answer)"
    return None


def address_problem(address: IPAddress, *, allow_internal: bool) -> str | None:
    """What kind of address `address` is when git may not connect to it, e.g. "a loopback
    address"; None when it is globally routable.

    `ipaddress`'s is_global alone is not enough: it calls multicast (224.0.0.1, ff02::1),
    fec0::/10 site-local and IPv4 embedded in IPv6 (::127.0.0.1, 64:ff9b::7f00:1) global.
    So explicit checks come first; an IPv6 address that carries an IPv4 one (mapped
    ::ffff:0:0/96, NAT64 64:ff9b::/96, compatible ::/96, 6to4 2002::/16) is judged by the
    IPv4 address it leads to, and mapped and NAT64 forms of a public one are accepted (that is
    what an IPv6-only host with DNS64 is given for github.com)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        problem = address_problem(embedded, allow_internal=allow_internal)
        if problem:
            return f"{problem} ({embedded} inside an IPv6 address)"
        if address.ipv4_mapped or address in _NAT64 or allow_internal:
            return None
        return "a deprecated IPv6 transition address (6to4 or IPv4-compatible)"
    if address in METADATA_ADDRESSES:
        return "the cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address == _BROADCAST:
        return "the broadcast address"
    if allow_internal:
        return None
    for test, kind in (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address in _SHARED, "a shared (carrier-grade NAT) address"),
        (address.version == 6 and address.is_site_local, "a site-local address"),
        (any(address in network for network in _DOCUMENTATION), "a documentation address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "an address that is not globally routable"),
    ):
        if test:
            return kind
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version == 4:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def resolve_host(name: str, port: int) -> list[IPAddress]:
    """Every address `name` resolves to, as git's curl would ask (getaddrinfo), without
    duplicates. OSError (socket.gaierror) when it does not resolve. Tests replace this
    function with a resolver of their own."""
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(name, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in found:
            found.append(address)
    return found
