"""Valid event data for device tests."""

from __future__ import annotations

from typing import Any

COMMISSION: dict[str, Any] = {
    "chemical": "1",
    "quantity": {"value": "40", "unit": "kg"},
    "lot": "L1",
    "packaging": "cylinder",
}
STORE_IN: dict[str, Any] = {"location": "bay 1"}


def use(kg: str) -> dict[str, Any]:
    return {"quantity": {"value": kg, "unit": "kg"}}
