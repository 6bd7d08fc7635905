"""GS1 Application Identifier metadata: biip's AI table plus the rules biip does not carry.

From biip (``biip.gs1_application_identifiers``) we take, for every AI: its
title, whether an FNC1 separator must follow it, its format string and the
regular expression its value must match. :func:`spec` turns that into an
:class:`AiSpec` with the value's minimum and maximum length.

biip has no notion of which AIs carry a check digit other than GTIN, SSCC and
GLN, of GS1 Digital Link key qualifiers as alternatives (``01`` is qualified by
``22, 10, 21`` *or* by ``235``, never a mix; biip accepts the mix), of which AIs
may appear as Digital Link query attributes, or of the date AIs whose day may
not be ``00``. Those rules are written out here from the GS1 General
Specifications and the GS1 Digital Link standard.
``tests/scanners/identifiers/test_ai_dictionary.py`` checks every one of them,
and biip's lengths and separator flags, against GS1's machine-readable Barcode
Syntax Dictionary.
"""

from __future__ import annotations

import re

# The stdlib's regex parser (``sre_parse`` before 3.11, which now warns when imported): the
# only way to a pattern's width. typeshed has no stub for the private name.
import re._parser as sre_parser  # type: ignore[import-not-found]
from dataclasses import dataclass
from functools import cache
from typing import Final

from biip.gs1_application_identifiers import (
    _GS1_APPLICATION_IDENTIFIERS,  # biip's own table; there is no public listing
    GS1ApplicationIdentifier,
)

CSET82: Final = (
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
"""GS1 AI encodable character set 82, in the order that gives each its value."""

CHECK_DIGIT_SPANS: Final[dict[str, tuple[int, int]]] = {
    "00": (0, 18),
    "01": (0, 14),
    "02": (0, 14),
    "03": (0, 14),
    "253": (0, 13),
    "255": (0, 13),
    "402": (0, 17),
    **{f"41{digit}": (0, 13) for digit in "01234567"},
    "8003": (1, 13),
    "8006": (0, 14),
    "8017": (0, 18),
    "8018": (0, 18),
    "8026": (0, 14),
}
"""``(offset, length)`` of the digits that end in a GS1 mod-10 check digit."""

CHECK_PAIR_AIS: Final = frozenset({"8013", "8014"})
"""AIs whose whole value ends in a GS1 alphanumeric check character pair."""

DATE_FIELDS: Final[dict[str, tuple[tuple[int, bool], ...]]] = {
    **dict.fromkeys(("11", "12", "13", "15", "16", "17", "4324", "4325"), ((0, True),)),
    **dict.fromkeys(("4326", "7003", "7006", "7011", "8008"), ((0, False),)),
    "7007": ((0, False), (6, False)),
}
"""``(offset, day 00 allowed)`` of every YYMMDD date inside a date AI's value.

Day ``00`` means "the last day of the month" only where the General
Specifications say so (``yymmd0``); elsewhere it is invalid (``yymmdd``).
"""

DL_KEY_QUALIFIERS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "00": ((),),
    "01": (("22", "10", "21"), ("235",)),
    "253": ((),),
    "255": ((),),
    "401": ((),),
    "402": ((),),
    "414": (("254",), ("7040",)),
    "415": (("8020",),),
    "417": (("7040",),),
    "8003": ((),),
    "8004": (("7040",),),
    "8006": (("22", "10", "21"),),
    "8010": (("8011",),),
    "8013": ((),),
    "8017": (("8019",),),
    "8018": (("8019",),),
}
"""GS1 Digital Link primary keys and their qualifier sequences.

Each key has one or more alternative sequences; a path holds the key and then
any of one alternative's qualifiers, in that alternative's order.
"""

NOT_DL_ATTRIBUTES: Final = frozenset(
    {"03", "21", "22", "235", "254", "7040", "7041", "8011", "8014", "8019", "8020"}
    | {"8040", "8041", "8042", "8043", "8200"}
)
"""AIs that may never appear as a Digital Link query attribute."""

CONVENIENCE_ALPHAS: Final[dict[str, str]] = {
    "cpid": "8010",
    "cpsn": "8011",
    "cpv": "22",
    "gcn": "255",
    "gdti": "253",
    "giai": "8004",
    "ginc": "401",
    "gln": "414",
    "glnx": "254",
    "gmn": "8013",
    "grai": "8003",
    "gsin": "402",
    "gsrn": "8018",
    "gsrnp": "8017",
    "gtin": "01",
    "itip": "8006",
    "lot": "10",
    "party": "417",
    "refno": "8020",
    "ser": "21",
    "srin": "8019",
    "sscc": "00",
}
"""Deprecated Digital Link path names (GS1 Digital Link 1.1), accepted only on request."""

UNKNOWN_AI_TITLE: Final = "UNKNOWN AI"
_FORMAT_COMPONENT: Final = re.compile(r"[NXYZ](\d*)(?:\.\.[NXYZ]?(\d+))?")
_UNKNOWN_AI_MAX: Final = 90

