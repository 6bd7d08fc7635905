"""GS1 element strings: raw (``0109506000134352<GS>21ABC``) and bracketed (``(01)…(21)…``).

Raw strings are split here rather than by ``biip.GS1Message.parse``, because a
scanner needs to know *why* a read failed: biip reports "failed to match
pattern", while a truncated read should say which AI ran short and by how much,
and a value that overruns its AI's maximum should suggest the missing
separator. biip's bracketed parser (``GS1Message.parse_hri``) drops all
whitespace, so a serial ``AB C`` would silently become ``ABC``; and it cannot
hold a ``(`` inside a value. Each value is still checked by biip (through
:func:`~ledger.epcis.ai_values.checked_element`).

The separator inside raw strings is GS (``\\x1d``). The keyboard-wedge layer
(:mod:`scanners.identifiers.wedge`) turns scanner substitutes into GS first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from ledger.epcis.ai_table import spec, spec_at
from ledger.epcis.ai_values import Element, checked_element
from ledger.epcis.errors import IdentifierError

GS: Final = "\x1d"
_BRACKETED_AI: Final = re.compile(r"(?<!\\)\((\d{2,4})\)")
_ESCAPED_PAREN: Final = "\\("


def parse_element_string(data: str) -> tuple[Element, ...]:
    """Split and check a raw element string with GS separators (no AIM prefix).

    A leading GS (FNC1 in first position, as some scanners send it) and a
    trailing GS are ignored; so is a GS after a fixed-length value (GS1
    General Specifications 7.8.6 allows one there).

    Raises:
        IdentifierError: ``unknown_ai``, ``truncated_read``, ``value_too_long`` and the
            value errors of :func:`~ledger.epcis.ai_values.checked_element`.
    """
    text = data.strip(GS)
    if not text:
        raise IdentifierError("empty_scan", "the element string is empty")
    elements: list[Element] = []
    position = 0
    while position < len(text):
        element, position = _next_element(text, position)
        elements.append(element)
        while position < len(text) and text[position] == GS:
            position += 1
    return _consistent(elements)


def _next_element(text: str, start: int) -> tuple[Element, int]:
    found = spec_at(text[start:])
    if found is None:
        shown = text[start : start + 4]
        raise IdentifierError(
            "unknown_ai",
            f"no GS1 Application Identifier starts with {shown!r} (character {start + 1})",
            position=start + 1,
        )
    value_start = start + len(found.ai)
    label = f"AI ({found.ai}) {found.title}"
    separator = text.find(GS, value_start)
    field_end = len(text) if separator < 0 else separator
    if found.predefined_length:
        end = value_start + found.max_length
        if end > field_end:
            have = field_end - value_start
            if separator < 0:
                raise IdentifierError(
                    "truncated_read",
                    f"{label} is {found.max_length} characters, but the read ends after {have}: "
                    "it looks cut short; scan again",
                    ai=found.ai,
                    expected=found.max_length,
                    found=have,
                )
            raise IdentifierError(
                "bad_value",
                f"{label} is {found.max_length} characters, but a separator follows after {have}",
                ai=found.ai,
                expected=found.max_length,
                found=have,
            )
    else:
        end = field_end
        have = end - value_start
        if have < found.min_length and separator < 0 and have > 0:
            raise IdentifierError(
                "truncated_read",
                f"{label} is at least {found.min_length} characters, but the read ends after "
                f"{have}: it looks cut short; scan again",
                ai=found.ai,
                expected=found.min_length,
                found=have,
            )
        if have > found.max_length:
            raise IdentifierError(
                "value_too_long",
                f"{label} is at most {found.max_length} characters, but {have} follow before the "
                "next separator: is a GS separator missing after it?",
                ai=found.ai,
                found=have,
            )
    return checked_element(found.ai, text[value_start:end]), end


def parse_bracketed(text: str, *, allow_unknown_ai: bool = False) -> tuple[Element, ...]:
    """Parse the human-readable form ``(01)09506000134352(21)ABC123``.

    Whitespace around an AI or a value is ignored (printed text often has
    some); whitespace inside a value is an error, since no AI can hold it. Every
    ``(`` followed by 2 to 4 digits and ``)`` starts the next element, so a value
    that holds such text writes its ``(`` as ``\\(`` (as the GS1 Syntax Engine
    does); any other ``(`` is part of the value.

    Raises:
        IdentifierError: ``bad_value`` when the text is not bracketed AIs, and the
            errors of :func:`~ledger.epcis.ai_values.checked_element`.
    """
    stripped = text.strip()
    boundaries = list(_BRACKETED_AI.finditer(stripped))
    if not boundaries or boundaries[0].start() != 0:
        raise IdentifierError(
            "bad_value", "bracketed GS1 data starts with an AI in parentheses, like (01)"
        )
    elements: list[Element] = []
    for index, match in enumerate(boundaries):
        end = boundaries[index + 1].start() if index + 1 < len(boundaries) else len(stripped)
        value = stripped[match.end() : end].strip().replace(_ESCAPED_PAREN, "(")
        elements.append(checked_element(match.group(1), value, allow_unknown_ai=allow_unknown_ai))
    return _consistent(elements)


def _consistent(elements: Sequence[Element]) -> tuple[Element, ...]:
    """Refuse an AI that appears twice with different values (GS1 General Specifications 4.14)."""
    seen: dict[str, str] = {}
    for element in elements:
        earlier = seen.setdefault(element.ai, element.value)
        if earlier != element.value:
            raise IdentifierError(
                "conflicting_ai",
                f"AI ({element.ai}) {element.title} appears twice with different values: "
                f"{earlier!r} and {element.value!r}",
                ai=element.ai,
            )
    return tuple(elements)


def to_bracketed(elements: Iterable[Element]) -> str:
    """``(01)09506000134352(21)ABC123``: the human-readable interpretation."""
    return "".join(f"({e.ai}){e.value.replace('(', _ESCAPED_PAREN)}" for e in elements)


def to_element_string(elements: Sequence[Element], separator: str = GS) -> str:
    """The raw element string, with ``separator`` after each value whose AI needs one.

    ``separator="^"`` with a leading ``"^"`` gives the GS1 Syntax Engine notation.
    """
    parts: list[str] = []
    for index, element in enumerate(elements):
        parts.append(element.ai + element.value)
        found = spec(element.ai)
        needs_separator = found is None or found.fnc1_required
        if needs_separator and index + 1 < len(elements):
            parts.append(separator)
    return "".join(parts)


def gs1_key(elements: Sequence[Element]) -> str | None:
    """The item key our registry stores (``CodeFacts.gs1_key``), or ``None``.

    ``(01)<GTIN>(21)<serial>`` for a serialised trade item, ``(8003)<GRAI>`` for a
    serialised returnable asset, ``(00)<SSCC>`` for a logistic unit, in that
    order of preference. A GTIN without serial or a GRAI without its serial
    component names a kind of item, not one item, so it has no key.
    """
    values = {element.ai: element.value for element in elements}
    if "01" in values and "21" in values:
        return f"(01){values['01']}(21){values['21']}"
    grai = values.get("8003")
    if grai is not None and len(grai) > 14:
        return f"(8003){grai}"
    if "00" in values:
        return f"(00){values['00']}"
    return None
