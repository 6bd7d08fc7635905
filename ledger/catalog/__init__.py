"""The catalog of key-supervised chemicals: versioned data, not code. Pure.

A regulator replaces the list by publishing a new version (two CSV files and a
meta.json with the version name and effective date); :func:`load_catalog`
validates it, :class:`CatalogRegistry` keeps every version, and each event is
judged under the ``catalog_version`` it names.
"""

from __future__ import annotations

from ledger.catalog.loader import (
    CHEMICAL_COLUMNS,
    CHEMICALS_FILE,
    FORM_COLUMNS,
    FORMS_FILE,
    cas_check_digit,
    is_valid_cas,
    load_catalog,
)
from ledger.catalog.meta import META_FILE, parse_meta
from ledger.catalog.model import (
    CATEGORY_TOKENS,
    PROVENANCES,
    THRESHOLD_VERIFIED,
    Catalog,
    CatalogError,
    CatalogProblem,
    CatalogVersionNotInForceError,
    Chemical,
    ChemicalForm,
    UnknownCatalogVersionError,
    UnknownChemicalError,
)
from ledger.catalog.registry import CatalogRegistry

__all__ = [
    "CATEGORY_TOKENS",
    "CHEMICALS_FILE",
    "CHEMICAL_COLUMNS",
    "FORMS_FILE",
    "FORM_COLUMNS",
    "META_FILE",
    "PROVENANCES",
    "THRESHOLD_VERIFIED",
    "Catalog",
    "CatalogError",
    "CatalogProblem",
    "CatalogRegistry",
    "CatalogVersionNotInForceError",
    "Chemical",
    "ChemicalForm",
    "UnknownCatalogVersionError",
    "UnknownChemicalError",
    "cas_check_digit",
    "is_valid_cas",
    "load_catalog",
    "parse_meta",
]
