"""The key-chemicals catalog: shipped data, field validation, CAS check digits, versions.

Invalid files are made by editing the shipped CSV text one cell at a time, and
each must fail naming the file, the 1-based line and the column at fault.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.catalog import (
    CATEGORY_TOKENS,
    CHEMICAL_COLUMNS,
    FORM_COLUMNS,
    Catalog,
    CatalogError,
    CatalogRegistry,
    CatalogVersionNotInForceError,
    UnknownCatalogVersionError,
    UnknownChemicalError,
    cas_check_digit,
    is_valid_cas,
    load_catalog,
    parse_meta,
)
from ledger.errors import AppendRejectedError, InvalidInputError
from tests.conftest import require_shared

SHIPPED = Path(__file__).resolve().parents[2] / "catalogs" / "2026-draft.1"
CHEM_FILE = "key-chemicals.csv"
FORM_FILE = "chemical-forms.csv"
V1 = "2026-draft.1"
V1_FROM = date(2026, 1, 1)


def _text(folder: Path, name: str) -> str:
    return (folder / name).read_bytes().decode("utf-8")  # keeps the CRLF line ends


CHEMICALS = _text(SHIPPED, CHEM_FILE)
FORMS = _text(SHIPPED, FORM_FILE)


def _load(chemicals: str = CHEMICALS, forms: str = FORMS, version: str = V1) -> Catalog:
    return load_catalog(version, V1_FROM, chemicals, forms)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return _load()


# --- the shipped catalog ------------------------------------------------------------


def test_meta_json_names_the_folder_version() -> None:
    assert parse_meta(_text(SHIPPED, "meta.json")) == (V1, V1_FROM)
    assert SHIPPED.name == V1


def test_shipped_catalog_loads(catalog: Catalog) -> None:
    assert catalog.version == V1 and catalog.effective_from == V1_FROM
    assert [c.seq for c in catalog.chemicals] == list(range(1, 36))
    assert len(catalog.forms) == 49
    for chemical in catalog.chemicals:
        assert catalog.forms_of(chemical.seq), chemical.seq
        assert is_valid_cas(chemical.cas)
        assert chemical.categories <= CATEGORY_TOKENS
    for form in catalog.forms:
        assert form.form_id.split(".")[0] == str(form.chemical_seq)
        assert len(form.un_number) == 4


def test_shipped_known_facts(catalog: Catalog) -> None:
    chlorine, form = catalog.resolve("1.1")
    assert chlorine.name_en == "Chlorine" and chlorine.cas == "7782-50-5"
    assert form is not None and form.un_number == "1017" and form.un == "UN1017"
    assert form.transport_class == "2.3" and form.subsidiary_risks == ("5.1", "8")
    assert form.major_hazard_threshold_t == Decimal("5") and form.packing_group is None
    assert catalog.has_category(1, "toxic_gas") and not catalog.is_highly_toxic(1)
    assert catalog.is_highly_toxic(25) and catalog.is_highly_toxic(24)  # NaCN, PH3
    assert catalog.has_category(30, "drug_precursor_cat3")
    assert catalog.has_category(30, "explosive_precursor")  # KMnO4 is both
    assert catalog.chemical(3).density_kg_per_l == Decimal("0.74")
    assert catalog.chemical(3).cas_alt == ("86290-81-5",)
    assert catalog.form("28.2").transport_class == "1.1D" and catalog.form("28.2").un == "UN0222"
    assert [f.form_id for f in catalog.forms_of(26)] == ["26.1", "26.2", "26.3"]


def test_provenance_rows_1_to_12_are_beijing_2013_and_13_to_35_proposed(
    catalog: Catalog,
) -> None:
    assert {catalog.provenance(seq) for seq in range(1, 13)} == {"beijing_2013"}
    assert {catalog.provenance(seq) for seq in range(13, 36)} == {"proposed"}


def test_unverified_fields_cover_categories_and_thresholds(catalog: Catalog) -> None:
    assert catalog.unverified_fields(1) == ()
    assert catalog.unverified_fields("1.1") == ()
    assert catalog.unverified_fields(26) == ("categories:explosive_precursor",)
    assert catalog.unverified_fields("26.3") == (
        "categories:explosive_precursor",
        "major_hazard_threshold_t",
    )
    assert catalog.unverified_fields(24) == (
        "categories:highly_toxic",
        "categories:key_supervised_national",
    )
    assert not catalog.form("26.2").in_major_hazard_scope


def test_to_json_shows_provenance_and_unverified_markers(catalog: Catalog) -> None:
    data = catalog.to_json()
    assert json.loads(json.dumps(data)) == data  # JSON-ready: no Decimal, no float, no set
    assert data["version"] == V1 and data["effective_from"] == "2026-01-01"
    chemicals = data["chemicals"]
    assert isinstance(chemicals, list) and len(chemicals) == 35
    nitric = chemicals[25]
    assert isinstance(nitric, dict)
    assert nitric["provenance"] == "proposed" and nitric["density_kg_per_l"] == "1.41"
    assert nitric["categories_unverified"] == ["explosive_precursor"]
    assert nitric["unverified"] == ["categories:explosive_precursor"]
    forms = nitric["forms"]
    assert isinstance(forms, list)
    assert [f["form_id"] for f in forms] == ["26.1", "26.2", "26.3"]
    assert forms[2] == {
        "form_id": "26.3",
        "chemical_seq": 26,
        "form": "red fuming",
        "un_number": "2032",
        "transport_class": "8",
        "subsidiary_risks": ["5.1", "6.1"],
        "packing_group": "I",
        "major_hazard_threshold_t": "20",
        "threshold_basis": "table1_unverified",
        "threshold_verified": "no",
        "unverified": ["major_hazard_threshold_t"],
    }


@pytest.mark.parametrize(
    ("code", "seq", "form_id"), [("26", 26, None), ("26.3", 26, "26.3"), ("1", 1, None)]
)
def test_resolve_accepts_commission_codes(
    catalog: Catalog, code: str, seq: int, form_id: str | None
) -> None:
    chemical, form = catalog.resolve(code)
    assert chemical.seq == seq
    assert (form.form_id if form else None) == form_id


@pytest.mark.parametrize("code", ["36", "0", "026", "26.03", "26.9", "26.", ".3", "x", "1.1.1"])
def test_resolve_rejects_unknown_or_non_canonical_codes(catalog: Catalog, code: str) -> None:
    with pytest.raises(UnknownChemicalError) as info:
        catalog.resolve(code)
    assert info.value.code == "unknown_chemical" and isinstance(info.value, AppendRejectedError)
    assert V1 in str(info.value)


def test_lookups_reject_unknown_keys_and_tokens(catalog: Catalog) -> None:
    with pytest.raises(UnknownChemicalError):
        catalog.chemical(36)
    with pytest.raises(UnknownChemicalError):
        catalog.forms_of(0)
    with pytest.raises(UnknownChemicalError):
        catalog.form("1.2")
    with pytest.raises(CatalogError, match="unknown category token"):
        catalog.has_category(1, "toxic_gass")


def test_shared_reference_loads_identically(catalog: Catalog) -> None:
    reference = require_shared("reference")
    shared = load_catalog(V1, V1_FROM, _text(reference, CHEM_FILE), _text(reference, FORM_FILE))
    assert shared == catalog
    assert shared.to_json() == catalog.to_json()


def test_lf_line_endings_and_bom_load_the_same(catalog: Catalog) -> None:
    chemicals = "\ufeff" + CHEMICALS.replace("\r\n", "\n")
    assert _load(chemicals, FORMS.replace("\r\n", "\n").rstrip("\n")) == catalog


# --- CAS check digits -----------------------------------------------------------------


@st.composite
def valid_cas(draw: st.DrawFn) -> str:
    first = draw(st.from_regex(r"[1-9][0-9]{1,6}", fullmatch=True))
    middle = draw(st.from_regex(r"[0-9]{2}", fullmatch=True))
    return f"{first}-{middle}-{cas_check_digit(first + middle)}"


@settings(max_examples=300, deadline=None)
@given(cas=valid_cas(), data=st.data())
def test_cas_single_digit_change_is_rejected_unless_weight_times_delta_is_0_mod_10(
    cas: str, data: st.DataObject
) -> None:
    """The CAS check digit catches every single-digit change except weight·Δ ≡ 0 (mod 10).

    With weights 1..9 that blind spot is real: an even weight with Δ = 5, or weight 5
    with an even Δ (7782-50-5 -> 7782-00-5 passes). Changing the check digit itself
    is always caught.
    """
    assert is_valid_cas(cas)
    assume(f",{cas}," not in CHEMICALS and f";{cas}," not in CHEMICALS)
    positions = [i for i, ch in enumerate(cas) if ch.isdigit()]
    index = data.draw(st.sampled_from(positions))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != cas[index]]))
    changed = cas[:index] + new + cas[index + 1 :]
    digits_after = sum(ch.isdigit() for ch in cas[index + 1 :])  # weight = digits_after
    delta = int(new) - int(cas[index])
    blind = digits_after > 0 and (digits_after * delta) % 10 == 0
    if index == 0 and new == "0":
        blind = False  # a leading zero is a format error
    assert is_valid_cas(changed) == blind
    if not blind:
        edited = CHEMICALS.replace(",7782-50-5,", f",{cas},", 1)
        _load(edited)  # the valid number loads ...
        with pytest.raises(CatalogError) as info:
            _load(CHEMICALS.replace(",7782-50-5,", f",{changed},", 1))
        problem = info.value.problems[0]  # ... the changed one fails on its cell
        assert (problem.file, problem.line, problem.column) == (CHEM_FILE, 2, "cas")


def test_cas_blind_spot_example_and_check_digit_change() -> None:
    assert is_valid_cas("7782-50-5") and is_valid_cas("7782-00-5")  # weight 2, Δ = -5
    assert not any(is_valid_cas(f"7782-50-{d}") for d in "012346789")


@pytest.mark.parametrize(
    "text", ["7782505", "7782-50-05", "07782-50-5", "1-23-4", "12345678-90-1", "７７８２-50-5"]
)
def test_cas_format(text: str) -> None:
    assert not is_valid_cas(text)


# --- invalid files: each names the file, line and column ---------------------------------


def _replace_line(text: str, line: int, old: str, new: str) -> str:
    lines = text.split("\r\n")
    assert old in lines[line - 1], (line, old)
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return "\r\n".join(lines)


def _drop_lines(text: str, prefix: str) -> str:
    return "\r\n".join(x for x in text.split("\r\n") if not x.startswith(prefix))


def _edit_column(text: str, column: str | None, add: str | None) -> str:
    """Drop ``column``, or append an empty column named ``add``, keeping CSV quoting."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for i, row in enumerate(rows):
        if add is not None:
            writer.writerow([*row, add if i == 0 else ""])
        else:
            index = rows[0].index(str(column))
            writer.writerow(row[:index] + row[index + 1 :])
    return out.getvalue()


