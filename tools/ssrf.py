"""Outbound HTTP that cannot be turned against our own network (an SSRF guard).

Agents choose the URLs they fetch, and a URL can name anything this server
can reach: the cloud metadata endpoint, a database's admin port, a service
on localhost. All outbound HTTP goes through this module so that it only
reaches public addresses:

- `resolve_public(host, port)` resolves the name first and refuses it if any
  address is loopback, private, link-local, multicast, reserved... IPv6 forms
  that embed an IPv4 address (::ffff:127.0.0.1, 6to4, NAT64, Teredo) are
  judged by that address, and numeric hosts (2130706433, 0x7f000001,
  0177.0.0.1, 127.1) by the address they mean. `settings.WEB_ALLOWED_HOSTS`
  names hosts, addresses or CIDRs that may be internal.
- `tools.http.fetch(...)`, the one HTTP client of the tools, connects to
  exactly the addresses checked here.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tools.base import RetryableToolError, ToolInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# http.client computes these from the request; a caller's value would only corrupt it.
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


class BlockedAddress(ToolInputError):
    """The URL's host is, or resolves to, an address the web tools must not reach."""


def _table(entries: list[tuple[str, str]]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(network), label) for network, label in entries)


# Named so the refusal says what kind of address it was; first match wins, so specific ranges come first.
_V4_CLASSES = _table(
    [
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.169.254/32", "the cloud metadata address (link-local)"),
        ("169.254.0.0/16", "a link-local address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("198.18.0.0/15", "a private (benchmarking) address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    ]
)
_V6_CLASSES = _table(
    [
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fd00:ec2::254/128", "the cloud metadata address (unique-local)"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("fc00::/7", "a unique-local (private) address"),
        ("ff00::/8", "a multicast address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ]
)
_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def blocked_class(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is ("a loopback address"...), or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(int(ip))  # without a %scope, which only confuses the range checks
        embedded, form = _embedded_ipv4(ip)
        if embedded is not None:
            inner = blocked_class(embedded)
            if inner:
                return f"{inner} ({embedded}) in {form} IPv6 form"
            if form in ("IPv4-mapped", "NAT64"):
                return None  # the connection goes to that public IPv4 address
            if form == "IPv4-compatible":
                return "a deprecated IPv4-compatible IPv6 address"
    for network, label in _V4_CLASSES if ip.version == 4 else _V6_CLASSES:
        if ip in network:
            return label
    if not ip.is_global:
        return "a non-public (reserved or special-purpose) address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address | None, str]:
    """The IPv4 address an IPv6 address carries (and the form), so ::ffff:127.0.0.1 counts as 127.0.0.1."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    if ip.teredo is not None:
        return ip.teredo[1], "Teredo"
    if ip in _COMPATIBLE and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip)), "IPv4-compatible"
    return None, ""


def literal_address(host: str) -> IPAddress | None:
    """The address a numeric host means, as libc and browsers read it (127.1, 0x7f000001...), or None for a name.

    Parsed here rather than left to getaddrinfo so that no resolver ever sees
    a numeric host and every platform agrees on what it means.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _NUMBER.fullmatch(parts[-1]):
        return None  # a name: URL parsers only read hosts ending in a number as IPv4
    parsed = [_ipv4_number(part) for part in parts]
    numbers = [n for n in parsed if n is not None]
    if len(parts) > 4 or len(numbers) < len(parsed) or any(n >= 256 for n in numbers[:-1]):
        raise ToolInputError(f"{host!r} is not a valid IPv4 address.")
    *high, last = numbers
    if last >= 256 ** (5 - len(numbers)):
        raise ToolInputError(f"{host!r} is not a valid IPv4 address.")
    value = last
    for index, number in enumerate(high):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int | None:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16) if re.fullmatch(r"[0-9a-fA-F]*", part[2:]) else None
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if re.fullmatch(r"[0-7]+", part) else None
    return int(part) if part.isdigit() else None


@dataclass(frozen=True)
class AllowList:
    """settings.WEB_ALLOWED_HOSTS parsed: names ("*.corp.example" for subdomains), addresses and CIDRs."""

    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls) -> AllowList:
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for raw in settings.WEB_ALLOWED_HOSTS:
            entry = raw.strip().lower().strip("[]").rstrip(".")
            try:
                if "/" in entry:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                elif (address := literal_address(entry)) is not None:
                    networks.append(ipaddress.ip_network(address))
                elif entry.startswith("*."):
                    suffixes.append(entry[1:])
                elif entry:
                    names.add(entry)
            except (ValueError, ToolInputError):
                raise ImproperlyConfigured(f"WEB_ALLOWED_HOSTS: {raw!r} is not a host name, address or CIDR") from None
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def allows_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or host.endswith(self.suffixes)

    def allows_address(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            candidates = [ipaddress.IPv6Address(int(ip))]
            if ip.ipv4_mapped is not None:
                candidates.append(ip.ipv4_mapped)
        return any(c in network for c in candidates for network in self.networks if c.version == network.version)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` stands for, both families, in the resolver's order (without duplicates)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise RetryableToolError(f"Could not resolve {host!r} (temporary DNS failure).") from None
        raise ToolInputError(f"Could not resolve {host!r}: {exc.strerror}.") from None
    except UnicodeError:
        raise ToolInputError(f"{host!r} is not a valid host name.") from None
    addresses: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise ToolInputError(f"{host!r} has no IPv4 or IPv6 address.")
    return addresses


def resolve_public(host: str, port: int) -> list[IPAddress]:
    """The addresses of `host`, refusing it (BlockedAddress) if any of them is not public and not allow-listed.

    Any, not all: a name that answers one public and one internal address
    could be steered to the internal one.
    """
    host = host.strip("[]")
    allow = AllowList.from_settings()
    addresses = resolve(host, port)
    if allow.allows_name(host):
        return addresses
    for ip in addresses:
        reason = None if allow.allows_address(ip) else blocked_class(ip)
        if reason:
            what = f"{host!r}:" if str(ip) == host else f"{host!r}: it resolves to {ip},"
            raise BlockedAddress(
                f"Refused to connect to {what} {reason}. The web tools only reach public addresses "
                "unless the host is listed in WEB_ALLOWED_HOSTS."
            )
    return addresses


@dataclass(frozen=True)
class Target:
    """A checked URL: what to resolve (host, port) and what to ask for (path, with the query)."""

    url: str  # normalised, without fragment or user info
    scheme: str
    host: str  # lower case, ASCII (IDNA), without IPv6 brackets
    port: int
    path: str

    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def parse_url(url: str) -> Target:
    """Check and normalise a URL: http(s) only, no user:pass@, fragment dropped, path and query %-encoded."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise ToolInputError(f"Not a valid URL ({exc}): {url!r}") from None
    if "@" in parts.netloc:
        # The URL is not echoed: it holds a password.
        raise ToolInputError("URLs with a user name or password (user:pass@host) are refused: use a header.")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme}:" if scheme else "a URL without a scheme"
        raise ToolInputError(f"Only http and https URLs can be fetched, not {shown} ({url!r}).")
    try:
        port = parts.port
    except ValueError:
        raise ToolInputError(f"Not a valid port in {url!r}") from None
    host = _ascii_host(parts.hostname or "", url)
    port = port or (443 if scheme == "https" else 80)
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    query = quote(parts.query, safe=_QUERY_SAFE)
    shown_host = f"[{host}]" if ":" in host else host
    netloc = shown_host if parts.port is None else f"{shown_host}:{port}"
    return Target(
        url=urlunsplit((scheme, netloc, path, query, "")),
        scheme=scheme,
        host=host,
        port=port,
        path=f"{path}?{query}" if query else path,
    )


def _ascii_host(host: str, url: str) -> str:
    if not host:
        raise ToolInputError(f"The URL has no host: {url!r}")
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ToolInputError(f"Not a valid IPv6 address in {url!r}") from None
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        ascii_host = ""
    if not _HOST_NAME.fullmatch(ascii_host):
        raise ToolInputError(f"Not a valid host name in {url!r}")
    return ascii_host
