"""Where a webhook may be delivered: public addresses only, unless an allow-list names them.

A URL is resolved once per check, and the delivery connects to the address that was
checked (never resolving the name a second time), so a name that changes between the
check and the connection cannot lead the sender to an internal address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

from docmgmt.domain.errors import InvalidInputError

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""Resolves (host, port) to IP address strings; raises OSError when it cannot."""

SHARED_ADDRESS_SPACE = IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
NAT64 = IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
SIXTO4 = IPv6Network("2002::/16")
_INET_ATON_CHARS = frozenset("0123456789abcdefx.")


class WebhookTargetRefusedError(InvalidInputError):
    """The webhook URL leads to an address deliveries must not reach."""

    code = "webhook_target_refused"
    reason = "refused"


class LoopbackTargetError(WebhookTargetRefusedError):
    """The URL leads to this machine (loopback)."""

    code = "webhook_target_loopback"
    reason = "loopback"


class PrivateTargetError(WebhookTargetRefusedError):
    """The URL leads to a private network address."""

    code = "webhook_target_private"
    reason = "private"


class LinkLocalTargetError(WebhookTargetRefusedError):
    """The URL leads to a link-local address (e.g. a cloud metadata service)."""

    code = "webhook_target_link_local"
    reason = "link_local"


class MulticastTargetError(WebhookTargetRefusedError):
    """The URL leads to a multicast address."""

    code = "webhook_target_multicast"
    reason = "multicast"


class UnspecifiedTargetError(WebhookTargetRefusedError):
    """The URL leads to the unspecified address (0.0.0.0 or ::)."""

    code = "webhook_target_unspecified"
    reason = "unspecified"


class SharedAddressTargetError(WebhookTargetRefusedError):
    """The URL leads to the shared address space of carrier-grade NAT (100.64.0.0/10)."""

    code = "webhook_target_shared_address"
    reason = "shared_address"


class ReservedTargetError(WebhookTargetRefusedError):
    """The URL leads to a reserved or otherwise non-global address."""

    code = "webhook_target_reserved"
    reason = "reserved"


class UnresolvableTargetError(WebhookTargetRefusedError):
    """The URL's host name does not resolve to any address."""

    code = "webhook_target_unresolvable"
    reason = "unresolvable"


_ERRORS: dict[str, type[WebhookTargetRefusedError]] = {
    cls.reason: cls for cls in (
        LoopbackTargetError, PrivateTargetError, LinkLocalTargetError, MulticastTargetError,
        UnspecifiedTargetError, SharedAddressTargetError, ReservedTargetError)
}


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    # Forms that a stack or a gateway turns into an IPv4 connection.
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = int(address)
    if address in NAT64 or (packed >> 32 == 0 and packed > 1):  # NAT64, IPv4-compatible
        return IPv4Address(packed & 0xFFFFFFFF)
    return None


def refusal(address: Address) -> str | None:
    """Why deliveries must not reach this address (a reason word), or None if it is global."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refusal(embedded)
    checks: tuple[tuple[str, bool], ...] = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link_local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("shared_address", isinstance(address, IPv4Address)
         and address in SHARED_ADDRESS_SPACE),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("reserved", not address.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


def literal_address(host: str) -> Address | None:
    """The address a host written as an IP literal stands for, in any form a resolver
    accepts (dotted, decimal ``2130706433``, hex ``0x7f000001``, short ``127.1``)."""
    name = host.strip("[]")
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if name and set(name.lower()) <= _INET_ATON_CHARS:
        try:
            return IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system's resolver gives for the host."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """A checked delivery target: the URL's parts and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def host_header(self) -> str:
        """The Host header: the name as written, with the port when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _normalise_host(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


@dataclass(frozen=True)
class TargetPolicy:
    """Public addresses only, except the host names and networks allow-listed here."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[Network, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_lists(cls, hosts: Iterable[str], networks: Iterable[str],
                   resolver: Resolver = system_resolver) -> TargetPolicy:
        """Build from settings: host names and CIDR networks (``10.1.2.0/24``, ``::1/128``)."""
        return cls(frozenset(_normalise_host(h) for h in hosts if h.strip()),
                   tuple(ipaddress.ip_network(n.strip(), strict=False)
                         for n in networks if n.strip()),
                   resolver)

    def _allowed(self, host: str, address: Address) -> bool:
        if host in self.allowed_hosts or str(address) in self.allowed_hosts:
            return True
        return any(address.version == net.version and address in net
                   for net in self.allowed_networks)

    def check_address(self, host: str, address: Address) -> None:
        """Raise the WebhookTargetRefusedError naming why this address is refused, if it is."""
        if self._allowed(_normalise_host(host), address):
            return
        reason = refusal(address)
        if reason is not None:
            raise _ERRORS[reason](
                f"webhook deliveries may not reach {reason.replace('_', '-')} addresses "
                "(ask the operator to allow-list the host if it is meant)", field="url")

    def target(self, url: str) -> Target:
        """Resolve the URL's host, check every address it has; the target to connect to."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = _normalise_host(parts.hostname or "")
        port = parts.port or (443 if scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        addresses = self._addresses(host, port)
        if not addresses:
            raise UnresolvableTargetError(f"the webhook host {host!r} does not resolve",
                                          field="url")
        # Every address is checked: one bad answer among good ones is refused, so a
        # resolver cannot slip an internal address in next to a public one.
        for address in addresses:
            self.check_address(host, address)
        return Target(url, scheme, host, port, path, str(addresses[0]))

    def check(self, url: str) -> None:
        """Refuse a URL whose host is, or now resolves to, a refused address; a name that
        does not resolve yet passes (every delivery resolves and checks it again)."""
        with contextlib.suppress(UnresolvableTargetError):
            self.target(url)

    def _addresses(self, host: str, port: int) -> list[Address]:
        literal = literal_address(host)
        if literal is not None:
            return [literal]
        try:
            found = self.resolver(host, port)
        except (OSError, UnicodeError):
            return []
        # A scope id (fe80::1%eth0) is dropped: the address alone decides.
        return [a for a in (literal_address(s.split("%")[0]) for s in found) if a is not None]