@dataclass(frozen=True)
class Bad:
    name: str
    chemicals: Callable[[str], str]
    forms: Callable[[str], str]
    file: str
    line: int
    column: str
    fragment: str


def _same(text: str) -> str:
    return text


BAD = [
    Bad("bad CAS check digit", lambda t: _replace_line(t, 2, "7782-50-5", "7782-50-6"), _same,
        CHEM_FILE, 2, "cas", "check digit should be 5"),
    Bad("bad alt CAS", lambda t: _replace_line(t, 4, "86290-81-5", "86290-81-4"), _same,
        CHEM_FILE, 4, "cas_alt", "check digit"),
    Bad("malformed UN", _same, lambda t: _replace_line(t, 2, ",1017,", ",UN1017,"),
        FORM_FILE, 2, "un_number", "4 digits"),
    Bad("UN out of range", _same, lambda t: _replace_line(t, 2, ",1017,", ",9017,"),
        FORM_FILE, 2, "un_number", "outside"),
    Bad("unknown category", lambda t: _replace_line(t, 2, "toxic_gas", "toxic_gass"), _same,
        CHEM_FILE, 2, "categories", "unknown category token"),
    Bad("unverified not subset", lambda t: _replace_line(t, 19, ",key_supervised_national,proposed", ",key_supervised_national;toxic,proposed"), _same,
        CHEM_FILE, 19, "categories_unverified", "'toxic' is not in categories"),
    Bad("unknown provenance", lambda t: _replace_line(t, 2, ",beijing_2013,", ",beijing,"), _same,
        CHEM_FILE, 2, "provenance", "not one of"),
    Bad("negative threshold", _same, lambda t: _replace_line(t, 2, ",,5,table1", ",,-5,table1"),
        FORM_FILE, 2, "major_hazard_threshold_t", "must be positive"),
    Bad("zero threshold", _same, lambda t: _replace_line(t, 2, ",,5,table1", ",,0,table1"),
        FORM_FILE, 2, "major_hazard_threshold_t", "must be positive"),
    Bad("float-like threshold", _same, lambda t: _replace_line(t, 2, ",,5,table1", ",,1e3,table1"),
        FORM_FILE, 2, "major_hazard_threshold_t", "exponent"),
    Bad("density in kg/m3", lambda t: _replace_line(t, 4, ",0.74,", ",740,"), _same,
        CHEM_FILE, 4, "density_kg_per_l", "kg/m³"),
    Bad("bad packing group", _same, lambda t: _replace_line(t, 4, ",II,200,", ",IV,200,"),
        FORM_FILE, 4, "packing_group", "not I, II, III"),
    Bad("packing group on a gas", _same, lambda t: _replace_line(t, 2, "5.1;8,,5", "5.1;8,I,5"),
        FORM_FILE, 2, "packing_group", "class 2.3 has no packing group"),
    Bad("bad transport class", _same, lambda t: _replace_line(t, 2, ",2.3,", ",2.4,"),
        FORM_FILE, 2, "transport_class", "not like"),
    Bad("bad subsidiary risk", _same, lambda t: _replace_line(t, 2, "5.1;8", "5.1;10"),
        FORM_FILE, 2, "subsidiary_risks", "'10'"),
    Bad("form id of another chemical", _same, lambda t: _replace_line(t, 6, "4,4.2,", "4,5.2,"),
        FORM_FILE, 6, "form_id", "must start with its chemical_seq 4"),
    Bad("unknown threshold_verified", _same, lambda t: _replace_line(t, 2, ",transcription", ",yes"),
        FORM_FILE, 2, "threshold_verified", "not one of"),
    Bad("verified but unverified basis", _same, lambda t: _replace_line(t, 2, "table1,transcription", "table1_unverified,transcription"),
        FORM_FILE, 2, "threshold_verified", "must be 'no'"),
    Bad("missing column", lambda t: _edit_column(t, "cas_alt", None), _same,
        CHEM_FILE, 1, "cas_alt", "missing column"),
    Bad("extra column", lambda t: _edit_column(t, None, "notes"), _same,
        CHEM_FILE, 1, "notes", "unexpected column"),
    Bad("extra form column", _same, lambda t: _edit_column(t, None, "remarks"),
        FORM_FILE, 1, "remarks", "unexpected column"),
    Bad("duplicate seq", lambda t: _replace_line(t, 4, "3,", "2,"), _same,
        CHEM_FILE, 4, "seq", "duplicate seq 2 (first on line 3)"),
    Bad("duplicate form_id", _same, lambda t: _replace_line(t, 6, "4,4.2,", "4,4.1,"),
        FORM_FILE, 6, "form_id", "duplicate form_id 4.1 (first on line 5)"),
    Bad("orphan form", _same, lambda t: t + "36,36.1,liquid,1230,3,,II,,unverified,no\r\n",
        FORM_FILE, 51, "chemical_seq", "no chemical 36"),
    Bad("chemical without forms", _same, lambda t: _drop_lines(t, "5,5.1,"),
        CHEM_FILE, 6, "seq", "chemical 5 has no form"),
    Bad("non-contiguous seq", lambda t: _replace_line(t, 36, "35,", "36,"),
        lambda t: _replace_line(t, 50, "35,35.1,", "36,36.1,"),
        CHEM_FILE, 36, "seq", "seq 36: 35 is missing"),
    Bad("seq with leading zero", lambda t: _replace_line(t, 2, "1,", "01,"), _same,
        CHEM_FILE, 2, "seq", "without leading zeros"),
    Bad("short row", lambda t: _replace_line(t, 2, ",Chlorine,", ","), _same,
        CHEM_FILE, 2, "source", "the row has 11 cells, the header 12"),
    Bad("required cell empty", lambda t: _replace_line(t, 2, "beijing_2013", ""), _same,
        CHEM_FILE, 2, "provenance", "required"),
    Bad("whitespace in a cell", _same, lambda t: _replace_line(t, 2, ",1017,", ", 1017,"),
        FORM_FILE, 2, "un_number", "whitespace"),
    Bad("unterminated quote", lambda t: _replace_line(t, 36, ",Diethyl ether,", ',"Diethyl ether,'), _same,
        CHEM_FILE, 36, "", "malformed CSV"),
]  # fmt: skip


