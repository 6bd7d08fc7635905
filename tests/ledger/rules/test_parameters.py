"""The reviewed parameter fixture and the rules catalogs hold the same unregulated numbers.

``catalogs/rules/parameters.json`` is the one place the numbers no regulation fixes are
reviewed (each with its source); the simulator reads it directly, the engine reads the
rules catalog. A rules catalog that drifts from the fixture fails here, so the simulator
never judges the engine by other numbers than the engine's.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

RULES_DIR = Path(__file__).resolve().parents[3] / "catalogs" / "rules"
PARAMETERS = json.loads((RULES_DIR / "parameters.json").read_text(encoding="utf-8"))["parameters"]
CATALOGS = ("2026.1.json", "simulation.json")
"""``simulation.json`` differs from ``2026.1.json`` only in severities and in the
simulation-only city listing, never in these numbers."""


def _at(tree: Any, path: str) -> Any:
    for part in path.split("."):
        tree = tree[part]
    return tree


@pytest.mark.parametrize("catalog", CATALOGS)
@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_the_rules_catalog_holds_the_fixtures_value(catalog: str, name: str) -> None:
    entry = PARAMETERS[name]
    assert str(entry["source"]).strip(), f"{name} has no source"
    assert entry["in_rules"], f"{name} names no rules catalog parameter"
    rules = json.loads((RULES_DIR / catalog).read_text(encoding="utf-8"))
    assert Decimal(str(_at(rules, entry["in_rules"]))) == Decimal(entry["value"]), name
