"""Cursors (api.services.paging): bound to their query, refused when altered; keyset pages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.services.paging import Cursors, InvalidCursorError, fingerprint, page_of

CURSORS = Cursors(b"k" * 32)


def test_a_cursor_opens_for_its_query_only() -> None:
    query = fingerprint("/v1/items", "admin", [("org", "p-chem"), ("limit", "2")])
    cursor = CURSORS.encode(query, ["CT-1", 3])
    assert CURSORS.decode(query, cursor) == ["CT-1", 3]
    # the page size and format are not part of the query; everything else is
    assert fingerprint("/v1/items", "admin", [("org", "p-chem"), ("limit", "9")]) == query
    for other in (
        fingerprint("/v1/items", "admin", [("org", "u-lab")]),
        fingerprint("/v1/inventory", "admin", [("org", "p-chem")]),
        fingerprint("/v1/items", "reg-d1", [("org", "p-chem")]),
    ):
        with pytest.raises(InvalidCursorError):
            CURSORS.decode(other, cursor)
    with pytest.raises(InvalidCursorError):
        Cursors(b"x" * 32).decode(query, cursor)  # another server's key


@given(st.text(max_size=80))
def test_no_text_but_a_given_cursor_opens(text: str) -> None:
    query = fingerprint("/v1/items", "admin", [])
    given_cursor = CURSORS.encode(query, ["a"])
    if text != given_cursor:
        with pytest.raises(InvalidCursorError):
            CURSORS.decode(query, text)


@given(st.lists(st.integers(0, 50), max_size=60), st.integers(1, 7))
def test_keyset_pages_cover_every_row_once(values: list[int], limit: int) -> None:
    rows = sorted(set(values))
    seen, after = [], None
    while True:
        page = page_of(rows, lambda r: (r,), after=after, limit=limit)
        assert page.total == len(rows) and page.total_kind == "exact"
        seen += page.rows
        if page.next_position is None:
            break
        after = page.next_position
    assert seen == rows