@pytest.mark.parametrize("bad", BAD, ids=lambda b: b.name)
def test_invalid_file_names_the_row_and_column(bad: Bad) -> None:
    with pytest.raises(CatalogError) as info:
        _load(bad.chemicals(CHEMICALS), bad.forms(FORMS))
    error = info.value
    assert error.code == "invalid_catalog" and isinstance(error, InvalidInputError)
    first = error.problems[0]
    assert (first.file, first.line, first.column or "") == (bad.file, bad.line, bad.column)
    assert bad.fragment in first.message
    where = f"{bad.file} line {bad.line}" + (f", column {bad.column}" if bad.column else "")
    assert str(error).startswith(where), str(error)
    assert error.context["errors"] == [str(p) for p in error.problems]
    assert error.context["file"] == bad.file and error.context["line"] == bad.line


def test_all_errors_are_collected_in_file_and_line_order() -> None:
    chemicals = _replace_line(CHEMICALS, 11, "drug_precursor_cat3", "drug_precursor_cat9")
    chemicals = _replace_line(chemicals, 2, "7782-50-5", "7782-50-6")
    forms = _replace_line(FORMS, 3, ",1005,", ",15,")
    with pytest.raises(CatalogError) as info:
        _load(chemicals, forms)
    where = [(p.file, p.line, p.column) for p in info.value.problems]
    assert where == [
        (CHEM_FILE, 2, "cas"),
        (CHEM_FILE, 11, "categories"),
        (FORM_FILE, 3, "un_number"),
    ]
    assert str(info.value).endswith("(and 2 more)")
    assert "errors=[" in info.value.diagnostics()


