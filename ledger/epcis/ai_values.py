"""One AI and its value in, one checked :class:`Element` out, or an :class:`IdentifierError`.

biip (``GS1ElementString.parse``) checks the value against the AI's pattern
and reads its dates and decimals, raising when they are wrong. It reports a bad
GTIN/SSCC/GLN check digit only in ``gtin_error`` / ``sscc_error`` /
``gln_error``, never raising, and checks no other key's. Added here:

* the mod-10 check digit of every key that has one (GTIN, SSCC, GLN and GDTI,
  GCN, GSIN, GRAI, ITIP, GSRN…: :data:`~ledger.epcis.ai_table.CHECK_DIGIT_SPANS`),
  with the length and digits checked first, so biip's ``*_error`` fields can
  never be set, and the alphanumeric check pair of GMN/MUDI (AIs 8013, 8014);
* day ``00`` where the AI does not allow it, and the second date of AI 7007
  (biip reads it as a time of day and refuses valid ranges).

Not checked (as in biip): GS1 Company Prefix allocation, ISO country and
currency codes, and AI pairing rules (``req``/``ex``). GS1 evaluates pairings
over every carrier on an item, so one barcode of several may lawfully lack a
partner AI.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from biip import ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_element_strings import GS1ElementString

from ledger.epcis.ai_table import (
    CHECK_DIGIT_SPANS,
    CHECK_PAIR_AIS,
    CSET82,
    DATE_FIELDS,
    PATTERN_CORRECTIONS,
    AiSpec,
    could_be_unknown_ai,
    spec,
    unknown_spec,
)
from ledger.epcis.errors import IdentifierError


class Element(NamedTuple):
    """One GS1 element: the AI, its title (``GTIN``, ``SERIAL``…) and its value."""

    ai: str
    title: str
    value: str


_CHECK_PAIR_SYMBOLS: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CHECK_PAIR_MODULUS: Final = 1021
_DATE_TIME_AIS_BIIP_MISREADS: Final = frozenset({"7007"})
_DAYS_IN_MONTH: Final = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _primes() -> tuple[int, ...]:
    found: list[int] = []
    candidate = 2
    while len(found) < 99:
        if all(candidate % prime for prime in found):
            found.append(candidate)
        candidate += 1
    return tuple(found)


_PRIMES: Final = _primes()


def ai_spec(ai: str, *, allow_unknown: bool = False) -> AiSpec:
    """The spec of ``ai``.

    Raises:
        IdentifierError: ``unknown_ai``, unless ``allow_unknown`` and ``ai`` is shaped like an AI.
    """
    found = spec(ai)
    if found is not None:
        return found
    if allow_unknown and could_be_unknown_ai(ai):
        return unknown_spec(ai)
    raise IdentifierError("unknown_ai", f"({ai}) is not a GS1 Application Identifier", ai=ai)


def checked_element(ai: str, value: str, *, allow_unknown_ai: bool = False) -> Element:
    """Validate ``value`` for ``ai`` and return the element.

    Raises:
        IdentifierError: ``unknown_ai``, ``empty_value``, ``value_too_long``,
            ``bad_value``, ``bad_check_digit`` or ``bad_date``, naming the AI.
    """
    found = ai_spec(ai, allow_unknown=allow_unknown_ai)
    label = f"AI ({ai}) {found.title}"
    if not value:
        raise IdentifierError("empty_value", f"{label} has no value", ai=ai)
    if len(value) > found.max_length:
        raise IdentifierError(
            "value_too_long",
            f"{label} is at most {found.max_length} characters; this value has {len(value)}",
            ai=ai,
            length=len(value),
        )
    if len(value) < found.min_length:
        raise IdentifierError(
            "bad_value",
            f"{label} is at least {found.min_length} characters; this value has {len(value)}",
            ai=ai,
            length=len(value),
        )
    if value.isascii() and value.isdigit():
        _check_dates(label, ai, value)  # before the pattern, which refuses month 13 vaguely
    if not found.pattern.fullmatch(value):
        raise IdentifierError("bad_value", _format_problem(label, found, value), ai=ai, value=value)
    _check_digits(label, ai, value)
    if found.known and ai not in PATTERN_CORRECTIONS:
        _check_with_biip(label, ai, value)
    return Element(ai, found.title, value)


def _format_problem(label: str, found: AiSpec, value: str) -> str:
    for position, char in enumerate(value, start=1):
        if found.numeric and not ("0" <= char <= "9"):
            return f"{label} is digits only; character {position} is {char!r}"
        if char not in CSET82:
            return (
                f"{label} cannot hold {char!r} (character {position}): "
                "GS1 values use letters, digits and !\"%&'()*+,-./:;<=>?_"
            )
    return f"{label} does not match its format {found.format}: {value!r}"


def _check_digits(label: str, ai: str, value: str) -> None:
    span = CHECK_DIGIT_SPANS.get(ai)
    if span is not None:
        offset, length = span
        digits = value[offset : offset + length]
        expected = gs1_standard_check_digit(digits[:-1])
        if int(digits[-1]) != expected:
            raise IdentifierError(
                "bad_check_digit",
                f"{label} {digits} has check digit {digits[-1]}, but its digits give {expected}: "
                "a digit is misread or mistyped",
                ai=ai,
                expected=expected,
            )
    if ai in CHECK_PAIR_AIS:
        expected_pair = check_character_pair(value[:-2])
        if value[-2:] != expected_pair:
            raise IdentifierError(
                "bad_check_digit",
                f"{label} {value} ends in check pair {value[-2:]}, but its characters give "
                f"{expected_pair}",
                ai=ai,
                expected=expected_pair,
            )


def check_character_pair(data: str) -> str:
    """The GS1 alphanumeric check character pair of ``data`` (GS1 General Specifications
    7.9.5): CSET 82 values weighted by primes from the right, modulo 1021, split into two
    5-bit symbols."""
    weights = _PRIMES[: len(data)][::-1]
    total = sum(CSET82.index(char) * weight for char, weight in zip(data, weights, strict=True))
    total %= _CHECK_PAIR_MODULUS
    return _CHECK_PAIR_SYMBOLS[total >> 5] + _CHECK_PAIR_SYMBOLS[total & 31]


def _check_dates(label: str, ai: str, value: str) -> None:
    for offset, day_zero_allowed in DATE_FIELDS.get(ai, ()):
        text = value[offset : offset + 6]
        if len(text) < 6:
            continue  # an optional second date that is absent
        year, month, day = int(text[:2]), int(text[2:4]), int(text[4:])
        # year % 4 is exact for every year GS1's 100-year window can name (1951-2099)
        month_days = 0 if not 1 <= month <= 12 else _DAYS_IN_MONTH[month - 1]
        if month == 2 and year % 4:
            month_days = 28
        if day > month_days or (day == 0 and not day_zero_allowed):
            if day_zero_allowed:
                hint = " (day 00 means the month's last day)"
            elif day == 0:
                hint = " (this AI does not allow day 00)"
            else:
                hint = ""
            raise IdentifierError(
                "bad_date",
                f"{label} {text} is not a real date YYMMDD{hint}",
                ai=ai,
                value=text,
            )


def _check_with_biip(label: str, ai: str, value: str) -> None:
    config = ParseConfig(
        gs1_element_strings_verify_date=ai not in _DATE_TIME_AIS_BIIP_MISREADS,
    )
    try:
        GS1ElementString.parse(ai + value, config=config)
    except ParseError as exc:
        code = "bad_date" if ai in DATE_FIELDS else "bad_value"
        raise IdentifierError(code, f"{label} {value!r} is invalid: {exc}", ai=ai) from exc
