"""The catalog as the API shows it, and chemical filters by id, CAS, UN number or name.

Every version stays readable (events are judged under the version they name); without a
version, the one in force today (UTC) is shown. An entry carries, beside the catalog's own
columns, its GHS classes, each form's UN number and the first-response advice for the
form's transport class, and the provenance of every row (where the list entry, the
threshold and the densities come from, and which of them are unverified).
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any, Final

from api.services.errors import NotFoundError
from ledger.canonical import JsonValue
from ledger.catalog import Catalog, CatalogRegistry, Chemical, ChemicalForm
from ledger.catalog.ghs import parse_ghs
from ledger.catalog.lookup import ChemicalLookup, ChemicalNames
from ledger.store.catalog_files import SHIPPED
from ledger.store.findings import StoredFinding

ADVICE_FILE: Final = SHIPPED / "emergency-advice.json"


@functools.cache
def emergency_advice() -> dict[str, dict[str, str]]:
    """First-response advice by UN transport class (``catalogs/emergency-advice.json``)."""
    raw = json.loads(ADVICE_FILE.read_text(encoding="utf-8"))
    return {key: value for key, value in raw.items() if not key.startswith("_")}


def advice_for(transport_class: str) -> dict[str, str]:
    """The advice for a class (``2.3``), else its division's (``2``), else the default."""
    table = emergency_advice()
    for key in (transport_class, transport_class.split(".")[0], "default"):
        if key in table:
            return dict(table[key])
    return {}


class CatalogService:
    """Catalog versions, entries, and the chemical lookup every filter uses."""

    def __init__(self, catalogs: CatalogRegistry) -> None:
        self._catalogs = catalogs
        self.lookup = ChemicalLookup(catalogs)

    @property
    def versions(self) -> tuple[str, ...]:
        return self._catalogs.versions

    def version(self, name: str | None) -> Catalog:
        """Version ``name``, or the one in force today (the oldest, before any is).

        Raises:
            NotFoundError: no such version (``catalog_version_not_found``).
        """
        if name is None:
            today = datetime.now(UTC).date()
            in_force = [c for c in self._catalogs if c.effective_from <= today]
            return in_force[-1] if in_force else next(iter(self._catalogs))
        if name not in self._catalogs.versions:
            raise NotFoundError("catalog_version", name, f"no catalog version {name!r}")
        return self._catalogs.get(name)

    def entries(self, catalog: Catalog) -> list[dict[str, JsonValue]]:
        return [self._entry(catalog, chemical) for chemical in catalog.chemicals]

    def entry(self, catalog: Catalog, text: str) -> dict[str, JsonValue]:
        """The entry ``text`` names (id, CAS, UN number or name) in ``catalog``.

        Raises:
            AmbiguousChemicalError: it names several chemicals (a 422 with the candidates).
            NotFoundError: it names none of this version (``chemical_not_found``).
        """
        found = self.lookup.find(text)
        if len(found) > 1:
            self.lookup.resolve(text)  # raises the ambiguity with its candidates
        chemical = next((c for c in catalog.chemicals if found and c.seq == found[0]), None)
        if chemical is None:
            raise NotFoundError(
                "chemical", text, f"no chemical {text!r} in catalog version {catalog.version}"
            )
        return self._entry(catalog, chemical)

    def codes(self, text: str | None, field: str = "chemical") -> frozenset[str] | None:
        """The codes events may name the chemical ``text`` by (``None`` for no filter).

        Raises:
            UnknownChemicalQueryError, AmbiguousChemicalError: 422s naming ``field``.
        """
        if text is None:
            return None
        return self.lookup.codes(self.lookup.resolve(text, field=field))

    def names(self, code: str | None) -> ChemicalNames | None:
        return self.lookup.names(code)

    def described(self, code: str | None) -> dict[str, Any]:
        """``chemical_name``, ``chemical_name_en``, ``cas`` and ``un`` of an event's code."""
        names = self.lookup.names(code)
        if names is None:
            return {"chemical_name": None, "chemical_name_en": None, "cas": None, "un": None}
        return {
            "chemical_name": names.name_cn,
            "chemical_name_en": names.name_en,
            "cas": names.cas or None,
            "un": names.un,
        }

    def describe_finding(self, stored: StoredFinding) -> dict[str, Any]:
        """A finding as the API shows it: the stored finding and its chemical's catalog
        names. ``GET /v1/findings`` and the webhook bodies both use this, so a receiver
        gets what the API answers."""
        return stored.to_json() | self.described(stored.finding.chemical)

    def _entry(self, catalog: Catalog, chemical: Chemical) -> dict[str, JsonValue]:
        entry = chemical.to_json()
        forms = catalog.forms_of(chemical.seq)
        entry |= {
            "chemical": str(chemical.seq),
            "name": chemical.name_cn,
            "un": sorted({form.un for form in forms}),
            "ghs_classes": sorted(parse_ghs(chemical.ghs_hazards)),
            "forms": [_form(form) for form in forms],
            "catalog_version": catalog.version,
        }
        return entry


def _form(form: ChemicalForm) -> JsonValue:
    entry = form.to_json()
    entry |= {
        "un": form.un,
        "in_major_hazard_scope": form.in_major_hazard_scope,
        "emergency_advice": dict(advice_for(form.transport_class)),
    }
    return entry
