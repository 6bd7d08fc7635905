"""EPC pure-identity URNs and Digital Link URIs as one canonical GS1 Digital Link.

The CBV 2.0 event hash (§8.9) and the EPCIS mapping compare identifiers in one form: the
canonical GS1 Digital Link URI on ``https://id.gs1.org`` with the primary key and its key
qualifiers only. EPC URNs are translated by the GS1 EPC Tag Data Standard 2.1 §6 (pure
identity URIs) and §7 (their GS1 element strings); a Digital Link on another domain keeps
its path and drops its query (data attributes are not part of an identity).

Identifiers this table does not know (``urn:epc:id:gid``, ``urn:epc:id:adi``, private
URNs, ``geo:`` URIs) are returned unchanged: they are identities in their own right.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

CANONICAL_STEM: Final = "https://id.gs1.org"
_LITERAL: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!'()*"
)
"""RFC 3986 unreserved characters and the sub-delimiters ``!'()*`` a DL path carries literally;
the CBV 2.0 hash reference (its newer tree) leaves exactly these unencoded."""
_DL_ALIASES: Final = {
    "gtin": "01",
    "sscc": "00",
    "gln": "414",
    "party": "417",
    "grai": "8003",
    "giai": "8004",
    "gsrn": "8018",
    "gsrnp": "8017",
    "gdti": "253",
    "gcn": "255",
    "ginc": "401",
    "gsin": "402",
    "cpv": "22",
    "lot": "10",
    "ser": "21",
    "cpid": "8010",
    "cpsn": "8011",
    "itip": "8006",
    "upui": "235",
    "glnx": "254",
}
_DL_KEYS: Final = frozenset(
    {
        "00",
        "01",
        "253",
        "255",
        "401",
        "402",
        "414",
        "417",
        "8003",
        "8004",
        "8006",
        "8010",
        "8017",
        "8018",
    }
)
_DL_QUALIFIERS: Final = frozenset({"22", "10", "21", "235", "254", "7040", "8011", "8019"})
_GS1_DL_PATH: Final = re.compile(r"^https?://[^/?#]+/[^?#]*(?:[?#].*)?$")


_PERCENT: Final = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def unquote(text: str) -> str:
    """RFC 3986 percent-decoding (UTF-8); urllib is an I/O package the core does not import."""
    return _PERCENT.sub(
        lambda m: bytes.fromhex(m.group(0).replace("%", "")).decode("utf-8", "replace"), text
    )


def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit (General Specifications §7.9.1) of ``digits``."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def _encode(value: str) -> str:
    """Percent-encode a value for a canonical Digital Link path."""
    return "".join(c if c in _LITERAL else "".join(f"%{b:02X}" for b in c.encode()) for c in value)


def _gtin(prefix: str, reference: str) -> str:
    body = reference[:1] + prefix + reference[1:]
    return body + check_digit(body)


def _sgtin(parts: list[str]) -> str:
    prefix, reference, serial = _exactly(parts, 3)
    return f"/01/{_gtin(prefix, reference)}/21/{_encode(unquote(serial))}"


def _sscc(parts: list[str]) -> str:
    prefix, reference = _exactly(parts, 2)
    body = reference[:1] + prefix + reference[1:]
    return f"/00/{body + check_digit(body)}"


def _gln(prefix: str, reference: str) -> str:
    body = prefix + reference
    return body + check_digit(body)


def _sgln(parts: list[str]) -> str:
    prefix, reference, extension = _exactly(parts, 3)
    path = f"/414/{_gln(prefix, reference)}"
    return path if extension in ("", "0") else f"{path}/254/{_encode(unquote(extension))}"


def _pgln(parts: list[str]) -> str:
    prefix, reference = _exactly(parts, 2)
    return f"/417/{_gln(prefix, reference)}"


def _keyed_serial(ai: str, *, pad: str = "") -> Callable[[list[str]], str]:
    def convert(parts: list[str]) -> str:
        prefix, asset, serial = _exactly(parts, 3)
        body = pad + prefix + asset
        return f"/{ai}/{body + check_digit(body)}{_encode(unquote(serial))}"

    return convert


def _plain(ai: str, *, checked: bool) -> Callable[[list[str]], str]:
    def convert(parts: list[str]) -> str:
        prefix, reference = _exactly(parts, 2)
        body = prefix + reference
        return f"/{ai}/{body + check_digit(body) if checked else _encode(unquote(body))}"

    return convert


def _cpi(parts: list[str]) -> str:
    prefix, reference, serial = _exactly(parts, 3)
    return f"/8010/{_encode(unquote(prefix + reference))}/8011/{serial}"


def _itip(parts: list[str]) -> str:
    prefix, reference, piece, total, serial = _exactly(parts, 5)
    return f"/8006/{_gtin(prefix, reference)}{piece}{total}/21/{_encode(unquote(serial))}"


def _upui(parts: list[str]) -> str:
    prefix, reference, serial = _exactly(parts, 3)
    return f"/01/{_gtin(prefix, reference)}/235/{_encode(unquote(serial))}"


def _lgtin(parts: list[str]) -> str:
    prefix, reference, lot = _exactly(parts, 3)
    return f"/01/{_gtin(prefix, reference)}/10/{_encode(unquote(lot))}"


def _class_gtin(parts: list[str]) -> str:
    prefix, reference = parts[0], parts[1]
    return f"/01/{_gtin(prefix, reference)}"


def _class_keyed(ai: str, *, pad: str = "") -> Callable[[list[str]], str]:
    def convert(parts: list[str]) -> str:
        prefix, asset = parts[0], parts[1]
        body = pad + prefix + asset
        return f"/{ai}/{body + check_digit(body)}"

    return convert


def _class_cpi(parts: list[str]) -> str:
    return f"/8010/{_encode(unquote(parts[0] + parts[1]))}"


def _class_itip(parts: list[str]) -> str:
    prefix, reference, piece, total = parts[:4]
    return f"/8006/{_gtin(prefix, reference)}{piece}{total}"


def _exactly(parts: list[str], count: int) -> list[str]:
    if len(parts) != count:
        raise ValueError(f"expected {count} dot-separated fields, found {len(parts)}")
    return parts


_SCHEMES: Final[dict[str, Callable[[list[str]], str]]] = {
    "urn:epc:id:sgtin:": _sgtin,
    "urn:epc:id:sscc:": _sscc,
    "urn:epc:id:sgln:": _sgln,
    "urn:epc:id:pgln:": _pgln,
    "urn:epc:id:grai:": _keyed_serial("8003", pad="0"),
    "urn:epc:id:giai:": _plain("8004", checked=False),
    "urn:epc:id:gsrn:": _plain("8018", checked=True),
    "urn:epc:id:gsrnp:": _plain("8017", checked=True),
    "urn:epc:id:gdti:": _keyed_serial("253"),
    "urn:epc:id:sgcn:": _keyed_serial("255"),
    "urn:epc:id:ginc:": _plain("401", checked=False),
    "urn:epc:id:gsin:": _plain("402", checked=True),
    "urn:epc:id:cpi:": _cpi,
    "urn:epc:id:itip:": _itip,
    "urn:epc:id:upui:": _upui,
    "urn:epc:class:lgtin:": _lgtin,
    "urn:epc:idpat:sgtin:": _class_gtin,
    "urn:epc:idpat:grai:": _class_keyed("8003", pad="0"),
    "urn:epc:idpat:gdti:": _class_keyed("253"),
    "urn:epc:idpat:sgcn:": _class_keyed("255"),
    "urn:epc:idpat:cpi:": _class_cpi,
    "urn:epc:idpat:itip:": _class_itip,
}


def epc_urn_path(urn: str) -> str | None:
    """The Digital Link path (``/01/…/21/…``) of a GS1-keyed EPC URN, or None for another URI.

    Raises ValueError for a GS1 scheme URN whose fields are malformed.
    """
    for scheme, convert in _SCHEMES.items():
        if urn.startswith(scheme):
            return convert(urn[len(scheme) :].split("."))
    return None


def digital_link_path(uri: str) -> str | None:
    """The key-and-qualifiers path of a GS1 Digital Link URI on any domain, or None.

    The primary key is found from the right, as the DL URI syntax (§4.7) requires, so a
    resolver stem may itself contain segments; aliases (``/gtin/``) become AI numbers.
    """
    if not _GS1_DL_PATH.match(uri):
        return None
    path = uri.split("://", 1)[1]
    segments = path.split("?", 1)[0].split("#", 1)[0].split("/")[1:]
    segments = [_DL_ALIASES.get(s, s) if i % 2 == 0 else s for i, s in enumerate(segments)]
    for start in range(len(segments) - 2, -1, -1):
        if segments[start] in _DL_KEYS and (len(segments) - start) % 2 == 0:
            tail = segments[start:]
            ais = [_DL_ALIASES.get(s, s) for s in tail[0::2]]
            if all(ai in _DL_QUALIFIERS for ai in ais[1:]):
                values = tail[1::2]
                return "".join(
                    f"/{ai}/{_encode(unquote(v))}" for ai, v in zip(ais, values, strict=True)
                )
    return None


def canonical_identifier(uri: str) -> str:
    """``uri`` as a canonical Digital Link if it names a GS1 key, else unchanged."""
    path = epc_urn_path(uri)
    if path is None:
        path = digital_link_path(uri)
    return uri if path is None else CANONICAL_STEM + path
