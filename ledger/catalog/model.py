"""The key-chemicals catalog as typed, versioned data, and its errors. Pure.

A :class:`Catalog` is one version of the list of key-supervised chemicals and
their transportable forms, in force from ``effective_from``. Every event names
the version it was recorded under (``catalog_version``); old versions stay
retrievable through :class:`ledger.catalog.registry.CatalogRegistry`.

Facts that come from recollection rather than a source stay visible as such:
``categories_unverified`` on a chemical, ``threshold_verified``/``threshold_basis``
on a form, and :meth:`Catalog.unverified_fields` over both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final

from ledger.canonical import JsonValue
from ledger.errors import AppendRejectedError, InvalidInputError

CATEGORY_TOKENS: Final = frozenset(
    {
        "key_supervised_national",
        "key_supervised_national_batch2",
        "specially_controlled_2020",
        "highly_toxic",
        "explosive_precursor",
        "drug_precursor_cat1",
        "drug_precursor_cat2",
        "drug_precursor_cat3",
        "industrial_gas",
        "electronic_special_gas",
        "gas_cylinder",
        "bottled_lpg",
        "flammable_gas",
        "flammable_liquid",
        "toxic_gas",
        "toxic",
        "oxidizer",
        "oxidizing_gas",
        "corrosive",
        "pyrophoric",
        "non_flammable_non_toxic_gas",
        "school_lab",
    }
)
"""The category tokens of ``catalog.md``; a new token is a code change, by design."""

PROVENANCES: Final = frozenset({"beijing_2013", "proposed", "official"})
"""``official`` is for a list a regulator publishes; the draft uses the other two."""

THRESHOLD_VERIFIED: Final = frozenset({"standard_text", "transcription", "no"})
"""``standard_text``: checked against GB 18218; ``transcription``: a third-party copy."""

PACKING_GROUPS: Final = ("I", "II", "III")

VERSION_PATTERN: Final = re.compile(r"[0-9A-Za-z._-]{1,32}")
"""The same pattern as an event body's ``catalog_version``."""

_CODE: Final = re.compile(r"([1-9][0-9]{0,2})(?:\.([1-9][0-9]{0,2}))?")


@dataclass(frozen=True, slots=True)
class CatalogProblem:
    """One validation failure: the file, its 1-based line, the column, and what is wrong."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class CatalogError(InvalidInputError):
    """A catalog (or a catalog version being registered) is invalid; nothing was loaded.

    ``problems`` holds every failure found; the message names the first, and the
    ``errors`` context entry lists them all as text.
    """

    code = "invalid_catalog"

    def __init__(
        self, message: str, *, problems: Sequence[CatalogProblem] = (), **context: object
    ) -> None:
        if problems:
            context.setdefault("errors", [str(problem) for problem in problems])
        super().__init__(message, **context)
        self.problems: tuple[CatalogProblem, ...] = tuple(problems)

    @classmethod
    def from_problems(cls, problems: Sequence[CatalogProblem]) -> CatalogError:
        """Return the error for a non-empty list of problems, naming the first."""
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        where: dict[str, object] = {"file": first.file}
        if first.line is not None:
            where["line"] = first.line
        if first.column is not None:
            where["column"] = first.column
        return cls(f"{first}{more}", problems=problems, **where)


class UnknownChemicalError(AppendRejectedError):
    """A chemical or form code is not in the catalog version the event names."""

    code = "unknown_chemical"


class UnknownCatalogVersionError(AppendRejectedError):
    """An event names a catalog version that is not registered, or none is in force."""

    code = "unknown_catalog_version"


class CatalogVersionNotInForceError(AppendRejectedError):
    """An event names a catalog version whose effective date is after the event's date."""

    code = "catalog_version_not_in_force"


