"""The risk grade's weights file: the shipped one parses, a bad one is refused by name."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from api.catalogs import DEFAULT_RISK_WEIGHTS, load_risk_weights
from ledger.errors import InvalidInputError
from ledger.risk import parse_weights

SHIPPED: dict[str, Any] = json.loads(DEFAULT_RISK_WEIGHTS.read_text(encoding="utf-8"))


def test_the_shipped_weights_parse_and_name_their_version() -> None:
    weights = load_risk_weights()
    assert weights.version == "risk-2026.1"
    assert weights.findings == {"critical": 40, "high": 15, "medium": 5, "low": 1}
    assert [step.grade for step in weights.grades] + [weights.last_grade] == list("ABCD")
    assert weights.inspection.passed == 0


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(raw: dict[str, Any]) -> None:
        node: Any = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(raw: dict[str, Any]) -> None:
        node = raw
        for part in parents:
            node = node[part]
        del node[last]

    return change


BAD: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "an unknown top-level key": (_set("bonus", 5), "bonus"),
    "an unknown nested key": (_set("licence.overdue", 5), "licence.overdue"),
    "a float for a decimal": (_set("hazard_ratio.0.at_least", 1.0), "float"),
    "a float for points": (_set("findings.high", 15.0), "float"),
    "points as a string": (_set("findings.high", "15"), "findings.high"),
    "points as a boolean": (_set("inspection.fail", True), "inspection.fail"),
    "negative points": (_set("licence.lapsed", -1), "licence.lapsed"),
    "a category the catalog does not define": (
        _set("categories.points.radioactive", 10),
        "radioactive",
    ),
    "a severity left out": (_drop("findings.low"), "severity"),
    "an unknown severity": (_set("findings.urgent", 80), "findings.urgent"),
    "an unsorted grade ladder": (
        _set("grades", [{"below": 30, "grade": "B"}, {"below": 10, "grade": "A"}]),
        "ascend",
    ),
    "a ratio ladder that rises": (
        _set("hazard_ratio", [{"at_least": "0.1", "points": 5}, {"at_least": "1", "points": 40}]),
        "descend",
    ),
    "a grade named twice": (_set("last_grade", "A"), "once"),
    "no version": (_drop("version"), "version"),
    "a bad version id": (_set("version", "Risk 2026"), "version"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_weights_file_is_refused_naming_what_is_wrong(case: str) -> None:
    change, named = BAD[case]
    raw = copy.deepcopy(SHIPPED)
    change(raw)
    with pytest.raises(InvalidInputError) as refused:
        parse_weights(json.dumps(raw), source="bad.json")
    assert named in str(refused.value) and str(refused.value).startswith("bad.json")


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"bad\.json"):
        parse_weights("{", source="bad.json")
