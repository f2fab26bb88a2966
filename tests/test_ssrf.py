"""The SSRF guard's decisions: which addresses are public, what numeric hosts mean, what the allow-list permits.

The end-to-end behaviour (nothing sent, pinned connections, redirects) is
tested with real servers in test_tools_web.py.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from tools.base import ToolInputError
from tools.ssrf import AllowList, BlockedAddress, blocked_class, literal_address, parse_url, resolve_public

BLOCKED = [
    ("127.0.0.1", "a loopback address"),
    ("127.255.255.254", "a loopback address"),
    ("::1", "a loopback address"),
    ("0.0.0.0", "an unspecified ('this network') address"),
    ("::", "an unspecified address"),
    ("10.1.2.3", "a private address"),
    ("172.31.255.1", "a private address"),
    ("192.168.1.1", "a private address"),
    ("100.64.0.1", "a shared (carrier-grade NAT) address"),
    ("100.127.255.254", "a shared (carrier-grade NAT) address"),
    ("198.19.0.1", "a private (benchmarking) address"),
    ("169.254.169.254", "the cloud metadata address (link-local)"),
    ("169.254.1.1", "a link-local address"),
    ("fd00:ec2::254", "the cloud metadata address (unique-local)"),
    ("fe80::1", "a link-local address"),
    ("fe80::1%1", "a link-local address"),
    ("fec0::1", "a site-local address"),
    ("fc00::1", "a unique-local (private) address"),
    ("fd12:3456::1", "a unique-local (private) address"),
    ("224.0.0.1", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "a reserved address"),
    ("192.0.2.1", "a non-public (reserved or special-purpose) address"),
    ("2001:db8::1", "a non-public (reserved or special-purpose) address"),
    ("::ffff:127.0.0.1", "a loopback address (127.0.0.1) in IPv4-mapped IPv6 form"),
    ("::ffff:a9fe:a9fe", "the cloud metadata address (link-local) (169.254.169.254) in IPv4-mapped IPv6 form"),
    ("::ffff:10.0.0.1", "a private address (10.0.0.1) in IPv4-mapped IPv6 form"),
    ("::127.0.0.1", "a loopback address (127.0.0.1) in IPv4-compatible IPv6 form"),
    ("::8.8.8.8", "a deprecated IPv4-compatible IPv6 address"),
    ("64:ff9b::a00:1", "a private address (10.0.0.1) in NAT64 IPv6 form"),
    ("64:ff9b:1::1", "a local-use NAT64 address"),
    ("2002:7f00:1::1", "a loopback address (127.0.0.1) in 6to4 IPv6 form"),
    ("2002:a9fe:a9fe::", "the cloud metadata address (link-local) (169.254.169.254) in 6to4 IPv6 form"),
    # Teredo: the client address is stored inverted; 80ff:fff5 is 127.0.0.10.
    ("2001:0:4136:e378:8000:63bf:80ff:fff5", "a loopback address (127.0.0.10) in Teredo IPv6 form"),
]


@pytest.mark.parametrize(("address", "kind"), BLOCKED, ids=[address for address, _ in BLOCKED])
def test_it_names_the_class_of_non_public_addresses(address, kind):
    assert blocked_class(ipaddress.ip_address(address)) == kind


PUBLIC = ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::"]


@pytest.mark.parametrize("address", PUBLIC)
def test_it_lets_public_addresses_through(address):
    assert blocked_class(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("10.0x10203", "10.1.2.3"),
        ("169.254.43518", "169.254.169.254"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ],
)
def test_it_reads_numeric_hosts_as_libc_and_browsers_do(host, address):
    assert literal_address(host) == ipaddress.ip_address(address)
    if "." in address and ":" not in address:
        # The same answer as the platform's own parser, which getaddrinfo uses for numeric hosts.
        assert socket.inet_ntoa(socket.inet_aton(host.rstrip("."))) == address


@pytest.mark.parametrize("host", ["example.com", "1.2.3.example", "localhost", "xn--bcher-kva.example"])
def test_it_leaves_names_to_the_resolver(host):
    assert literal_address(host) is None


@pytest.mark.parametrize("host", ["256.0.0.1", "1.2.3.4.5", "09.0.0.1", "4294967296", "1.2.65536", "example.123"])
def test_it_refuses_invalid_numeric_hosts(host):
    with pytest.raises(ToolInputError, match="not a valid IPv4 address"):
        literal_address(host)


def test_it_refuses_a_public_name_that_resolves_to_a_private_address(monkeypatch, settings):
    settings.WEB_ALLOWED_HOSTS = []
    _answer(monkeypatch, "sneaky.example", ["93.184.215.14", "10.9.8.7"])

    with pytest.raises(BlockedAddress) as refused:
        resolve_public("sneaky.example", 443)

    assert str(refused.value) == (
        "Refused to connect to 'sneaky.example': it resolves to 10.9.8.7, a private address. "
        "The web tools only reach public addresses unless the host is listed in WEB_ALLOWED_HOSTS."
    )


def test_it_resolves_public_names_to_every_address(monkeypatch, settings):
    settings.WEB_ALLOWED_HOSTS = []
    _answer(monkeypatch, "public.example", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14"])

    assert resolve_public("public.example", 443) == [
        ipaddress.ip_address("93.184.215.14"),
        ipaddress.ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
    ]


def test_it_allows_listed_names_addresses_and_networks(monkeypatch, settings):
    settings.WEB_ALLOWED_HOSTS = ["Intranet.Corp.", "*.svc.cluster", "10.20.0.0/16", "[fd00::5]", "127.0.0.1"]
    _answer(monkeypatch, "intranet.corp", ["10.0.0.1"])
    _answer(monkeypatch, "api.svc.cluster", ["10.96.0.1"])
    _answer(monkeypatch, "db.example", ["10.20.3.4"])
    _answer(monkeypatch, "other.example", ["10.21.0.1"])

    assert resolve_public("INTRANET.corp", 80) == [ipaddress.ip_address("10.0.0.1")]
    assert resolve_public("api.svc.cluster", 80) == [ipaddress.ip_address("10.96.0.1")]
    assert resolve_public("db.example", 80) == [ipaddress.ip_address("10.20.3.4")]
    assert resolve_public("fd00::5", 80) == [ipaddress.ip_address("fd00::5")]
    assert resolve_public("::ffff:127.0.0.1", 80) == [ipaddress.ip_address("::ffff:127.0.0.1")]
    assert resolve_public("2130706433", 80) == [ipaddress.ip_address("127.0.0.1")]
    with pytest.raises(BlockedAddress, match=re.escape("10.21.0.1, a private address")):
        resolve_public("other.example", 80)
    with pytest.raises(BlockedAddress, match="a loopback address"):
        resolve_public("127.0.0.2", 80)


def test_it_fails_loudly_on_a_bad_allow_list_entry(settings):
    settings.WEB_ALLOWED_HOSTS = ["10.0.0.0/33"]

    with pytest.raises(ImproperlyConfigured, match="WEB_ALLOWED_HOSTS"):
        AllowList.from_settings()


def test_it_normalises_urls():
    target = parse_url("HTTPS://Example.COM:8443/a b/ü?q=1 2#frag")

    assert target.url == "https://example.com:8443/a%20b/%C3%BC?q=1%202"
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "example.com",
        8443,
        "/a%20b/%C3%BC?q=1%202",
    )
    assert parse_url("http://[::FFFF:127.0.0.1]").host == "::ffff:7f00:1"
    assert parse_url("http://bücher.example/").host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "Only http and https"),
        ("example.com/page", "Only http and https"),
        ("http://user:pw@example.com/", "user name or password"),
        ("http://evil.example\\@127.0.0.1/", "user name or password"),
        ("http:///path", "has no host"),
        ("http://example.com:99999/", "Not a valid port"),
        ("http://exa mple.com/", "Not a valid host name"),
        ("http://%31%32%37.0.0.1/", "Not a valid host name"),
    ],
)
def test_it_refuses_urls_it_cannot_check(url, message):
    with pytest.raises(ToolInputError, match=message):
        parse_url(url)


def _answer(monkeypatch: pytest.MonkeyPatch, name: str, addresses: list[str]) -> None:
    """Make the stdlib resolver answer `addresses` for `name` (other names resolve for real)."""
    real = getattr(socket.getaddrinfo, "real", socket.getaddrinfo)
    answers: dict[str, list[str]] = {**getattr(socket.getaddrinfo, "answers", {}), name: addresses}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).lower() not in answers:  # names are case-insensitive, as in DNS
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[str(host).lower()]
        ]

    getaddrinfo.real = real  # type: ignore[attr-defined]
    getaddrinfo.answers = answers  # type: ignore[attr-defined]
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
