"""An index of items by the identifiers people search for. Pure.

The signed events hold them in their data (``ledger.events``): the production lot of a
``commission`` or a cylinder ``fill`` (``lot``), the waybill and vehicle of a ``ship``
(``waybill_no``, ``vehicle``: a vehicle record's id) and the device that signed each event
(its key id). :class:`SearchIndex` maps each such value to the items of the events that
carry it; feed it events in log order, as :class:`ledger.state.Projection` is fed. The
service keeps the same map in the database (``ledger.store.search_terms``); this one is
what it is checked against.

Values are compared after :func:`term`: Unicode NFKC, case-folded, without spaces or
hyphens, so ``京A·12345``, ``京a 12345`` and a waybill typed with or without its dashes
find the same entries.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from ledger.events import EventBody

Kind = Literal["lot", "waybill", "vehicle", "device"]
KINDS: Final[tuple[Kind, ...]] = ("lot", "waybill", "vehicle", "device")
_DROPPED: Final = frozenset(" -_·.\u00b7\u30fb\t")


def term(value: str) -> str:
    """A value as the index compares it."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return "".join(c for c in folded if c not in _DROPPED)


def terms_of(body: EventBody, key_id: str) -> list[tuple[Kind, str]]:
    """The folded values an event (signed by device ``key_id``) is found by."""
    data = body.data
    values: tuple[tuple[Kind, object], ...] = (
        ("device", key_id),
        ("lot", getattr(data, "lot", None)),
        ("waybill", getattr(data, "waybill_no", None)),
        ("vehicle", getattr(data, "vehicle", None)),
    )
    return [(kind, term(value)) for kind, value in values if isinstance(value, str) and value]


@dataclass(slots=True)
class SearchIndex:
    """Item codes by lot, waybill number, vehicle id and device key id."""

    _codes: dict[tuple[Kind, str], set[str]] = field(default_factory=dict)

    def add(self, body: EventBody, key_id: str) -> None:
        """Index one event (signed by device ``key_id``)."""
        codes = [link.code for link in body.items]
        for key in terms_of(body, key_id):
            self._codes.setdefault(key, set()).update(codes)

    def add_all(self, events: Iterable[tuple[EventBody, str]]) -> None:
        for body, key_id in events:
            self.add(body, key_id)

    def codes(self, kind: Kind, values: Iterable[str]) -> frozenset[str]:
        """The items of the events whose ``kind`` is any of ``values``."""
        found: set[str] = set()
        for value in values:
            found |= self._codes.get((kind, term(value)), set())
        return frozenset(found)