def test_empty_files_and_bad_version() -> None:
    with pytest.raises(CatalogError) as info:
        load_catalog("bad version!", V1_FROM, "", "")
    where = [(p.file, p.line, p.column) for p in info.value.problems]
    assert where == [("meta.json", None, "version"), (CHEM_FILE, 1, None), (FORM_FILE, 1, None)]


def test_columns_may_come_in_any_order(catalog: Catalog) -> None:
    swapped = "\r\n".join(
        ",".join([cells[1], cells[0], *cells[2:]])
        for cells in (line.split(",") for line in FORMS.rstrip("\r\n").split("\r\n"))
    )
    assert _load(forms=swapped) == catalog
    assert CHEMICAL_COLUMNS[0] == "seq" and FORM_COLUMNS[1] == "form_id"


# --- meta.json ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("[]", None),
        ("{", None),
        ('{"version": "v1"}', "effective_from"),
        ('{"effective_from": "2026-01-01"}', "version"),
        ('{"version": "v 1", "effective_from": "2026-01-01"}', "version"),
        ('{"version": "v1", "effective_from": "20260101"}', "effective_from"),
        ('{"version": "v1", "effective_from": "2026-02-30"}', "effective_from"),
        ('{"version": "v1", "effective_from": "2026-01-01", "extra": 1}', "extra"),
        ('{"version": "v1", "effective_from": "2026-01-01", "description": 1}', "description"),
        ('{"version": "v1", "version": "v2", "effective_from": "2026-01-01"}', "version"),
    ],
)
def test_parse_meta_rejects(text: str, column: str | None) -> None:
    with pytest.raises(CatalogError) as info:
        parse_meta(text)
    assert info.value.problems[0].column == column
    assert str(info.value).startswith("meta.json")