def _decimal_json(value: Decimal | None) -> JsonValue:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Chemical:
    """One entry of the list."""

    seq: int
    name_cn: str
    name_en: str
    cas: str
    cas_alt: tuple[str, ...]
    categories: frozenset[str]
    categories_unverified: frozenset[str]
    provenance: str
    ghs_hazards: str
    typical_packaging: str
    density_kg_per_l: Decimal | None
    source: str

    def has_category(self, token: str) -> bool:
        """Return whether the chemical carries ``token`` (unverified tokens count as true)."""
        if token not in CATEGORY_TOKENS:
            raise CatalogError(f"unknown category token {token!r}", token=token)
        return token in self.categories

    @property
    def is_highly_toxic(self) -> bool:
        """剧毒: the ``highly_toxic`` category."""
        return "highly_toxic" in self.categories

    def unverified_fields(self) -> tuple[str, ...]:
        """Return ``categories:<token>`` for each category taken from recollection."""
        return tuple(f"categories:{token}" for token in sorted(self.categories_unverified))

    def to_json(self) -> dict[str, JsonValue]:
        """Return a JSON-ready mapping; decimals are strings, sets are sorted lists."""
        return {
            "seq": self.seq,
            "name_cn": self.name_cn,
            "name_en": self.name_en,
            "cas": self.cas,
            "cas_alt": list(self.cas_alt),
            "categories": sorted(self.categories),
            "categories_unverified": sorted(self.categories_unverified),
            "provenance": self.provenance,
            "ghs_hazards": self.ghs_hazards,
            "typical_packaging": self.typical_packaging,
            "density_kg_per_l": _decimal_json(self.density_kg_per_l),
            "source": self.source,
            "unverified": list(self.unverified_fields()),
        }


@dataclass(frozen=True, slots=True)
class ChemicalForm:
    """One transportable form of a chemical (a UN entry, concentration band, or state)."""

    chemical_seq: int
    form_id: str
    form: str
    un_number: str
    transport_class: str
    subsidiary_risks: tuple[str, ...]
    packing_group: str | None
    major_hazard_threshold_t: Decimal | None
    threshold_basis: str
    threshold_verified: str
    measure: str | None = None
    """How the form's quantity is measured (``ledger.units.Measure``); ``None`` before 2027."""
    density_kg_per_l: Decimal | None = None
    """At ``density_condition``; only where the form may be measured by volume."""
    kg_per_nm3: Decimal | None = None
    """Mass of one normal cubic metre (0 °C, 101.325 kPa) of the gas."""
    density_condition: str = ""
    density_source: str = ""
    """Where the densities come from, or ``unverified``."""

    @property
    def un(self) -> str:
        """The UN number as usually written, e.g. ``UN1017``."""
        return f"UN{self.un_number}"

    @property
    def threshold_unverified(self) -> bool:
        """Whether the threshold (or its absence) rests on recollection."""
        basis = self.threshold_basis
        return (
            self.threshold_verified == "no"
            or basis == "unverified"
            or basis.endswith("_unverified")
        )

    @property
    def in_major_hazard_scope(self) -> bool:
        """False for forms whose basis says GB 18218 does not cover them."""
        return not self.threshold_basis.startswith("not_in_scope")

    def unverified_fields(self) -> tuple[str, ...]:
        """Return the names of this form's fields that rest on recollection."""
        return ("major_hazard_threshold_t",) if self.threshold_unverified else ()

    def to_json(self) -> dict[str, JsonValue]:
        """Return a JSON-ready mapping; the threshold is a decimal string or null.

        The measure and densities appear only for catalogs that carry them (2027 on), so an
        old version reads exactly as it always did.
        """
        entry: dict[str, JsonValue] = {
            "form_id": self.form_id,
            "chemical_seq": self.chemical_seq,
            "form": self.form,
            "un_number": self.un_number,
            "transport_class": self.transport_class,
            "subsidiary_risks": list(self.subsidiary_risks),
            "packing_group": self.packing_group,
            "major_hazard_threshold_t": _decimal_json(self.major_hazard_threshold_t),
            "threshold_basis": self.threshold_basis,
            "threshold_verified": self.threshold_verified,
            "unverified": list(self.unverified_fields()),
        }
        if self.measure is not None:
            entry |= {
                "measure": self.measure,
                "density_kg_per_l": _decimal_json(self.density_kg_per_l),
                "kg_per_nm3": _decimal_json(self.kg_per_nm3),
                "density_condition": self.density_condition,
                "density_source": self.density_source,
            }
        return entry


