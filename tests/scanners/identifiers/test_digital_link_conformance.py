"""GS1 Digital Link conformance: the GS1 Syntax Engine's 118 parse and 22 generation vectors.

Every vector runs. Those with non-default engine options run with the same
options (:class:`DigitalLinkOptions`); ``parse_scan`` itself always uses the
defaults. The last test records why the strictness layer exists: biip alone
accepts URIs the reference rejects.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI

from scanners.identifiers import (
    DigitalLinkOptions,
    ScanError,
    parse_digital_link,
    parse_scan,
    to_digital_link,
    to_element_string,
)
from tests.conftest import require_shared
from tests.scanners.identifiers._vectors import DL_VECTORS, load

pytestmark = pytest.mark.conformance

_DATA = load(DL_VECTORS) or {"parse": [], "generate": []}
PARSE: list[dict[str, Any]] = _DATA["parse"]
GENERATE: list[dict[str, Any]] = _DATA["generate"]


def _options(engine: dict[str, bool]) -> DigitalLinkOptions:
    known = {
        "permitConvenienceAlphas",
        "permitZeroSuppressedGTIN",
        "permitUnknownAIs",
        "validateUnknownAINotDLAttr",
    }
    assert set(engine) <= known, f"a new engine option: {sorted(set(engine) - known)}"
    return DigitalLinkOptions(
        permit_convenience_alphas=engine.get("permitConvenienceAlphas", False),
        permit_zero_suppressed_gtin=engine.get("permitZeroSuppressedGTIN", False),
        permit_unknown_ais=engine.get("permitUnknownAIs", False),
        unknown_ais_as_attributes=not engine.get("validateUnknownAINotDLAttr", True),
    )


def _caret(elements: Any) -> str:
    """The engine's notation: FNC1 first as ``^``, then ``^`` after variable-length values."""
    return "^" + to_element_string(elements, separator="^")


def _vector_id(vector: dict[str, Any]) -> str:
    return f"line{vector['line']}"


def test_every_vector_is_here() -> None:
    data = json.loads(require_shared(DL_VECTORS).read_text())
    parse, generate = data["parse"], data["generate"]
    assert len(parse) == 118
    assert sum(v["should_succeed"] for v in parse) == 73
    assert len(generate) == 22
    assert len(PARSE) == 118


@pytest.mark.parametrize("vector", PARSE, ids=_vector_id)
def test_parse_vector(vector: dict[str, Any]) -> None:
    options = _options(vector["options"])
    if not vector["should_succeed"]:
        with pytest.raises(ScanError):
            parse_digital_link(vector["input_uri"], options)
        return
    parsed = parse_digital_link(vector["input_uri"], options)
    assert _caret(parsed.elements) == vector["expected_ai_string"]


@pytest.mark.parametrize("vector", GENERATE, ids=_vector_id)
def test_generation_vector(vector: dict[str, Any]) -> None:
    options = _options(vector["options"])
    arguments: dict[str, Any] = {"stem": vector["stem"], "options": options}
    if not vector["should_succeed"]:
        with pytest.raises(ScanError):
            to_digital_link(vector["input_ai_bracketed"], **arguments)
        return
    assert to_digital_link(vector["input_ai_bracketed"], **arguments) == vector["expected_uri"]


DEFAULT_OPTION_PARSE = [vector for vector in PARSE if not vector["options"]]


@pytest.mark.parametrize("vector", DEFAULT_OPTION_PARSE, ids=_vector_id)
def test_parse_scan_agrees_with_the_reference_on_default_vectors(vector: dict[str, Any]) -> None:
    """The scanning entry point, not just the parser, holds the reference's line."""
    uri = vector["input_uri"]
    if not vector["should_succeed"]:
        with pytest.raises(ScanError):
            parse_scan("]Q1" + uri)
        return
    result = parse_scan("]Q1" + uri)
    assert result.kind == "gs1_digital_link"
    assert _caret(result.elements) == vector["expected_ai_string"]


def _biip_agrees(vector: dict[str, Any]) -> bool:
    try:
        parsed = GS1DigitalLinkURI.parse(vector["input_uri"])
    except (ParseError, ValueError):
        return not vector["should_succeed"]
    errors = [
        problem
        for element in parsed.element_strings
        for problem in (element.gtin_error, element.sscc_error, element.gln_error)
        if problem
    ]
    if errors or not vector["should_succeed"]:
        return bool(errors) and not vector["should_succeed"]
    caret = "^"
    for index, element in enumerate(parsed.element_strings):
        caret += element.ai.ai + element.value
        last = index + 1 == len(parsed.element_strings)
        caret += "^" if element.ai.separator_required and not last else ""
    return caret == str(vector["expected_ai_string"])


def test_biip_alone_is_not_strict_enough() -> None:
    """Why :mod:`scanners.identifiers.digital_link` adds its own checks.

    If biip one day agrees with the reference on every vector, this fails and
    the strictness layer can shrink.
    """
    require_shared(DL_VECTORS)
    agreeing = sum(_biip_agrees(vector) for vector in DEFAULT_OPTION_PARSE)
    ours = 0
    for vector in DEFAULT_OPTION_PARSE:
        try:
            got = _caret(parse_digital_link(vector["input_uri"]).elements)
        except ScanError:
            ours += not vector["should_succeed"]
        else:
            ours += vector["should_succeed"] and got == vector["expected_ai_string"]
    assert ours == len(DEFAULT_OPTION_PARSE) == 100
    assert agreeing == 87, f"biip alone now agrees on {agreeing} of 100"
