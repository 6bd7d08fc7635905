"""Loading catalog versions and rules configurations from disk (the core only parses text).

Catalog versions live in folders: one folder per version, no code change to upgrade.

A version folder holds ``meta.json`` (version name, effective date), ``key-chemicals.csv``
and ``chemical-forms.csv``; see ``catalogs/2026-draft.1/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ledger.catalog import (
    CHEMICALS_FILE,
    FORMS_FILE,
    META_FILE,
    Catalog,
    CatalogRegistry,
    load_catalog,
    parse_meta,
)
from ledger.rules import RulesConfig, parse_rules

SHIPPED = Path(__file__).resolve().parent.parent / "catalogs"
DEFAULT_RULES = SHIPPED / "rules" / "2026.1.json"


def load_version(folder: Path) -> Catalog:
    """Load and validate one catalog version folder."""
    version, effective_from = parse_meta((folder / META_FILE).read_text(encoding="utf-8"))
    return load_catalog(
        version,
        effective_from,
        (folder / CHEMICALS_FILE).read_text(encoding="utf-8"),
        (folder / FORMS_FILE).read_text(encoding="utf-8"),
    )


def load_registry(*directories: Path) -> CatalogRegistry:
    """Every version in the version folders under ``directories`` (default: the shipped ones)."""
    folders = [
        folder
        for directory in (directories or (SHIPPED,))
        for folder in sorted(directory.iterdir())
        if (folder / META_FILE).is_file()
    ]
    return CatalogRegistry(load_version(folder) for folder in folders)


def rules_reader(folder: Path = DEFAULT_RULES.parent) -> Callable[[str], str]:
    """Reads the files a rules configuration names (its segregation matrix) from ``folder``."""
    return lambda name: (folder / name).read_text(encoding="utf-8")


def load_rules(path: Path = DEFAULT_RULES) -> RulesConfig:
    """Read a rules configuration file (see :func:`ledger.rules.parse_rules`); the files it
    names are read from its own folder."""
    return parse_rules(
        path.read_text(encoding="utf-8"), source=str(path), include=rules_reader(path.parent)
    )