@dataclass(frozen=True, slots=True)
class Catalog:
    """One version of the catalog; build it with :func:`ledger.catalog.load_catalog`.

    The constructor re-checks the structure (unique keys, every form linked to a
    chemical, every chemical with a form) but not field formats: the loader does.
    """

    version: str
    effective_from: date
    chemicals: tuple[Chemical, ...]
    forms: tuple[ChemicalForm, ...]
    _by_seq: Mapping[int, Chemical] = field(init=False, repr=False, compare=False)
    _by_form: Mapping[str, ChemicalForm] = field(init=False, repr=False, compare=False)
    _forms_of: Mapping[int, tuple[ChemicalForm, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if VERSION_PATTERN.fullmatch(self.version) is None:
            raise CatalogError(
                "a catalog version is 1-32 of [0-9A-Za-z._-], like 2026-draft.1",
                version=self.version,
            )
        by_seq = {chemical.seq: chemical for chemical in self.chemicals}
        by_form = {form.form_id: form for form in self.forms}
        if len(by_seq) != len(self.chemicals) or len(by_form) != len(self.forms):
            raise CatalogError("duplicate chemical seq or form_id", version=self.version)
        grouped: dict[int, list[ChemicalForm]] = {seq: [] for seq in by_seq}
        for form in self.forms:
            if form.chemical_seq not in grouped:
                raise CatalogError("a form names an unknown chemical", form_id=form.form_id)
            grouped[form.chemical_seq].append(form)
        bare = sorted(seq for seq, forms in grouped.items() if not forms)
        if bare:
            raise CatalogError("every chemical needs at least one form", seqs=bare)
        object.__setattr__(self, "_by_seq", by_seq)
        object.__setattr__(self, "_by_form", by_form)
        object.__setattr__(self, "_forms_of", {seq: tuple(forms) for seq, forms in grouped.items()})

    def chemical(self, seq: int) -> Chemical:
        """Return chemical ``seq``, or raise :class:`UnknownChemicalError`."""
        try:
            return self._by_seq[seq]
        except KeyError:
            raise self._unknown(str(seq)) from None

    def form(self, form_id: str) -> ChemicalForm:
        """Return form ``form_id`` (like ``26.3``), or raise :class:`UnknownChemicalError`."""
        try:
            return self._by_form[form_id]
        except KeyError:
            raise self._unknown(form_id) from None

    def forms_of(self, seq: int) -> tuple[ChemicalForm, ...]:
        """Return the forms of chemical ``seq`` in file order."""
        self.chemical(seq)
        return self._forms_of[seq]

    def resolve(self, code: str) -> tuple[Chemical, ChemicalForm | None]:
        """Resolve a commission event's ``chemical`` code: ``"26"`` or ``"26.3"``.

        Only the canonical spelling is accepted (``"026"`` is not ``"26"``), so one
        chemical has one code in signed events.
        """
        match = _CODE.fullmatch(code)
        if match is None:
            raise self._unknown(code)
        chemical = self.chemical(int(match.group(1)))
        return chemical, None if match.group(2) is None else self.form(code)

    def is_highly_toxic(self, seq: int) -> bool:
        """Whether chemical ``seq`` is 剧毒 (``highly_toxic``, verified or not)."""
        return self.chemical(seq).is_highly_toxic

    def has_category(self, seq: int, token: str) -> bool:
        """Whether chemical ``seq`` carries ``token``; an unknown token raises CatalogError."""
        return self.chemical(seq).has_category(token)

    def provenance(self, seq: int) -> str:
        """Where chemical ``seq``'s place on the list comes from."""
        return self.chemical(seq).provenance

    def unverified_fields(self, code: str | int) -> tuple[str, ...]:
        """Return the unverified fields of a chemical (``26``) or of a form and its chemical."""
        chemical, form = self.resolve(str(code))
        return chemical.unverified_fields() + (() if form is None else form.unverified_fields())

    def to_json(self) -> dict[str, JsonValue]:
        """Return the whole version for the API, forms nested under their chemical."""
        chemicals: list[JsonValue] = []
        for chemical in self.chemicals:
            entry = chemical.to_json()
            entry["forms"] = [form.to_json() for form in self._forms_of[chemical.seq]]
            chemicals.append(entry)
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "chemicals": chemicals,
        }

    def _unknown(self, code: str) -> UnknownChemicalError:
        return UnknownChemicalError(
            f"chemical code {code!r} is not in catalog version {self.version}",
            chemical=code,
            catalog_version=self.version,
        )
