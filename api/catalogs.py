"""Loading catalog versions and rules configurations from disk (the core only parses text).

Catalog versions live in folders: one folder per version, no code change to upgrade.

A version folder holds ``meta.json`` (version name, effective date), ``key-chemicals.csv``
and ``chemical-forms.csv``; see ``catalogs/2026-draft.1/README.md``.
"""

from __future__ import annotations

from pathlib import Path

from ledger.rules import RulesConfig, parse_rules
from ledger.store.catalog_files import SHIPPED, load_registry, load_version

__all__ = ["DEFAULT_RULES", "SHIPPED", "load_registry", "load_rules", "load_version"]

DEFAULT_RULES = SHIPPED / "rules" / "2026.1.json"


def load_rules(path: Path = DEFAULT_RULES) -> RulesConfig:
    """Read a rules configuration file (see :func:`ledger.rules.parse_rules`)."""
    return parse_rules(path.read_text(encoding="utf-8"), source=str(path))
