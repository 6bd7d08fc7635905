"""Settings read at start-up: a bad file named by a setting stops the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.catalogs import DEFAULT_RISK_WEIGHTS
from api.settings import Settings

SHIPPED = json.loads(DEFAULT_RISK_WEIGHTS.read_text(encoding="utf-8"))


def test_a_service_named_a_bad_weights_file_does_not_start(tmp_path: Path) -> None:
    bad = tmp_path / "weights.json"
    bad.write_text(json.dumps({**SHIPPED, "bonus": 1}), encoding="utf-8")
    with pytest.raises(ValidationError, match="bonus"):
        Settings(risk_weights=bad)
    with pytest.raises(ValidationError, match="risk weights"):
        Settings(risk_weights=tmp_path / "missing.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({**SHIPPED, "version": "risk-2026.2"}), encoding="utf-8")
    assert Settings(risk_weights=good).risk_weights == good
