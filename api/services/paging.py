"""Cursor pagination: opaque, tamper-evident cursors and pages over keyed rows.

A cursor is ``base64url(JSON position) . base64url(HMAC-SHA256 tag)``, the tag over the
position and a fingerprint of the query it was given for (route, filters, caller). So a
cursor that was altered, forged, or taken to another query or another caller is refused
(``InvalidCursorError``, a 422 naming ``cursor``), never silently read as "start over".

Pages are keyset pages: the position is the sort key of the last row given, and the next
page starts after it. A row added or removed between two requests shifts no other row, so
walking the pages of a list that does not change yields every row exactly once.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar

from api.services.errors import InvalidQueryError

T = TypeVar("T")
Position = list[Any]
TotalKind = Literal["exact", "capped", "estimated"]
_DOMAIN: Final = b"chemtrace api cursor v1"
_PAGE_PARAMETERS: Final = frozenset(
    {"cursor", "limit", "format", "bom", "occurrences_cursor", "occurrences_limit"}
)
"""What moves through the pages, or only changes their form: not part of the query."""


class InvalidCursorError(InvalidQueryError):
    """A cursor this server did not give for this query and caller (or a mangled one)."""

    def __init__(self, detail: str, field: str = "cursor") -> None:
        super().__init__("invalid_cursor", field, detail)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    total: int
    total_kind: TotalKind
    next_position: Position | None


def fingerprint(path: str, user_id: str, params: Iterable[tuple[str, str]]) -> str:
    """What a cursor is bound to: the route, the caller and every filter (not the page)."""
    kept = sorted((k, v) for k, v in params if k not in _PAGE_PARAMETERS)
    text = json.dumps([path, user_id, kept], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class Cursors:
    """Signs and opens cursors with one secret (derived from the log key: every worker and
    every restart derive the same one, and nobody without the key can)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def derived(cls, sign: Callable[[bytes], bytes]) -> Cursors:
        return cls(hashlib.sha256(_DOMAIN + sign(_DOMAIN)).digest())

    def _tag(self, query: str, payload: bytes) -> bytes:
        return hmac.new(self._secret, query.encode() + b"\n" + payload, hashlib.sha256).digest()

    def encode(self, query: str, position: Position) -> str:
        payload = json.dumps(position, ensure_ascii=False, separators=(",", ":")).encode()
        return _b64(payload) + "." + _b64(self._tag(query, payload)[:16])

    def decode(self, query: str, cursor: str) -> Position:
        """The position ``cursor`` resumes after.

        Raises:
            InvalidCursorError: not a cursor given for ``query``.
        """
        payload_text, dot, tag_text = cursor.partition(".")
        try:
            payload, tag = _unb64(payload_text), _unb64(tag_text)
        except ValueError:
            raise InvalidCursorError("the cursor is malformed") from None
        if not dot or not hmac.compare_digest(tag, self._tag(query, payload)[:16]):
            raise InvalidCursorError("the cursor was not given for this query (or was altered)")
        position = json.loads(payload)
        if not isinstance(position, list):
            raise InvalidCursorError("the cursor is malformed")
        return position


def page_of(
    rows: Iterable[T], key: Callable[[T], Sequence[Any]], *, after: Position | None, limit: int
) -> Page[T]:
    """The ``limit`` rows after ``after`` in ``key`` order, and how many rows there are."""
    ordered = sorted(rows, key=lambda row: tuple(key(row)))
    keys = [tuple(key(row)) for row in ordered]
    start = 0 if after is None else bisect.bisect_right(keys, tuple(after))
    chosen = ordered[start : start + limit]
    more = start + limit < len(ordered)
    next_position = list(keys[start + limit - 1]) if more and chosen else None
    return Page(chosen, len(ordered), "exact", next_position)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or any(c not in _ALPHABET for c in text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
