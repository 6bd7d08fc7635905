"""Canonical bytes for hashing and signing: RFC 8785 (JCS) plus a domain prefix.

Every hash and signature in chemtrace covers ``prefix || JCS(value)``, where the
prefix names the kind of message. A signature over an event body can then never
be replayed as a signature over a receipt, a head statement or a certificate.

This module is the only serializer used for hashing and signing. API JSON is a
separate concern and never feeds a hash.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias

import rfc8785

from ledger.errors import CanonicalizationError, InvalidInputError

JsonValue: TypeAlias = bool | int | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None

# Domain-separation prefixes, one per message kind. Changing one is a format break.
EVENT_BODY: Final = b"chemtrace/v1/event-body\n"
EVENT: Final = b"chemtrace/v1/event\n"
RECEIPT: Final = b"chemtrace/v1/receipt\n"
ITEM_HEAD: Final = b"chemtrace/v1/item-head\n"
CERTIFICATE: Final = b"chemtrace/v1/certificate\n"
REVOCATION: Final = b"chemtrace/v1/revocation\n"
CODE_BATCH: Final = b"chemtrace/v1/code-batch\n"
LICENCE: Final = b"chemtrace/v1/licence\n"
RECORD: Final = b"chemtrace/v1/record\n"
COMMITMENT: Final = b"chemtrace/v1/commitment\n"

HASH_ALGORITHM: Final = "sha256"
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_HASH_PREFIX: Final = HASH_ALGORITHM + ":"


def canonical_bytes(value: JsonValue) -> bytes:
    """Return the RFC 8785 encoding of ``value``.

    Raises:
        CanonicalizationError: the value holds a float, an integer outside
            ±2**53, or another type JCS cannot encode.
    """
    if _plain(value):  # no float in it either: one walk for the common case
        fast = _fast(value)
        if fast is not None:
            return fast
    _reject_floats(value)
    return _library(value)


def canonical_bytes_of_validated(value: JsonValue) -> bytes:
    """Like :func:`canonical_bytes`, for values a strict schema already proved float-free.

    Values whose object keys are all ASCII and whose integers are within JCS's domain (every
    event, receipt and statement) are written by the standard library's C encoder: for them
    RFC 8785 asks exactly what ``json`` does with sorted keys, no spaces and no ASCII
    escaping (ASCII keys sort the same by UTF-16 code unit as by code point, and the string
    escapes are the same). Anything else, and a string that is not valid Unicode, goes to
    the ``rfc8785`` library. ``tests/ledger/test_canonical_fast.py`` holds the two equal.

    Raises:
        CanonicalizationError: the value cannot be encoded.
    """
    fast = _fast(value) if _plain(value) else None
    return _library(value) if fast is None else fast


def _fast(value: JsonValue) -> bytes | None:
    try:
        return _JSON.encode(value).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the library says how JCS treats it
        return None


def _library(value: JsonValue) -> bytes:
    try:
        encoded: bytes = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(f"cannot encode as RFC 8785: {exc}") from exc
    return encoded


_JSON: Final = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False,
    check_circular=False,
)  # fmt: skip
_INT_LIMIT: Final = 2**53 - 1


def _plain(value: object) -> bool:
    """Whether ``value`` is made only of exact JSON types, ASCII keys and safe integers."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_INT_LIMIT <= value <= _INT_LIMIT  # type: ignore[operator]
    if kind is dict:
        return all(
            type(key) is str and key.isascii() and _plain(item)
            for key, item in value.items()  # type: ignore[attr-defined]
        )
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)  # type: ignore[attr-defined]
    return False


@functools.lru_cache(maxsize=64)
def canonical_string(text: str) -> bytes:
    """The RFC 8785 encoding of one string (cached: used for fixed names like the origin)."""
    return canonical_bytes(text)


def _reject_floats(value: object) -> None:
    # Quantities and coordinates are decimal strings: a float in signed bytes is always a bug.
    if isinstance(value, float):
        raise CanonicalizationError("floats are not allowed in signed bytes; use decimal strings")
    if isinstance(value, dict):
        for item in value.values():
            _reject_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_floats(item)


def signing_input(domain: bytes, value: JsonValue) -> bytes:
    """Return the exact bytes a signature over ``value`` in ``domain`` covers."""
    return domain + canonical_bytes(value)


def domain_hash(domain: bytes, value: JsonValue) -> bytes:
    """Return SHA-256 over ``domain || JCS(value)``."""
    return hashlib.sha256(signing_input(domain, value)).digest()


def format_hash(digest: bytes) -> str:
    """Render a digest with its algorithm, e.g. ``sha256:ab12…``."""
    return _HASH_PREFIX + digest.hex()


def parse_hash(text: str) -> bytes:
    """Parse ``sha256:<64 lowercase hex>`` into 32 bytes.

    Raises:
        InvalidInputError: the text is not a well-formed SHA-256 reference.
    """
    if not text.startswith(_HASH_PREFIX):
        raise InvalidInputError("hash must start with 'sha256:'", value=text[:80])
    hex_part = text[len(_HASH_PREFIX) :]
    if not _HEX64.fullmatch(hex_part):
        raise InvalidInputError("hash must be 64 lowercase hex digits", value=text[:80])
    return bytes.fromhex(hex_part)


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as used by RFC 6962 APIs and C2SP notes."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict standard base64 decode.

    Raises:
        InvalidInputError: the text is not canonical base64.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidInputError("not valid base64", value=text[:80]) from exc
    if base64.b64encode(data).decode("ascii") != text:
        raise InvalidInputError("base64 is not canonical", value=text[:80])
    return data


def require_nfc(value: JsonValue, path: str = "$") -> None:
    """Reject any string (key or value) that is not in Unicode NFC.

    Strings are not normalised silently: the signer signed exact bytes, and
    changing them would break the signature. Rejecting instead keeps one
    spelling of every name in the ledger.

    Raises:
        InvalidInputError: naming the path of the first non-NFC string.
    """
    if isinstance(value, str):
        if not unicodedata.is_normalized("NFC", value):
            raise InvalidInputError("string is not NFC-normalised", field=path)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not unicodedata.is_normalized("NFC", key):
                raise InvalidInputError("key is not NFC-normalised", field=path)
            require_nfc(item, f"{path}.{key}")
    elif isinstance(value, Sequence):
        for index, item in enumerate(value):
            require_nfc(item, f"{path}[{index}]")