# --- versions -------------------------------------------------------------------------

V2 = "2027.1"
V2_FROM = date(2027, 1, 1)
NEW_CHEMICAL = (
    "36,乙醇,Ethanol,64-17-5,,flammable_liquid;school_lab,,official,Flam. Liq. 2,"
    "drums; lab bottles,0.789,official list\r\n"
)


def _v2() -> Catalog:
    """The next version: chlorine's threshold changed, and a 36th chemical."""
    chemicals = _replace_line(CHEMICALS, 2, ",beijing_2013,", ",official,") + NEW_CHEMICAL
    forms = _replace_line(FORMS, 2, ",,5,table1,transcription", ",,4,table1,standard_text")
    forms += "36,36.1,liquid,1170,3,,II,500,table1,standard_text\r\n"
    return load_catalog(V2, V2_FROM, chemicals, forms)


def test_registry_picks_the_version_in_force(catalog: Catalog) -> None:
    v2 = _v2()
    registry = CatalogRegistry([v2, catalog])  # any order on construction
    assert registry.versions == (V1, V2) and len(registry) == 2 and list(registry) == [catalog, v2]
    assert registry.current(date(2026, 1, 1)) is catalog
    assert registry.current(date(2026, 12, 31)) is catalog
    assert registry.current(date(2027, 1, 1)) is v2
    with pytest.raises(UnknownCatalogVersionError, match="no catalog version is in force"):
        registry.current(date(2025, 12, 31))


