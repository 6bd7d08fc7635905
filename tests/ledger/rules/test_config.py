"""The rules configuration is read strictly, and every error names the field at fault."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from api.catalogs import DEFAULT_RULES, load_rules, rules_reader
from ledger.errors import InvalidInputError
from ledger.rules import RULES, parse_rules


def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(DEFAULT_RULES.read_text(encoding="utf-8"))
    return raw


def _refused(text: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        parse_rules(text, source="test.json", include=rules_reader())
    return caught.value


def test_the_shipped_configuration_loads_with_decimals() -> None:
    config = load_rules()
    assert set(config.severity) == set(RULES)
    assert config.transport.speed_kmh == Decimal(40)
    assert config.dormancy.days_by_status["active"] == Decimal(180)
    assert config.mass.org_window_days == 30


def test_an_unknown_key_is_refused_by_name() -> None:
    raw = _raw()
    raw["transport"]["speed_kph"] = "40"
    error = _refused(json.dumps(raw))
    assert error.context["field"] == "transport.speed_kph"
    assert "transport.speed_kph" in error.message


def test_a_float_is_refused_by_name() -> None:
    text = DEFAULT_RULES.read_text(encoding="utf-8").replace(
        '"speed_kmh": "40"', '"speed_kmh": 40.5'
    )
    error = _refused(text)
    assert error.context["field"] == "transport.speed_kmh"
    assert "40.5" in error.message


def test_a_float_in_a_map_or_elsewhere_is_refused_by_name() -> None:
    raw = json.dumps(_raw()).replace('"active": "180"', '"active": 180.5')
    assert _refused(raw).context["field"] == "dormancy.days_by_status.active"
    raw = json.dumps(_raw()).replace('"org_window_days": 30', '"org_window_days": 30.0')
    assert _refused(raw).context["field"] == "mass.org_window_days"


def test_a_bare_integer_is_not_a_decimal_string() -> None:
    raw = _raw()
    raw["storage"]["hazard_warn"] = 1
    assert _refused(json.dumps(raw)).context["field"] == "storage.hazard_warn"


def test_a_missing_rule_severity_is_refused_by_name() -> None:
    raw = _raw()
    del raw["severity"]["dormancy.idle"]
    error = _refused(json.dumps(raw))
    assert error.context["field"] == "severity"
    assert "dormancy.idle" in error.message


def test_an_unknown_rule_severity_is_refused() -> None:
    raw = _raw()
    raw["severity"]["dormancy.sleepy"] = "low"
    error = _refused(json.dumps(raw))
    assert error.context["field"] == "severity"
    assert "dormancy.sleepy" in error.message


def test_an_unknown_severity_level_is_refused() -> None:
    raw = _raw()
    raw["severity"]["dormancy.idle"] = "urgent"
    assert _refused(json.dumps(raw)).context["field"] == "severity.dormancy.idle"


def test_a_segregation_cell_naming_an_unknown_group_is_refused_by_name() -> None:
    raw = _raw()
    matrix = json.loads(
        (DEFAULT_RULES.parent / raw["storage"]["segregation"]).read_text(encoding="utf-8")
    )
    matrix["cells"].append({"between": ["oxidizer", "reducer"], "level": "segregated",
                            "source": "test"})  # fmt: skip
    raw["storage"]["segregation"] = matrix
    error = _refused(json.dumps(raw))
    assert error.context["field"] == "storage.segregation"
    assert "reducer" in error.message


def test_a_missing_section_is_refused_by_name() -> None:
    raw = _raw()
    del raw["dormancy"]
    assert _refused(json.dumps(raw)).context["field"] == "dormancy"


def test_a_fraction_above_one_is_refused_by_name() -> None:
    raw = _raw()
    raw["mass"]["count_tolerance"] = "1.5"
    assert _refused(json.dumps(raw)).context["field"] == "mass.count_tolerance"


def test_text_that_is_not_json_is_refused() -> None:
    _refused("{not json")
