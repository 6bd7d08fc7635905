"""Helpers shared by the routes: strict JSON bodies and the service handle."""

from __future__ import annotations

import functools
import ipaddress
import json
from typing import Any, TypeAlias

from fastapi import Request

from api.problems import ProblemError
from api.services.root import Service


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ProblemError(422, "malformed_json", f"duplicate key {key!r}", field=key)
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise ProblemError(422, "malformed_json", f"{name} is not JSON")


async def read_json(request: Request) -> Any:
    """The request body as JSON: no duplicate keys, no NaN, no floats coerced.

    Its size and nesting depth were checked before the route ran (``api.limits``).

    Raises:
        ProblemError: 415 ``unsupported_media_type``, 422 ``malformed_json``.
    """
    media = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if media not in ("application/json", "application/ld+json"):
        raise ProblemError(415, "unsupported_media_type", "send application/json")
    body = await request.body()
    try:
        return json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ProblemError(
            422, "malformed_json", f"the body is not JSON: {exc}", field="$"
        ) from None
    except RecursionError:  # only if max_json_depth is set beyond what the parser can nest
        raise ProblemError(
            422, "malformed_json", "the JSON is nested too deeply", field="$"
        ) from None


def json_body_schema(schema_ref: str) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body read with :func:`read_json`."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": schema_ref}}},
        }
    }


def client_of(request: Request) -> str | None:
    """The client's address: the socket's peer, unless the peer is a trusted proxy
    (``Settings.trusted_proxies``); then the right-most X-Forwarded-For address that is not
    one, since everything left of it was written by a party nobody vouches for."""
    peer = request.client.host if request.client else None
    proxies = _networks(tuple(service_of(request).settings.trusted_proxies))
    if peer is None or not _trusted(_address(peer), proxies):
        return peer
    client = peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for")
            for hop in value.split(",")]  # fmt: skip
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # junk a proxy passed on: the last hop it vouched for is the client
        client = str(address)
        if not _trusted(address, proxies):
            break
    return client


Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _address(text: str) -> Address | None:
    """An address as proxies write it (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::1``)."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


def _trusted(address: Address | None, proxies: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in proxies)
