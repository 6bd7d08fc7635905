"""Where the service may send requests of its own: public http(s) addresses, pinned.

Webhook URLs are chosen by API users, so without a policy a regulator could make the server
POST to its own loopback services, the cloud metadata endpoint or the operator's internal
network (SSRF). :class:`OutboundPolicy` allows only ``http``/``https`` URLs without userinfo
whose host is, or resolves only to, public unicast addresses; private ranges only when the
operator lists them (``Settings.webhook_allow_networks``). A name is judged by *every*
address it resolves to, so one private answer among public ones refuses it.

Checking is not enough on its own: a name can resolve to a public address when checked and
to 127.0.0.1 a moment later, when the HTTP client resolves it again (DNS rebinding).
:class:`PinnedTransport` therefore checks at the moment of sending and connects to the very
address it checked, keeping the original ``Host`` header and TLS server name (so the
certificate is still verified for the name). Resolution goes through a :class:`Resolver`
seam; tests inject a fake one and a spy transport behind it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol
from urllib.parse import unquote

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Reason = Literal["invalid", "scheme", "userinfo", "private_address", "private_name", "unresolvable"]
SCHEMES: Final = ("http", "https")


class Resolver(Protocol):
    """``(host, port)`` -> the addresses a connection to that host could go to (text)."""

    def __call__(self, host: str, port: int, /) -> Sequence[str]: ...


def system_resolver(host: str, port: int) -> list[str]:
    """The system's answer (``getaddrinfo``), IPv4 and IPv6, first occurrence order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for *_, sockaddr in found:
        if str(sockaddr[0]) not in addresses:
            addresses.append(str(sockaddr[0]))
    return addresses


class DestinationRefusedError(Exception):
    """A destination the policy refuses; ``reason`` is stable, ``detail`` says why."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class RefusedRequestError(httpx.TransportError):
    """:class:`DestinationRefusedError`, raised where httpx expects a transport's errors."""

    def __init__(self, refused: DestinationRefusedError, request: httpx.Request) -> None:
        super().__init__(refused.detail, request=request)
        self.refused = refused


# Checked before ``is_global``, which this Python (3.11) gets wrong for several of them:
# multicast, 6to4 and NAT64 count as global there, IPv4-mapped addresses never do.
_NAMED: Final[tuple[tuple[str, str], ...]] = (
    ("0.0.0.0/8", "an unspecified ('this network')"),
    ("10.0.0.0/8", "a private (RFC 1918)"),
    ("100.64.0.0/10", "a shared (CGNAT)"),
    ("127.0.0.0/8", "a loopback"),
    ("169.254.169.254/32", "the cloud metadata"),
    ("169.254.0.0/16", "a link-local"),
    ("172.16.0.0/12", "a private (RFC 1918)"),
    ("192.0.0.0/24", "an IETF protocol"),
    ("192.0.2.0/24", "a documentation"),
    ("192.88.99.0/24", "a 6to4 relay"),
    ("192.168.0.0/16", "a private (RFC 1918)"),
    ("198.18.0.0/15", "a benchmarking"),
    ("198.51.100.0/24", "a documentation"),
    ("203.0.113.0/24", "a documentation"),
    ("224.0.0.0/4", "a multicast"),
    ("240.0.0.0/4", "a reserved"),
    ("255.255.255.255/32", "the broadcast"),
    ("::/128", "the unspecified"),
    ("::1/128", "the loopback"),
    ("::/96", "an IPv4-compatible (deprecated)"),
    ("64:ff9b:1::/48", "a local NAT64"),
    ("100::/64", "a discard"),
    ("2001::/23", "an IETF protocol"),
    ("2001:db8::/32", "a documentation"),
    ("3fff::/20", "a documentation"),
    ("5f00::/16", "a segment-routing"),
    ("fc00::/7", "a unique local"),
    ("fe80::/10", "a link-local"),
    ("fec0::/10", "a site-local (deprecated)"),
    ("ff00::/8", "a multicast"),
)
_NAMED_NETWORKS: Final = tuple((ipaddress.ip_network(n), kind) for n, kind in _NAMED)
_GLOBAL_UNICAST_V6: Final = ipaddress.IPv6Network("2000::/3")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
# Never a receiver, whatever the allow-list says: "this host" and every group address.
_NEVER: Final = tuple(
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "::/128", "ff00::/8")
)
_NUMERIC_HOST: Final = re.compile(r"[0-9a-fx.]+")
_AUTHORITY: Final = re.compile(r"[^:/?#]*:/*([^/?#]*)")


