"""Who the client is (``api.routes._common.client_of``): the socket's peer, unless that peer
is a trusted proxy; then the right-most X-Forwarded-For address that is not one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request

from api.routes._common import client_of
from api.settings import Settings


def _request(peer: str | None, proxies: list[str], *forwarded: str) -> Request:
    settings = Settings(trusted_proxies=proxies)
    app = SimpleNamespace(state=SimpleNamespace(service=SimpleNamespace(settings=settings)))
    scope = {
        "type": "http",
        "app": app,
        "client": None if peer is None else (peer, 50000),
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("peer", "proxies", "forwarded", "client"),
    [
        ("203.0.113.5", [], ["198.51.100.1"], "203.0.113.5"),  # nobody trusted: the peer
        ("127.0.0.1", [], ["198.51.100.1"], "127.0.0.1"),  # not even loopback by default
        ("198.51.100.9", ["10.0.0.0/8"], ["192.0.2.1"], "198.51.100.9"),  # peer no proxy
        ("10.0.0.2", ["10.0.0.0/8"], ["192.0.2.1, 198.51.100.7"], "198.51.100.7"),
        ("10.0.0.2", ["10.0.0.0/8"], ["192.0.2.1", "198.51.100.7, 10.1.1.1"], "198.51.100.7"),
        ("10.0.0.2", ["10.0.0.0/8"], ["10.9.9.9, 10.1.1.1"], "10.9.9.9"),  # all proxies
        ("10.0.0.2", ["10.0.0.0/8"], [], "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.0/8"], ["192.0.2.1, junk"], "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.0/8"], ["198.51.100.7:4711"], "198.51.100.7"),
        ("10.0.0.2", ["10.0.0.0/8"], ["[2001:db8::1]:443"], "2001:db8::1"),
        ("::ffff:10.0.0.2", ["10.0.0.0/8"], ["2001:db8::2"], "2001:db8::2"),
        ("::1", ["::1/128"], ["192.0.2.8"], "192.0.2.8"),
        ("testclient", ["10.0.0.0/8"], ["192.0.2.8"], "testclient"),
        (None, ["10.0.0.0/8"], ["192.0.2.8"], None),
    ],
)
def test_the_client_is_the_right_most_untrusted_hop(
    peer: str | None, proxies: list[str], forwarded: list[str], client: str | None
) -> None:
    assert client_of(_request(peer, proxies, *forwarded)) == client


def test_a_malformed_trusted_proxy_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        Settings(trusted_proxies=["10.0.0.0/33"])
