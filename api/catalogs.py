"""Loading catalog versions and rules configurations from disk (the core only parses text).

Catalog versions live in folders: one folder per version, no code change to upgrade.

A version folder holds ``meta.json`` (version name, effective date), ``key-chemicals.csv``
and ``chemical-forms.csv``; see ``catalogs/2026-draft.1/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ledger.risk import RiskWeights, parse_weights
from ledger.rules import RulesConfig, parse_rules
from ledger.store.catalog_files import SHIPPED, load_registry, load_version

__all__ = [
    "DEFAULT_RISK_WEIGHTS",
    "DEFAULT_RULES",
    "SHIPPED",
    "load_registry",
    "load_risk_weights",
    "load_rules",
    "load_version",
    "rules_reader",
]

DEFAULT_RULES = SHIPPED / "rules" / "2026.1.json"
DEFAULT_RISK_WEIGHTS = SHIPPED / "risk-grade" / "2026.1.json"


def rules_reader(folder: Path = DEFAULT_RULES.parent) -> Callable[[str], str]:
    """Reads the files a rules configuration names (its segregation matrix) from ``folder``."""
    return lambda name: (folder / name).read_text(encoding="utf-8")


def load_rules(path: Path = DEFAULT_RULES) -> RulesConfig:
    """Read a rules configuration file (see :func:`ledger.rules.parse_rules`); the files it
    names are read from its own folder."""
    return parse_rules(
        path.read_text(encoding="utf-8"), source=str(path), include=rules_reader(path.parent)
    )


def load_risk_weights(path: Path = DEFAULT_RISK_WEIGHTS) -> RiskWeights:
    """Read the risk grade's weights file (see :func:`ledger.risk.parse_weights`)."""
    return parse_weights(path.read_text(encoding="utf-8"), source=str(path))
