"""The reviewed parameter fixture (``catalogs/rules/parameters.json``), read as plain JSON.

These are the numbers no regulation fixes (transit speed, slack, arrival radius, count
tolerances...). The rules catalog and the simulator share them; the simulator reads the
file itself so that it never goes through the engine's configuration code.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Final

PARAMETERS: Final = Path(__file__).resolve().parents[2] / "catalogs" / "rules" / "parameters.json"


@cache
def load(path: Path = PARAMETERS) -> dict[str, Decimal]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    values: dict[str, Decimal] = {}
    for name, entry in raw["parameters"].items():
        if not str(entry.get("source", "")).strip():
            raise ValueError(f"parameter {name} has no source/rationale")
        values[name] = Decimal(str(entry["value"]))
    return values


def get(name: str) -> Decimal:
    return load()[name]
