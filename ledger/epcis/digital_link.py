"""GS1 Digital Link URIs: strict parsing, and generation from element strings.

Parsing follows the GS1 Digital Link URI syntax as the GS1 Syntax Engine (the
reference implementation) applies it; ``derived/gs1-syntax-engine_dl-uri-vectors.json``
in the shared conformance folder holds its 118 parse and 22 generation vectors,
and ``tests/scanners/identifiers/test_digital_link_conformance.py`` runs all of them.

Where biip fell short. ``biip.GS1DigitalLinkURI.parse`` agrees with the
reference on 87 of the 100 default-option parse vectors. It accepts:

* a mixed-case scheme (``HtTp://``) and an IPv6 zone id (``%25`` in the host);
* zero-suppressed GTINs (``/01/2112345678900``), which it pads to 14 digits;
* an empty query value (``?99=``) and unknown numeric AIs in the query
  (``?999=…``, ``?89=…``), which it drops silently;
* a qualifier in the query that belongs in the path (``/01/…?10=ABC``);
* a repeated AI (``?99=A&99=A``, ``/10/X?10=X``: it keeps the last value);

and it rejects a stem that contains an AI-like segment before the real key
(``https://a/00/faux/00/…``), because it reads the path from the left. Its
builder sorts query attributes by AI number and requires exactly one primary
key, so it cannot reproduce the reference's canonical URIs either.

So the URI structure (scheme, host characters, the primary key found from the
right, key-qualifier order, query attributes) is checked here, and biip checks
each AI's value (through :func:`~ledger.epcis.ai_values.checked_element`).

:class:`DigitalLinkOptions` mirrors the engine's non-default settings so the
vectors that use them can run; scanning always uses the defaults.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ledger.epcis.ai_table import (
    CONVENIENCE_ALPHAS,
    DL_KEY_QUALIFIERS,
    AiSpec,
    is_dl_attribute,
    is_dl_key,
    valid_path_sequences,
)
from ledger.epcis.ai_values import Element, ai_spec, checked_element
from ledger.epcis.element_strings import parse_bracketed
from ledger.epcis.errors import IdentifierError

CANONICAL_STEM: Final = "https://id.gs1.org"
URI_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
_BAD_DOMAIN_CHARACTERS: Final = frozenset("_~?#@!$&'()*+,;=%")
_UNRESERVED: Final = frozenset(string.ascii_letters + string.digits + "-._~")
_SCHEMES: Final = ("https://", "HTTPS://", "http://", "HTTP://")
_PERCENT: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_ZERO_SUPPRESSED_GTIN_LENGTHS: Final = (8, 12, 13)
_GTIN_LENGTH: Final = 14


@dataclass(frozen=True, slots=True)
class DigitalLinkOptions:
    """Non-default GS1 Syntax Engine settings. Every default is the strict reading."""

    permit_convenience_alphas: bool = False
    """Accept deprecated path names like ``/gtin/…`` (GS1 Digital Link 1.1)."""
    permit_zero_suppressed_gtin: bool = False
    """Pad a GTIN-8, -12 or -13 in ``/01/`` (or ``?01=``) to 14 digits."""
    permit_unknown_ais: bool = False
    """Let AIs that GS1 has not defined through (shaped like an AI, 2–4 digits)."""
    unknown_ais_as_attributes: bool = False
    """With ``permit_unknown_ais``: let them appear as query attributes too."""


STRICT: Final = DigitalLinkOptions()


@dataclass(frozen=True, slots=True)
class DigitalLink:
    """A parsed Digital Link: the stem before the key and the elements, path first."""

    stem: str
    elements: tuple[Element, ...]
    path_length: int
    """How many of ``elements`` came from the path (the key and its qualifiers)."""


def is_uri_like(text: str) -> bool:
    """Whether ``text`` claims to be a URI (it has a scheme separator)."""
    return "://" in text[:12]


def parse_digital_link(uri: str, options: DigitalLinkOptions = STRICT) -> DigitalLink:
    """Parse and check a GS1 Digital Link URI.

    Raises:
        IdentifierError: ``invalid_uri``, ``no_gs1_key``, ``bad_key_qualifiers``,
            ``duplicate_ai``, ``not_dl_attribute``, ``unknown_ai``, ``empty_value``
            and the value errors of :func:`~ledger.epcis.ai_values.checked_element`.
    """
    for position, char in enumerate(uri, start=1):
        if char not in URI_CHARACTERS:
            raise IdentifierError(
                "invalid_uri",
                f"{char!r} (character {position}) cannot appear in a URI",
                position=position,
            )
    scheme = next((s for s in _SCHEMES if uri.startswith(s)), None)
    if scheme is None:
        raise IdentifierError(
            "invalid_uri", "a Digital Link starts with https:// or http:// (one case throughout)"
        )
    rest = uri[len(scheme) :]
    slash = rest.find("/")
    if slash < 1:
        raise IdentifierError("invalid_uri", "the URI has no host and path", uri=uri[:80])
    host = rest[:slash]
    bad = sorted(set(host) & _BAD_DOMAIN_CHARACTERS)
    if bad:
        raise IdentifierError("invalid_uri", f"the host {host!r} contains {bad[0]!r}", host=host)
    path = rest[slash:].split("#", 1)[0]
    path, _, query = path.partition("?")
    segments = path[1:].split("/")
    root = _primary_key_index(segments, options)
    if root is None:
        raise IdentifierError(
            "no_gs1_key",
            "the path holds no GS1 key (like /01/<GTIN>, /00/<SSCC>, /8003/<GRAI>)",
            path=path[:120],
        )
    stem = scheme + host + "/".join(["", *segments[:root]])
    path_elements = _path_elements(segments[root:], options)
    query_elements = _query_elements(query, options)
    _check_placement(path_elements, query_elements, options)
    return DigitalLink(stem, path_elements + query_elements, len(path_elements))


def _resolve_path_ai(segment: str, options: DigitalLinkOptions) -> AiSpec | None:
    if options.permit_convenience_alphas and segment in CONVENIENCE_ALPHAS:
        segment = CONVENIENCE_ALPHAS[segment]
    try:
        return ai_spec(segment, allow_unknown=options.permit_unknown_ais)
    except IdentifierError:
        return None


def _primary_key_index(segments: Sequence[str], options: DigitalLinkOptions) -> int | None:
    """Walk ``/AI/value`` pairs from the right; the first key found starts the Digital Link path."""
    index = len(segments) - 2
    while index >= 0:
        found = _resolve_path_ai(segments[index], options)
        if found is None:
            return None
        if is_dl_key(found.ai):
            return index
        index -= 2
    return None


def _unescape(text: str, *, query: bool) -> str:
    if query:
        text = text.replace("+", " ")
    decoded = _PERCENT.sub(lambda match: chr(int(match.group(1), 16)), text)
    if "\x00" in decoded:
        raise IdentifierError(
            "invalid_uri", "a percent-encoded NUL (%00) is not allowed in a value"
        )
    return decoded


def _padded_gtin(ai: str, value: str, options: DigitalLinkOptions) -> str:
    if (
        ai == "01"
        and options.permit_zero_suppressed_gtin
        and len(value) in _ZERO_SUPPRESSED_GTIN_LENGTHS
    ):
        return value.zfill(_GTIN_LENGTH)
    return value


def _dl_element(
    found: AiSpec, raw_value: str, *, query: bool, options: DigitalLinkOptions
) -> Element:
    if not raw_value:
        place = "query" if query else "path"
        raise IdentifierError(
            "empty_value", f"AI ({found.ai}) {found.title} has an empty {place} value", ai=found.ai
        )
    value = _padded_gtin(found.ai, _unescape(raw_value, query=query), options)
    if found.ai == "01" and len(value) in _ZERO_SUPPRESSED_GTIN_LENGTHS:
        raise IdentifierError(
            "bad_value",
            f"AI (01) GTIN in a Digital Link is 14 digits; {value} is a zero-suppressed "
            f"GTIN-{len(value)}: write it as {value.zfill(_GTIN_LENGTH)}",
            ai="01",
        )
    return checked_element(found.ai, value, allow_unknown_ai=not found.known)


def _path_elements(pairs: Sequence[str], options: DigitalLinkOptions) -> tuple[Element, ...]:
    elements: list[Element] = []
    for index in range(0, len(pairs), 2):
        found = _resolve_path_ai(pairs[index], options)
        assert found is not None  # the walk from the right resolved every AI here
        elements.append(_dl_element(found, pairs[index + 1], query=False, options=options))
    sequence = tuple(element.ai for element in elements)
    if sequence not in valid_path_sequences(sequence[0]):
        raise IdentifierError(
            "bad_key_qualifiers",
            f"after ({sequence[0]}) the path may hold {_describe_qualifiers(sequence[0])}; "
            f"this one holds {_describe(sequence[1:])}",
            path=list(sequence),
        )
    return tuple(elements)


def _describe(ais: Iterable[str]) -> str:
    listed = ", ".join(f"({ai})" for ai in ais)
    return listed or "nothing"


def _describe_qualifiers(key: str) -> str:
    alternatives = [a for a in DL_KEY_QUALIFIERS[key] if a]
    if not alternatives:
        return "no qualifiers"
    spelled = [_describe(alternative) for alternative in alternatives]
    return " or ".join(spelled) + " (in that order, each optional)"


def _query_elements(query: str, options: DigitalLinkOptions) -> tuple[Element, ...]:
    elements: list[Element] = []
    for parameter in query.split("&"):
        key, equals, raw_value = parameter.partition("=")
        if not equals or not (key.isascii() and key.isdigit()):
            continue  # a singleton or a non-AI parameter: not GS1 data, ignored
        found = ai_spec(key, allow_unknown=options.permit_unknown_ais)
        elements.append(_dl_element(found, raw_value, query=True, options=options))
    return tuple(elements)


def _check_placement(
    path: Sequence[Element], query: Sequence[Element], options: DigitalLinkOptions
) -> None:
    path_ais = [element.ai for element in path]
    seen = set(path_ais)
    allowed = valid_path_sequences(path_ais[0])
    for element in query:
        if element.ai in seen:
            raise IdentifierError(
                "duplicate_ai", f"AI ({element.ai}) {element.title} appears twice", ai=element.ai
            )
        seen.add(element.ai)
        found = ai_spec(element.ai, allow_unknown=options.permit_unknown_ais)
        if not is_dl_attribute(found, unknown_allowed=options.unknown_ais_as_attributes):
            raise IdentifierError(
                "not_dl_attribute",
                f"AI ({element.ai}) {element.title} may not be a Digital Link query attribute",
                ai=element.ai,
            )
        for slot in range(1, len(path_ais) + 1):
            if (*path_ais[:slot], element.ai, *path_ais[slot:]) in allowed:
                raise IdentifierError(
                    "bad_key_qualifiers",
                    f"AI ({element.ai}) {element.title} qualifies ({path_ais[0]}) and belongs in "
                    "the path, not the query",
                    ai=element.ai,
                )


def to_digital_link(
    elements: str | Iterable[Element | tuple[str, str]],
    *,
    stem: str | None = None,
    options: DigitalLinkOptions = STRICT,
) -> str:
    """Render GS1 data as a Digital Link URI (the canonical ``https://id.gs1.org`` by default).

    ``elements`` is bracketed text (``(01)…(21)…``) or ``(ai, value)`` pairs
    (an :class:`~ledger.epcis.ai_values.Element` is one). The first AI that
    is a Digital Link key goes first in the path, followed by the qualifiers
    present (the alternative with the most of them); every other AI becomes a
    query attribute, fixed-length ones first, each group in the given order.
    Repeats of an AI with the same value are written once.

    Raises:
        IdentifierError: ``no_gs1_key`` without a key AI, ``not_dl_attribute`` when an AI
            may not be a query attribute, and the value errors.
    """
    unknown = options.permit_unknown_ais
    if isinstance(elements, str):
        checked = parse_bracketed(elements, allow_unknown_ai=unknown)
    else:
        checked = tuple(
            checked_element(item[0], item[-1], allow_unknown_ai=unknown) for item in elements
        )
    key = next((element.ai for element in checked if is_dl_key(element.ai)), None)
    if key is None:
        raise IdentifierError("no_gs1_key", "a Digital Link needs a GS1 key AI, like (01) or (00)")
    path_order = _best_path_sequence(key, [element.ai for element in checked])
    uri = _without_default_port(stem or CANONICAL_STEM).removesuffix("/")
    for ai in path_order:
        element = next((e for e in checked if e.ai == ai), None)
        if element is not None:  # the chosen sequence may name a qualifier that is absent
            uri += f"/{ai}/{_escape(element.value, query=False)}"
    attributes = [element for element in checked if element.ai not in path_order]
    parameters: list[str] = []
    written: set[str] = set()
    for fixed_length_pass in (True, False):
        for element in attributes:
            found = ai_spec(element.ai, allow_unknown=unknown)
            if found.predefined_length != fixed_length_pass or element.ai in written:
                continue
            if not is_dl_attribute(found, unknown_allowed=options.unknown_ais_as_attributes):
                raise IdentifierError(
                    "not_dl_attribute",
                    f"AI ({element.ai}) {element.title} cannot be written in a Digital Link",
                    ai=element.ai,
                )
            written.add(element.ai)
            parameters.append(f"{element.ai}={_escape(element.value, query=True)}")
    return uri + ("?" + "&".join(parameters) if parameters else "")


def _without_default_port(stem: str) -> str:
    """RFC 3986 §6.2.3: the scheme's default port is left out (``https://a:443/x`` is ``https://a/x``)."""
    for scheme, port in (("https://", ":443"), ("http://", ":80")):
        if stem.lower().startswith(scheme):
            host, slash, path = stem[len(scheme) :].partition("/")
            return stem[: len(scheme)] + host.removesuffix(port) + slash + path
    return stem


def _best_path_sequence(key: str, present: Sequence[str]) -> tuple[str, ...]:
    """The reference engine's choice: of all key-qualifier sequences (in sorted order), the
    first that matches the most AIs present."""
    candidates = sorted(" ".join(sequence) for sequence in valid_path_sequences(key))
    best: tuple[str, ...] = (key,)
    best_count = 0
    for candidate in candidates:
        tokens = tuple(candidate.split(" "))
        count = sum(present.count(qualifier) for qualifier in tokens[1:])
        if count > best_count:
            best, best_count = tokens, count
    return best


def _escape(value: str, *, query: bool) -> str:
    escaped: list[str] = []
    for char in value:
        if char in _UNRESERVED:
            escaped.append(char)
        elif char == " " and query:
            escaped.append("+")
        else:
            escaped.extend(f"%{byte:02X}" for byte in char.encode())
    return "".join(escaped)