def test_upgrade_keeps_every_event_on_its_recorded_version(catalog: Catalog) -> None:
    registry = CatalogRegistry([catalog])
    upgraded = registry.with_catalog(_v2())
    assert registry.versions == (V1,)  # registries are immutable
    old, new = upgraded.check_event_version(V1), upgraded.check_event_version(V2)
    assert old is catalog
    assert old.form("1.1").major_hazard_threshold_t == Decimal("5")
    assert new.form("1.1").major_hazard_threshold_t == Decimal("4")
    assert old.provenance(1) == "beijing_2013" and new.provenance(1) == "official"
    assert new.resolve("36.1")[0].name_en == "Ethanol"
    with pytest.raises(UnknownChemicalError):
        old.resolve("36")  # an event recorded under v1 cannot name the v2 chemical
    assert len(old.chemicals) == 35 and len(new.chemicals) == 36
    assert upgraded.check_event_version(V1, at=date(2027, 6, 1)) is catalog  # superseded is ok
    with pytest.raises(CatalogVersionNotInForceError) as info:
        upgraded.check_event_version(V2, at=date(2026, 6, 1))
    assert info.value.code == "catalog_version_not_in_force"


def test_unknown_event_version(catalog: Catalog) -> None:
    registry = CatalogRegistry([catalog])
    with pytest.raises(UnknownCatalogVersionError) as info:
        registry.check_event_version("2026.1")
    assert info.value.code == "unknown_catalog_version"
    assert info.value.context["known"] == [V1]
    with pytest.raises(UnknownCatalogVersionError):
        registry.get("2026.1")


def test_registry_rejects_duplicate_and_unordered_versions(catalog: Catalog) -> None:
    registry = CatalogRegistry([catalog])
    with pytest.raises(CatalogError, match="already registered"):
        registry.with_catalog(_load(version=V1))
    same_day = load_catalog("2026-draft.2", V1_FROM, CHEMICALS, FORMS)
    with pytest.raises(CatalogError, match=r"not after version 2026-draft\.1"):
        registry.with_catalog(same_day)
    earlier = load_catalog("2025.9", date(2025, 9, 1), CHEMICALS, FORMS)
    with pytest.raises(CatalogError, match="not after"):
        registry.with_catalog(earlier)
    with pytest.raises(CatalogError, match="not after"):
        CatalogRegistry([catalog, same_day])
    with pytest.raises(CatalogError, match="already registered"):
        CatalogRegistry([catalog, _load()])


def test_catalog_constructor_rechecks_structure(catalog: Catalog) -> None:
    with pytest.raises(CatalogError):
        Catalog("v 1", V1_FROM, catalog.chemicals, catalog.forms)
    with pytest.raises(CatalogError, match="at least one form"):
        Catalog("v1", V1_FROM, catalog.chemicals, catalog.forms[1:])
    with pytest.raises(CatalogError, match="unknown chemical"):
        Catalog("v1", V1_FROM, catalog.chemicals[1:], catalog.forms)
    with pytest.raises(CatalogError, match="duplicate"):
        Catalog("v1", V1_FROM, catalog.chemicals + catalog.chemicals[:1], catalog.forms)