PATTERN_CORRECTIONS: Final[dict[str, str]] = {
    "8010": r"^([A-Z0-9/#-]{1,30})$",
}
"""Value patterns where biip disagrees with the General Specifications.

biip requires at least 5 characters in a CPID (AI 8010); GS1 allows 1 to 30
CSET 39 characters (the reference engine accepts ``(8010)0200``).
"""


@dataclass(frozen=True, slots=True)
class AiSpec:
    """One Application Identifier: what its value looks like and how it is delimited."""

    ai: str
    title: str
    fnc1_required: bool
    """Whether an FNC1 (GS) must follow the value when more data follows."""
    format: str
    """The data format as the General Specifications write it, e.g. ``X..20``."""
    min_length: int
    max_length: int
    pattern: re.Pattern[str]
    """The value (without the AI) must match this in full."""
    known: bool = True

    @property
    def numeric(self) -> bool:
        """Whether the value is digits only."""
        return set(self.format) <= set("N0123456789.+[]")

    @property
    def predefined_length(self) -> bool:
        """Whether the value has one fixed length, so no separator is needed to end it."""
        return not self.fnc1_required


def _lengths(pattern: str, data_format: str) -> tuple[int, int]:
    """Shortest and longest value of an AI.

    The minimum comes from the pattern biip enforces (biip's format string
    writes ``N3+N..12`` for AI 423's 3 to 15 digits), but is never below 1: an
    AI always carries a value. The maximum comes from the format: biip's
    patterns for percent-encoded AIs (4300…) count an escape as one character,
    while GS1 limits the encoded length.
    """
    shortest = max(1, int(sre_parser.parse(pattern).getwidth()[0]))
    longest = data_format.count("-")  # "[-]": an optional trailing hyphen
    for fixed, most in _FORMAT_COMPONENT.findall(data_format):
        longest += int(most or fixed)
    return shortest, longest


def _from_biip(entry: GS1ApplicationIdentifier) -> AiSpec:
    data_format = entry.format.split("+", 1)[1]
    value_pattern = PATTERN_CORRECTIONS.get(
        entry.ai, "^" + entry.pattern.removeprefix("^").removeprefix(entry.ai)
    )
    low, high = _lengths(value_pattern, data_format)
    return AiSpec(
        ai=entry.ai,
        title=entry.data_title,
        fnc1_required=entry.separator_required,
        format=data_format,
        min_length=low,
        max_length=high,
        # biip writes digits as ``\d``, which without re.ASCII also matches Arabic-Indic and other
        # Unicode digits; GS1 values are ASCII.
        pattern=re.compile(value_pattern, re.ASCII),
    )


@cache
def spec(ai: str) -> AiSpec | None:
    """The spec of a known AI, or ``None``."""
    entry = _GS1_APPLICATION_IDENTIFIERS.get(ai)
    return None if entry is None else _from_biip(entry)


def unknown_spec(ai: str) -> AiSpec:
    """A stand-in for an AI not in the table, when a caller chooses to let unknown AIs through.

    Treated as the General Specifications treat unknown AIs: variable length,
    up to 90 CSET 82 characters, FNC1 required.
    """
    return AiSpec(
        ai=ai,
        title=UNKNOWN_AI_TITLE,
        fnc1_required=True,
        format=f"X..{_UNKNOWN_AI_MAX}",
        min_length=1,
        max_length=_UNKNOWN_AI_MAX,
        pattern=re.compile(f"^[{re.escape(CSET82)}]{{1,{_UNKNOWN_AI_MAX}}}$"),
        known=False,
    )


def could_be_unknown_ai(ai: str) -> bool:
    """Whether ``ai`` is shaped like an AI (2 to 4 digits) but is not one, nor starts with one."""
    return (
        ai.isascii()
        and ai.isdigit()
        and 2 <= len(ai) <= 4
        and not any(spec(ai[:size]) for size in range(2, len(ai) + 1))
    )


def spec_at(data: str) -> AiSpec | None:
    """The spec of the AI that ``data`` starts with (AIs are prefix-free), or ``None``."""
    for size in (2, 3, 4):
        found = spec(data[:size])
        if found is not None and len(data) >= size:
            return found
    return None


def all_ais() -> tuple[str, ...]:
    """Every AI biip knows, in order."""
    return tuple(_GS1_APPLICATION_IDENTIFIERS)


def is_dl_key(ai: str) -> bool:
    """Whether ``ai`` is a GS1 Digital Link primary key."""
    return ai in DL_KEY_QUALIFIERS


def is_dl_attribute(spec_: AiSpec, *, unknown_allowed: bool = False) -> bool:
    """Whether the AI may appear in a Digital Link query string."""
    if not spec_.known:
        return unknown_allowed
    return spec_.ai not in NOT_DL_ATTRIBUTES


def valid_path_sequences(key: str) -> frozenset[tuple[str, ...]]:
    """Every AI sequence a Digital Link path may hold for ``key``: the key, then an
    order-preserving choice of one alternative's qualifiers."""
    sequences: set[tuple[str, ...]] = set()
    for alternative in DL_KEY_QUALIFIERS.get(key, ()):
        for mask in range(1 << len(alternative)):
            chosen = tuple(q for bit, q in enumerate(alternative) if mask >> bit & 1)
            sequences.add((key, *chosen))
    return frozenset(sequences)
