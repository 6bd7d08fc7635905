"""Catalog version folders on disk: read their files, hand the text to the pure loader.

Here, under ``ledger.store``, so the service (``api``) and the handheld (``scanners``) load
the same catalogs the same way. A version folder holds ``meta.json`` (version name,
effective date), ``key-chemicals.csv`` and ``chemical-forms.csv``; see
``catalogs/2026-draft.1/README.md``.
"""

from __future__ import annotations

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

SHIPPED = Path(__file__).resolve().parent.parent.parent / "catalogs"


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
