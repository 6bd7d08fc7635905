"""Load a catalog version from the text of its two CSV files. Pure.

The caller reads the files; this module only parses text. Everything is checked
on load and every failure is collected: :class:`CatalogError` names the first by
file, 1-based line and column, and carries all of them (``problems``, and the
``errors`` context entry). Numbers are parsed as :class:`~decimal.Decimal`, never floats.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from ledger.catalog.ghs import GhsParseError, parse_ghs
from ledger.catalog.meta import META_FILE
from ledger.catalog.model import (
    CATEGORY_TOKENS,
    PACKING_GROUPS,
    PROVENANCES,
    THRESHOLD_VERIFIED,
    VERSION_PATTERN,
    Catalog,
    CatalogError,
    CatalogProblem,
    Chemical,
    ChemicalForm,
)

CHEMICALS_FILE: Final = "key-chemicals.csv"
FORMS_FILE: Final = "chemical-forms.csv"

CHEMICAL_COLUMNS: Final = (
    "seq", "name_cn", "name_en", "cas", "cas_alt", "categories", "categories_unverified",
    "provenance", "ghs_hazards", "typical_packaging", "density_kg_per_l", "source",
)  # fmt: skip
FORM_COLUMNS: Final = (
    "chemical_seq", "form_id", "form", "un_number", "transport_class", "subsidiary_risks",
    "packing_group", "major_hazard_threshold_t", "threshold_basis", "threshold_verified",
)  # fmt: skip

MEASURE_COLUMNS: Final = (
    "measure", "density_kg_per_l", "kg_per_nm3", "density_condition", "density_source",
)  # fmt: skip
"""Per-form measurement columns, from catalog format 2 (2027) on: all of them or none."""
MEASURES: Final = frozenset({
    "liquid", "solid", "solution_band", "liquefied_gas", "dissolved_gas", "compressed_gas",
    "refrigerated_liquid",
})  # fmt: skip
"""The same names as ``ledger.units.Measure`` (kept equal by a test)."""
MAX_KG_PER_NM3: Final = Decimal(10)
"""Denser than any gas at 0 °C and 101.325 kPa (WF6 is about 13 g/L but is no catalog gas)."""

UN_NUMBER_MAX: Final = 3599
"""A sanity bound, not the list of assigned numbers (the highest assigned are in the 3500s)."""
MAX_DENSITY_KG_PER_L: Final = Decimal(25)
"""Denser than any substance; a larger value is almost surely in kg/m³."""

_SEQ = re.compile(r"[1-9][0-9]{0,2}")
_CAS = re.compile(r"([1-9][0-9]{1,6})-([0-9]{2})-([0-9])")
_FORM_ID = re.compile(r"[1-9][0-9]{0,2}\.[1-9][0-9]{0,2}")
_UN = re.compile(r"[0-9]{4}")
_CLASS = re.compile(r"1\.[1-6][A-HJKLNS]?|2\.[1-3]|3|4\.[1-3]|5\.[12]|6\.[12]|7|8|9")
_SUBSIDIARY = re.compile(r"1|2\.[1-3]|3|4\.[1-3]|5\.[12]|6\.[12]|7|8|9")
_NO_PACKING_GROUP = re.compile(r"1\..*|2\..*|7")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_BASIS = re.compile(
    r"(?:table1|table2(?::[a-z0-9]+(?:_[a-z0-9]+)*)?|not_in_scope(?:_[a-z0-9]+)*|unverified)"
    r"(?:_unverified)?"
)


def cas_check_digit(digits: str) -> int:
    """Return the CAS check digit of the digits before it (``"778250"`` -> 5).

    The rightmost digit is weighted 1, the next 2, and so on; the check digit is
    the weighted sum modulo 10.
    """
    return sum(weight * int(digit) for weight, digit in enumerate(reversed(digits), 1)) % 10


def is_valid_cas(text: str) -> bool:
    """Whether ``text`` is a CAS registry number with a correct check digit."""
    match = _CAS.fullmatch(text)
    return match is not None and cas_check_digit(match[1] + match[2]) == int(match[3])


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    cells: dict[str, str]


class _Check:
    """Problems found so far, and field parsers that record them.

    A parser returns a placeholder (0, "", None) on failure: the catalog is only
    built when no problem was found, so placeholders never escape.
    """

    def __init__(self) -> None:
        self.problems: list[CatalogProblem] = []
        self.file = ""
        self.row = _Row(0, {})

    def fail(self, column: str | None, message: str, line: int | None = None) -> None:
        self.problems.append(
            CatalogProblem(self.file, self.row.line if line is None else line, column, message)
        )

    def text(self, column: str, *, required: bool = True) -> str:
        value = self.row.cells.get(column)
        if value is None:  # the column is missing: already reported at the header
            return ""
        if required and not value:
            self.fail(column, "required")
        return value

    def matching(self, column: str, pattern: re.Pattern[str], example: str) -> str:
        value = self.text(column)
        if value and pattern.fullmatch(value) is None:
            self.fail(column, f"{value!r} is not like {example}")
            return ""
        return value

    def seq(self, column: str) -> int:
        value = self.matching(column, _SEQ, "1..999 without leading zeros")
        return int(value) if value else 0

    def positive_decimal(self, column: str) -> Decimal | None:
        value = self.text(column, required=False)
        if not value:
            return None
        if _DECIMAL.fullmatch(value) is None:
            why = (
                "exponent notation is not allowed"
                if "e" in value.lower()
                else "must be positive"
                if value.startswith("-")
                else "must be a plain decimal"
            )
            self.fail(column, f"{value!r}: {why}; write a decimal like 0.74, or leave empty")
            return None
        number = Decimal(value)
        if number <= 0:
            self.fail(column, f"{value!r}: must be positive, or empty")
            return None
        return number

    def tokens(
        self, column: str, check: Callable[[str], str | None], *, required: bool = False
    ) -> tuple[str, ...]:
        value = self.text(column, required=required)
        if not value:
            return ()
        tokens = tuple(value.split(";"))
        for token in tokens:
            problem = "empty entry" if not token else check(token)
            if problem is None and tokens.count(token) > 1:
                problem = "appears more than once"
            if problem is not None:
                self.fail(column, f"{token!r}: {problem}")
        return tokens


def _read_table(
    text: str, name: str, columns: Sequence[str], check: _Check, optional: Sequence[str] = ()
) -> list[_Row]:
    check.file, check.row = name, _Row(1, {})
    chunks = text.removeprefix("\ufeff").split("\n")
    lines = [chunk + "\n" for chunk in chunks[:-1]] + ([chunks[-1]] if chunks[-1] else [])
    reader = csv.reader(lines, strict=True)
    rows: list[_Row] = []
    header: list[str] | None = None
    start = 1
    try:
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            if not cells:
                continue
            if header is None:
                header = cells
                if optional and not set(optional).isdisjoint(header):
                    columns = (*columns, *optional)
                _check_header(header, columns, check)
                continue
            check.row = _Row(start, {})
            if len(cells) != len(header):
                column = header[len(cells)] if len(cells) < len(header) else f"#{len(header) + 1}"
                check.fail(column, f"the row has {len(cells)} cells, the header {len(header)}")
            for column, value in zip(header, cells, strict=False):
                if column in columns:
                    _check_cell(column, value, check)
                    check.row.cells[column] = value
            rows.append(check.row)
    except csv.Error as exc:
        check.fail(None, f"malformed CSV in the record starting here: {exc}", line=start)
    if header is None:
        check.fail(None, "the file is empty; expected a header: " + ",".join(columns), line=1)
    return rows


def _check_header(header: Sequence[str], columns: Sequence[str], check: _Check) -> None:
    for index, column in enumerate(header):
        if column in header[:index]:
            check.fail(column, "the column appears more than once")
        elif column not in columns:
            check.fail(column, "unexpected column; expected " + ",".join(columns))
    for column in columns:
        if column not in header:
            check.fail(column, "missing column")


def _check_cell(column: str, value: str, check: _Check) -> None:
    if value != value.strip():
        check.fail(column, "leading or trailing whitespace")
    if not unicodedata.is_normalized("NFC", value):
        check.fail(column, "text must be Unicode NFC")


def _category(token: str) -> str | None:
    return None if token in CATEGORY_TOKENS else "unknown category token"


def _cas(token: str) -> str | None:
    match = _CAS.fullmatch(token)
    if match is None:
        return "not a CAS number like 7782-50-5"
    expected = cas_check_digit(match[1] + match[2])
    return None if expected == int(match[3]) else f"check digit should be {expected}"


def _subsidiary(token: str) -> str | None:
    return None if _SUBSIDIARY.fullmatch(token) else "not a hazard class like 5.1 or 8"


def _parse_chemical(check: _Check) -> Chemical:
    seq = check.seq("seq")
    name_cn, name_en = check.text("name_cn"), check.text("name_en")
    cas = check.tokens("cas", _cas, required=True)
    if len(cas) > 1:
        check.fail("cas", "one primary CAS number; put the others in cas_alt")
    cas_alt = check.tokens("cas_alt", _cas)
    for alt in set(cas) & set(cas_alt):
        check.fail("cas_alt", f"{alt!r} repeats the primary CAS number")
    categories = frozenset(check.tokens("categories", _category, required=True))
    unverified = frozenset(check.tokens("categories_unverified", _category))
    for token in sorted(unverified - categories):
        check.fail("categories_unverified", f"{token!r} is not in categories")
    provenance = check.text("provenance")
    if provenance and provenance not in PROVENANCES:
        check.fail("provenance", f"{provenance!r} is not one of {', '.join(sorted(PROVENANCES))}")
    density = check.positive_decimal("density_kg_per_l")
    if density is not None and density > MAX_DENSITY_KG_PER_L:
        check.fail("density_kg_per_l", f"{density} kg/L is implausible (kg/m³ instead of kg/L?)")
    ghs_hazards = check.text("ghs_hazards", required=False)
    try:
        parse_ghs(ghs_hazards)
    except GhsParseError as exc:
        check.fail("ghs_hazards", str(exc))
    return Chemical(
        seq=seq,
        name_cn=name_cn,
        name_en=name_en,
        cas=cas[0] if cas else "",
        cas_alt=cas_alt,
        categories=categories,
        categories_unverified=unverified,
        provenance=provenance,
        ghs_hazards=ghs_hazards,
        typical_packaging=check.text("typical_packaging", required=False),
        density_kg_per_l=density,
        source=check.text("source"),
    )


def _parse_form(check: _Check) -> ChemicalForm:
    seq = check.seq("chemical_seq")
    form_id = check.matching("form_id", _FORM_ID, "26.3")
    if seq and form_id and form_id.split(".")[0] != str(seq):
        check.fail("form_id", f"{form_id!r} must start with its chemical_seq {seq}")
    form = check.text("form")
    un_number = check.matching("un_number", _UN, "1017 (4 digits, no UN prefix)")
    if un_number and not 1 <= int(un_number) <= UN_NUMBER_MAX:
        check.fail("un_number", f"{un_number!r} is outside 0001-{UN_NUMBER_MAX}")
    klass = check.matching("transport_class", _CLASS, "2.3, 8, 5.1 or 1.1D")
    subsidiary = check.tokens("subsidiary_risks", _subsidiary)
    if klass and klass in subsidiary:
        check.fail("subsidiary_risks", f"{klass!r} is the primary class")
    packing_group = check.text("packing_group", required=False)
    if packing_group and packing_group not in PACKING_GROUPS:
        check.fail("packing_group", f"{packing_group!r} is not I, II, III or empty")
    elif packing_group and klass and _NO_PACKING_GROUP.fullmatch(klass):
        check.fail("packing_group", f"class {klass} has no packing group")
    threshold = check.positive_decimal("major_hazard_threshold_t")
    basis = check.matching("threshold_basis", _BASIS, "table1, table2:<category>, not_in_scope")
    if basis.startswith("not_in_scope") and threshold is not None:
        check.fail("major_hazard_threshold_t", "a form out of GB 18218 scope has no threshold")
    verified = check.text("threshold_verified")
    if verified and verified not in THRESHOLD_VERIFIED:
        choices = ", ".join(sorted(THRESHOLD_VERIFIED))
        check.fail("threshold_verified", f"{verified!r} is not one of {choices}")
    elif verified not in {"", "no"} and (basis == "unverified" or basis.endswith("_unverified")):
        check.fail("threshold_verified", f"must be 'no' when threshold_basis is {basis!r}")
    measure, density, normal = (
        _parse_measure(check) if "measure" in check.row.cells else (None, None, None)
    )
    return ChemicalForm(
        chemical_seq=seq,
        form_id=form_id,
        form=form,
        un_number=un_number,
        transport_class=klass,
        subsidiary_risks=subsidiary,
        packing_group=packing_group or None,
        major_hazard_threshold_t=threshold,
        threshold_basis=basis,
        threshold_verified=verified,
        measure=measure,
        density_kg_per_l=density,
        kg_per_nm3=normal,
        density_condition=check.text("density_condition", required=False),
        density_source=check.text("density_source", required=False),
    )


def _parse_measure(check: _Check) -> tuple[str | None, Decimal | None, Decimal | None]:
    """How the form is measured, checked against the densities its row gives."""
    measure = check.text("measure")
    if measure and measure not in MEASURES:
        check.fail("measure", f"{measure!r} is not one of {', '.join(sorted(MEASURES))}")
        return None, None, None
    density = check.positive_decimal("density_kg_per_l")
    normal = check.positive_decimal("kg_per_nm3")
    if density is not None and density > MAX_DENSITY_KG_PER_L:
        check.fail("density_kg_per_l", f"{density} kg/L is implausible (kg/m³ instead of kg/L?)")
    if normal is not None and normal > MAX_KG_PER_NM3:
        check.fail("kg_per_nm3", f"{normal} kg/Nm³ is implausible for a gas")
    by_volume = measure in {"liquid", "refrigerated_liquid"}
    if measure == "liquid" and density is None:
        check.fail("density_kg_per_l", "a liquid is measured by volume: give its density")
    if density is not None and not by_volume:
        check.fail("density_kg_per_l", f"a {measure} is measured by mass: leave it empty")
    if normal is not None and measure not in {"compressed_gas", "refrigerated_liquid"}:
        check.fail("kg_per_nm3", f"a {measure} is not measured in Nm3: leave it empty")
    if (density or normal) and not check.text("density_condition", required=False):
        check.fail("density_condition", "a density needs its reference condition")
    if not check.text("density_source", required=False):
        check.fail("density_source", "say where the density or the measuring rule comes from")
    return measure or None, density, normal


def _cross_check(
    check: _Check,
    chemicals: list[tuple[int, Chemical]],
    forms: list[tuple[int, ChemicalForm]],
    names: tuple[str, str],
) -> None:
    check.file = names[0]
    seqs = {chemical.seq for _, chemical in chemicals if chemical.seq}
    first_line: dict[int, int] = {}
    cas_line: dict[str, int] = {}
    for line, chemical in chemicals:
        for cas in (chemical.cas, *chemical.cas_alt):
            if cas and cas in cas_line:
                check.fail("cas", f"{cas} is also on line {cas_line[cas]}", line)
            cas_line.setdefault(cas, line)
        if not chemical.seq:
            continue
        if chemical.seq in first_line:
            where = first_line[chemical.seq]
            check.fail("seq", f"duplicate seq {chemical.seq} (first on line {where})", line)
            continue
        first_line[chemical.seq] = line
        if chemical.seq > 1 and chemical.seq - 1 not in seqs:
            check.fail("seq", f"seq {chemical.seq}: {chemical.seq - 1} is missing", line)
    if seqs and 1 not in seqs:
        check.fail("seq", "sequence numbers must start at 1", min(first_line.values()))
    with_forms = {form.chemical_seq for _, form in forms}
    for seq, line in first_line.items():
        if seq not in with_forms:
            check.fail("seq", f"chemical {seq} has no form in {names[1]}", line)
    check.file = names[1]
    form_line: dict[str, int] = {}
    for line, form in forms:
        if form.form_id and form.form_id in form_line:
            where = form_line[form.form_id]
            check.fail("form_id", f"duplicate form_id {form.form_id} (first on line {where})", line)
        form_line.setdefault(form.form_id, line)
        if form.chemical_seq and form.chemical_seq not in seqs:
            check.fail("chemical_seq", f"no chemical {form.chemical_seq} in {names[0]}", line)


def load_catalog(
    version: str,
    effective_from: date,
    chemicals_csv: str,
    forms_csv: str,
    *,
    chemicals_name: str = CHEMICALS_FILE,
    forms_name: str = FORMS_FILE,
) -> Catalog:
    """Parse and validate one catalog version from the text of its two CSV files.

    ``chemicals_name`` and ``forms_name`` only label the messages.

    Raises:
        CatalogError: anything is invalid; ``problems`` lists every failure found.
    """
    check = _Check()
    if VERSION_PATTERN.fullmatch(version) is None:
        message = f"{version!r} is not 1-32 of [0-9A-Za-z._-], like 2026-draft.1"
        check.problems.append(CatalogProblem(META_FILE, None, "version", message))
    chemicals: list[tuple[int, Chemical]] = []
    for row in _read_table(chemicals_csv, chemicals_name, CHEMICAL_COLUMNS, check):
        check.row = row
        chemicals.append((row.line, _parse_chemical(check)))
    forms: list[tuple[int, ChemicalForm]] = []
    for row in _read_table(forms_csv, forms_name, FORM_COLUMNS, check, MEASURE_COLUMNS):
        check.row = row
        forms.append((row.line, _parse_form(check)))
    _cross_check(check, chemicals, forms, (chemicals_name, forms_name))
    if check.problems:
        order = {META_FILE: 0, chemicals_name: 1, forms_name: 2}
        problems = sorted(check.problems, key=lambda p: (order.get(p.file, 3), p.line or 0))
        raise CatalogError.from_problems(problems)
    return Catalog(
        version=version,
        effective_from=effective_from,
        chemicals=tuple(chemical for _, chemical in chemicals),
        forms=tuple(form for _, form in forms),
    )
