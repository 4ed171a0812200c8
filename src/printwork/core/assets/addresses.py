"""Which network addresses Printwork may fetch from (asset URLs, callbacks).

Only public internet addresses: loopback, private, link-local (and so cloud metadata
endpoints), shared, multicast, reserved and unspecified addresses are refused, and so are
IPv6 addresses that embed one of those (IPv4-mapped, 6to4, Teredo, NAT64). A host name is
judged by every address it resolves to, so one private answer is enough to refuse it; the
fetcher must connect only to the addresses judged here, or re-check after each redirect.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not global


class RefusedAddress(ValueError):
    """The URL may not be fetched; the message says why, for an issue description."""


def is_public(address: IPAddress) -> bool:
    if address.version == 6:
        # An IPv6 form of an IPv4 address reaches that IPv4 address: judge it instead.
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in _NAT64:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address in _NAT64_LOCAL:
            return False
    for embedded in _embedded_ipv4(address):
        if not is_public(embedded):
            return False
    if address.version == 4 and address in _SHARED:
        return False
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def _embedded_ipv4(address: IPAddress) -> Iterable[ipaddress.IPv4Address]:
    if address.version != 6:
        return []
    found = []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def check_host(
    host: str, port: int, *, allow_private: bool = False, resolve: Resolver = system_resolver,
    permitted: Callable[[IPAddress], bool] = is_public,
) -> list[IPAddress]:
    """The addresses of `host` that may be connected to; raises RefusedAddress otherwise."""
    host = host.strip("[]")
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
        except (OSError, UnicodeError) as exc:
            raise RefusedAddress(f"the host {host!r} could not be resolved ({exc})") from None
        if not addresses:
            raise RefusedAddress(f"the host {host!r} has no addresses") from None
    if not allow_private:
        refused = [str(a) for a in addresses if not permitted(a)]
        if refused:
            raise RefusedAddress(f"{host!r} resolves to a non-public address ({', '.join(refused)})")
    return addresses


def check_url(url: str, *, allow_private: bool = False, resolve: Resolver = system_resolver) -> list[IPAddress]:
    """The addresses `url` may be fetched from; raises RefusedAddress otherwise."""
    host, port = check_url_form(url)
    return check_host(host, port, allow_private=allow_private, resolve=resolve)


def check_url_form(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL without credentials; raises RefusedAddress."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RefusedAddress(f"only http and https URLs can be fetched, not {parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise RefusedAddress("the URL has no host")
    if parts.username or parts.password:
        raise RefusedAddress("URLs with credentials are not fetched")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedAddress("the URL's port is not valid") from None
    return parts.hostname, port
