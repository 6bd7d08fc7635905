"""Our AI metadata agrees with GS1's Barcode Syntax Dictionary, for every AI it lists.

The metadata is biip's AI table (lengths, separators) plus the rules written out
in :mod:`scanners.identifiers.ai_table` (check digits, Digital Link keys and
qualifiers, Digital Link attributes, dates). Each is compared with the
dictionary's own statement of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import pytest

from scanners.identifiers.ai_table import (
    CHECK_DIGIT_SPANS,
    CHECK_PAIR_AIS,
    DATE_FIELDS,
    DL_KEY_QUALIFIERS,
    all_ais,
    is_dl_attribute,
    spec,
)
from tests.conftest import SHARED_DIR, require_shared
from tests.scanners.identifiers._vectors import SYNTAX_DICTIONARY

pytestmark = pytest.mark.conformance

_FLAGS: Final = re.compile(r"[*!?\"$%&'()+,\-./:;<=>@\[\\\]^_`{|}~]+")
_COMPONENT: Final = re.compile(r"\[?([NXYZ])(\d*)(?:\.\.(\d+))?\]?")
_DATE_LINTERS: Final = {"yymmd0": True, "yymmdd": False}


@dataclass
class Entry:
    """One AI as the dictionary describes it."""

    ai: str
    flags: str
    components: list[tuple[bool, int, int, list[str]]] = field(default_factory=list)
    """(optional, min, max, linters) per component."""
    attributes: list[str] = field(default_factory=list)

    @property
    def lengths(self) -> tuple[int, int]:
        low = sum(c[1] for c in self.components if not c[0])
        return low, sum(c[2] for c in self.components)


def _expand(ais: str) -> list[str]:
    first, _, last = ais.partition("-")
    if not last:
        return [first]
    return [str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)]


def _component(token: str) -> tuple[bool, int, int, list[str]]:
    optional = token.startswith("[")
    kind, *linters = token.replace("[", "").replace("]", "").split(",")
    match = _COMPONENT.fullmatch(kind)
    assert match, token
    fixed, most = match.group(2), match.group(3)
    return optional, int(fixed or 1), int(most or fixed), linters


def _dictionary(text: str) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for line in text.splitlines():
        body = line.split("#", 1)[0].split()
        if not body:
            continue
        ais, rest = body[0], body[1:]
        flags = rest.pop(0) if rest and _FLAGS.fullmatch(rest[0]) else ""
        components = [_component(t) for t in rest if "=" not in t and t != "dlpkey"]
        attributes = [t for t in rest if "=" in t or t == "dlpkey"]
        for ai in _expand(ais):
            entries[ai] = Entry(ai, flags, components, attributes)
    return entries


_PATH = SHARED_DIR / SYNTAX_DICTIONARY
ENTRIES = _dictionary(_PATH.read_text()) if _PATH.is_file() else {}


def test_the_dictionary_lists_every_ai_biip_knows_and_no_other() -> None:
    require_shared(SYNTAX_DICTIONARY)
    assert len(ENTRIES) > 500
    assert set(ENTRIES) == set(all_ais())


def _disagreements(check: Callable[[Entry], object]) -> dict[str, object]:
    """``{ai: what differs}`` for every dictionary AI where ``check`` returns something."""
    require_shared(SYNTAX_DICTIONARY)
    found = {entry.ai: check(entry) for entry in ENTRIES.values()}
    return {ai: difference for ai, difference in found.items() if difference}


def _lengths_and_separator(entry: Entry) -> object:
    found = spec(entry.ai)
    if found is None:
        return "unknown to biip"
    ours = (found.min_length, found.max_length, found.predefined_length)
    theirs = (*entry.lengths, "*" in entry.flags)
    return None if ours == theirs else (ours, theirs)


def _check_digits(entry: Entry) -> object:
    offset, span = 0, None
    for _, _, most, linters in entry.components:
        if "csum" in linters:
            span = (offset, most)
        offset += most
    pair = any("csumalpha" in component[3] for component in entry.components)
    ours = (CHECK_DIGIT_SPANS.get(entry.ai), entry.ai in CHECK_PAIR_AIS)
    return None if ours == (span, pair) else (ours, (span, pair))


def _key_qualifiers(entry: Entry) -> object:
    declared = [a for a in entry.attributes if a.split("=")[0] == "dlpkey"]
    theirs = None
    if declared:
        qualifiers = declared[0].partition("=")[2]
        theirs = tuple(tuple(a.split(",")) if a else () for a in qualifiers.split("|"))
    ours = DL_KEY_QUALIFIERS.get(entry.ai)
    return None if ours == theirs else (ours, theirs)


def _attribute_flag(entry: Entry) -> object:
    found = spec(entry.ai)
    ours = found is not None and is_dl_attribute(found)
    return None if ours == ("?" in entry.flags) else ours


def _dates(entry: Entry) -> object:
    offset, theirs = 0, []
    for _, _, most, linters in entry.components:
        theirs += [(offset, _DATE_LINTERS[lint]) for lint in linters if lint in _DATE_LINTERS]
        offset += most
    ours = list(DATE_FIELDS.get(entry.ai, ()))
    return None if ours == theirs else (ours, theirs)


@pytest.mark.parametrize(
    "check",
    [_lengths_and_separator, _check_digits, _key_qualifiers, _attribute_flag, _dates],
    ids=lambda check: check.__name__.strip("_"),
)
def test_every_ai_agrees_with_the_dictionary(check: Callable[[Entry], object]) -> None:
    assert _disagreements(check) == {}


def test_the_comparison_can_tell_a_difference() -> None:
    """A dictionary line that differs from ours is reported, so the checks above can fail."""
    (entry,) = _dictionary("01 ? N13,csum X..2 dlpkey=22 # GTIN").values()
    for check in (_lengths_and_separator, _check_digits, _key_qualifiers):
        assert check(entry), check.__name__