def parse_networks(texts: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (``10.0.0.0/8``, ``fd00::/8``, a bare address for one host); host bits set
    raise ``ValueError``, since ``10.0.0.1/8`` more likely is a typo than a wish."""
    return tuple(ipaddress.ip_network(text.strip(), strict=True) for text in texts)


def _unmapped(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) is the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4 or NAT64 address is relayed to."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def non_public(address: IPAddress) -> str | None:
    """What kind of non-public address this is (``"a loopback"``, …), or None if public."""
    address = _unmapped(address)
    for network, kind in _NAMED_NETWORKS:
        if address.version == network.version and address in network:
            return kind
    embedded = _embedded(address)
    if embedded is not None:
        inner = non_public(embedded)
        return None if inner is None else f"{inner} (embedded in IPv6)"
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return "a reserved"
    if not address.is_global or address.is_multicast or address.is_reserved:
        return "a non-global"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host spells literally, also in the legacy numeric forms
    ``inet_aton`` (and so every resolver) accepts: ``2130706433``, ``0x7f.1``, ``127.1``."""
    text = unquote(host)
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(text.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked URL: where to connect (``addresses``, every one allowed) and as whom."""

    url: httpx.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


class OutboundPolicy:
    """Public http(s) destinations, plus the operator's ``allow_networks``."""

    def __init__(
        self, allow_networks: Iterable[str] = (), resolver: Resolver = system_resolver
    ) -> None:
        self.allow_networks = parse_networks(allow_networks)
        self._resolver = resolver

    def admits(self, address: IPAddress) -> bool:
        address = _unmapped(address)
        if any(address.version == n.version and address in n for n in _NEVER):
            return False
        if any(address.version == n.version and address in n for n in self.allow_networks):
            return True
        return non_public(address) is None

    def check_url(self, url: str | httpx.URL) -> httpx.URL:
        """The URL's form alone: an http(s) URL with a host, no userinfo, a valid port."""
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise DestinationRefusedError("invalid", f"not a valid URL: {exc}") from None
        if parsed.scheme not in SCHEMES:
            raise DestinationRefusedError("scheme", "only http and https URLs are allowed")
        # An empty userinfo (``http://@host/``) is dropped by the parser, so the text counts.
        authority = _AUTHORITY.match(url) if isinstance(url, str) else None
        if parsed.userinfo or (authority is not None and "@" in authority[1]):
            raise DestinationRefusedError(
                "userinfo", "a URL with a user name or password is not allowed"
            )
        if not parsed.host:
            raise DestinationRefusedError("invalid", "the URL has no host")
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise DestinationRefusedError("invalid", f"{parsed.port} is not a port to send to")
        return parsed

    def vet(self, url: str | httpx.URL) -> Destination:
        """Check ``url`` and resolve its host; raises :class:`DestinationRefusedError` unless
        every address it resolves to is allowed."""
        parsed = self.check_url(url)
        host = parsed.raw_host.decode("ascii")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        literal = literal_address(host)
        if literal is not None:
            if not self.admits(literal):
                kind = non_public(literal) or "a never-allowed"
                raise DestinationRefusedError("private_address", f"{literal} is {kind} address")
            return Destination(parsed, host, port, (literal,))
        try:
            answers = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self._resolver(host, port)]
        except (OSError, UnicodeError, ValueError):
            answers = []
        if not answers:
            raise DestinationRefusedError("unresolvable", f"{host} does not resolve")
        for address in answers:
            if not self.admits(address):
                # The kind, not the address: which internal address a name has stays internal.
                kind = non_public(address) or "a never-allowed"
                raise DestinationRefusedError("private_name", f"{host} resolves to {kind} address")
        return Destination(parsed, host, port, tuple(answers))


def direct_transport() -> httpx.BaseTransport:
    """Real connections, none kept alive: a pooled connection is keyed by address alone and
    could carry another name's request (checked for a different certificate)."""
    return httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))


class PinnedTransport(httpx.BaseTransport):
    """Vets every request's URL at sending time, then has ``inner`` connect to the checked
    address itself (the next one if it refuses the connection), never to the name."""

    def __init__(self, policy: OutboundPolicy, inner: httpx.BaseTransport) -> None:
        self._policy, self._inner = policy, inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            destination = self._policy.vet(request.url)
        except DestinationRefusedError as refused:
            raise RefusedRequestError(refused, request) from None
        last: httpx.ConnectError | None = None
        for address in destination.addresses:
            try:
                return self._inner.handle_request(self._pinned(request, destination, address))
            except httpx.ConnectError as exc:  # nothing was sent: the next address may answer
                last = exc
        assert last is not None
        raise last

    @staticmethod
    def _pinned(
        request: httpx.Request, destination: Destination, address: IPAddress
    ) -> httpx.Request:
        extensions = dict(request.extensions)
        if destination.url.scheme == "https" and literal_address(destination.host) is None:
            extensions["sni_hostname"] = destination.host
        # The Host header was set from the original URL when the request was built.
        return httpx.Request(request.method, request.url.copy_with(host=str(address)),
                             headers=request.headers, stream=request.stream,
                             extensions=extensions)  # fmt: skip

    def close(self) -> None:
        self._inner.close()


def pinned_client(
    policy: OutboundPolicy,
    *,
    timeout: float,
    transport: Callable[[], httpx.BaseTransport] = direct_transport,
) -> httpx.Client:
    """A client that only reaches what ``policy`` allows, and follows no redirect.

    ``trust_env=False``: a proxy from the environment would resolve and connect itself,
    around the pinning."""
    return httpx.Client(transport=PinnedTransport(policy, transport()), timeout=timeout,
                        follow_redirects=False, trust_env=False)  # fmt: skip
