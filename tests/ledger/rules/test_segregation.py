"""The segregation matrix file and the GHS classes it is judged on."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from api.catalogs import DEFAULT_RULES, load_rules, rules_reader
from ledger.catalog import CatalogError, load_catalog
from ledger.catalog.ghs import GhsParseError, parse_ghs
from ledger.errors import InvalidInputError
from ledger.rules import parse_rules
from ledger.rules.segregation import SegregationMatrix
from ledger.rules.world import ChemicalFacts, Chemistry
from tests.ledger.rules.scenario import CATALOG, CATALOGS

RULES_DIR = DEFAULT_RULES.parent
SHIPPED = RULES_DIR / "segregation" / "gb15603-provisional.json"
CATALOG_DIR = RULES_DIR.parent / CATALOG


def _matrix() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(SHIPPED.read_text(encoding="utf-8"))
    return raw


def _config(matrix: dict[str, Any] | str) -> str:
    raw = json.loads(DEFAULT_RULES.read_text(encoding="utf-8"))
    raw["storage"]["segregation"] = matrix
    return json.dumps(raw)


def _cell(a: str, b: str, level: str = "segregated") -> dict[str, Any]:
    return {"between": [a, b], "level": level, "source": "a test cell"}


def _refused(matrix: dict[str, Any] | str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        parse_rules(_config(matrix), source="test.json", include=rules_reader())
    return caught.value


def _facts(code: str) -> ChemicalFacts:
    facts = Chemistry(CATALOGS).facts(CATALOG, code)
    assert facts is not None
    return facts


def _argon() -> ChemicalFacts:
    """Argon is not in the catalog: an inert compressed gas, GHS Press. Gas only."""
    nitrogen = _facts("16.1")
    return ChemicalFacts(
        code="argon", seq="argon", name="Argon", categories=nitrogen.categories,
        classes=frozenset({"2.2"}), transport_class="2.2", critical_t=None,
        measure=nitrogen.measure, ghs=parse_ghs("Press. gas (compressed)"),
    )  # fmt: skip


# -- GHS classes ---------------------------------------------------------------------------


def test_catalog_phrases_become_ghs_classes() -> None:
    assert parse_ghs("Press. gas; Ox. Gas 1; Acute Tox. inh.; Skin Irrit./Eye") == {
        "press_gas", "ox_gas", "acute_tox", "skin_irrit"}  # fmt: skip
    assert parse_ghs("Ox. Liq. 1-2 (conc.-dependent); Skin Corr. 1A / Eye Dam. 1") == {
        "ox_liq", "skin_corr", "eye_dam"}  # fmt: skip
    assert parse_ghs("Acute Tox. 1-2 (oral/dermal/inh.); EUH032") == {"acute_tox", "euh032"}
    assert parse_ghs("") == frozenset()


@pytest.mark.parametrize("text", ["Oxidising gas 1", "Press. gas; Flammable", "1 Flam. Gas"])
def test_a_phrase_naming_no_reviewed_class_is_refused(text: str) -> None:
    with pytest.raises(GhsParseError, match="unknown GHS hazard class"):
        parse_ghs(text)


def test_a_catalog_row_with_an_unknown_ghs_phrase_is_refused_at_load() -> None:
    chemicals = (CATALOG_DIR / "key-chemicals.csv").read_bytes().decode("utf-8")
    forms = (CATALOG_DIR / "chemical-forms.csv").read_bytes().decode("utf-8")
    bad = chemicals.replace("Press. gas; Ox. Gas 1;", "Press. gas; Oxidising Gas 1;", 1)
    assert bad != chemicals
    with pytest.raises(CatalogError) as info:
        load_catalog(CATALOG, CATALOGS.get(CATALOG).effective_from, bad, forms)
    problem = info.value.problems[0]
    assert (problem.line, problem.column) == (2, "ghs_hazards")


def test_chemical_facts_carry_the_ghs_classes_of_the_chemical() -> None:
    assert _facts("1.1").ghs >= {"ox_gas", "press_gas", "acute_tox"}
    assert _facts("2.1").ghs >= {"flam_gas", "press_gas", "acute_tox", "skin_corr"}
    assert _facts("16.1").ghs == {"press_gas"}


# -- the shipped matrix ----------------------------------------------------------------------


def test_the_shipped_config_selects_the_provisional_matrix_with_its_provenance() -> None:
    matrix = load_rules().storage.segregation
    assert matrix.name == "gb15603-provisional"
    assert matrix.provenance.status == "provisional"
    assert "GB 15603" in matrix.provenance.standard and "§2.8" in matrix.provenance.source
    assert all(cell.source for cell in matrix.cells)


def _between(matrix: SegregationMatrix, a: ChemicalFacts, b: ChemicalFacts) -> list[str]:
    return [level for _, _, level in matrix.between(matrix.groups_of(a), matrix.groups_of(b))]


def test_chlorine_and_ammonia_clash_and_nitrogen_and_argon_do_not() -> None:
    matrix = load_rules().storage.segregation
    chlorine, ammonia, nitrogen = _facts("1.1"), _facts("2.1"), _facts("16.1")
    assert _between(matrix, chlorine, ammonia) == ["segregated"]
    assert _between(matrix, ammonia, chlorine) == ["segregated"]
    assert _between(matrix, nitrogen, _argon()) == []
    assert _between(matrix, nitrogen, _facts("17.1")) == []  # carbon dioxide


@pytest.mark.parametrize(
    ("a", "b", "levels"),
    [
        ("15.1", "4.1", ["segregated"]),  # oxygen / hydrogen: oxidizer, flammable
        ("28.1", "33.1", ["segregated"]),  # ammonium nitrate / acetone
        ("31.1", "25.1", ["separate_room", "segregated"]),  # acid / cyanide, which is 剧毒
        ("24.1", "16.1", ["separate_room"]),  # phosphine (剧毒) / nitrogen
        ("24.1", "25.1", []),  # two 剧毒: no cell
        ("8.1", "21.1", []),  # ethylene oxide / hydrogen sulfide: flammable both
        ("26.1", "33.1", ["segregated"]),  # nitric acid is an oxidizer too
        ("31.1", "33.1", []),  # sulfuric acid / acetone
    ],
)
def test_each_pair_class_of_the_matrix(a: str, b: str, levels: list[str]) -> None:
    matrix = load_rules().storage.segregation
    assert _between(matrix, _facts(a), _facts(b)) == levels
    assert _between(matrix, _facts(b), _facts(a)) == levels


# -- reading a matrix ------------------------------------------------------------------------


def test_a_matrix_listing_a_pair_both_ways_with_one_level_is_symmetrised() -> None:
    matrix = _matrix()
    matrix["cells"].append({"between": ["flammable", "oxidizer"], "level": "segregated",
                            "source": "listed both ways"})  # fmt: skip
    parsed = parse_rules(_config(matrix), include=rules_reader()).storage.segregation
    assert parsed.level("flammable", "oxidizer") == parsed.level("oxidizer", "flammable")


def test_an_asymmetric_matrix_is_refused() -> None:
    matrix = _matrix()
    matrix["cells"].append({"between": ["flammable", "oxidizer"], "level": "keep_distance",
                            "source": "the other way round"})  # fmt: skip
    error = _refused(matrix)
    assert str(error.context["field"]).startswith("storage.segregation")
    assert "asymmetric" in error.message


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda m: m["cells"].append(_cell("oxidizer", "reducer")), "unknown groups"),
        (lambda m: m["cells"][0].update(level="apart"), "level"),
        (lambda m: m["cells"][0].update(between=["oxidizer"]), "between"),
        (lambda m: m["cells"][0].pop("source"), "source"),
        (lambda m: m["groups"].update(empty={}), "a group needs"),
        (lambda m: m["groups"]["acid"].update(classes=["8"]), "classes"),
        (lambda m: m["provenance"].update(status="maybe"), "status"),
        (lambda m: m.pop("provenance"), "provenance"),
    ],
)
def test_a_malformed_matrix_is_refused_by_name(change: Any, where: str) -> None:
    matrix = copy.deepcopy(_matrix())
    change(matrix)
    error = _refused(matrix)
    assert str(error.context["field"]).startswith("storage.segregation")
    assert where in error.message or where in str(error.context["field"])


@pytest.mark.parametrize(
    "name", ["../2026.1.json", "/etc/passwd.json", "segregation/missing.json", "matrix.txt"]
)
def test_a_matrix_path_outside_the_rules_folder_or_unreadable_is_refused(name: str) -> None:
    assert _refused(name).context["field"] == "storage.segregation"


def test_a_replacement_matrix_beside_the_config_is_used_without_a_code_change(
    tmp_path: Path,
) -> None:
    matrix = _matrix()
    matrix["name"] = "stricter"
    matrix["groups"]["inert_gas"] = {"ghs": ["press_gas"], "unless_categories": ["toxic_gas"]}
    matrix["cells"].append({"between": ["inert_gas", "oxidizer"], "level": "keep_distance",
                            "source": "a test replacement"})  # fmt: skip
    (tmp_path / "segregation").mkdir()
    (tmp_path / "segregation" / "stricter.json").write_text(json.dumps(matrix), "utf-8")
    config = tmp_path / "rules.json"
    config.write_text(_config("segregation/stricter.json"), "utf-8")
    replaced = load_rules(config).storage.segregation
    assert replaced.name == "stricter"
    assert _between(replaced, _facts("16.1"), _facts("15.1")) == ["keep_distance"]
    assert _between(load_rules().storage.segregation, _facts("16.1"), _facts("15.1")) == []


def test_a_config_naming_a_matrix_file_needs_a_reader() -> None:
    with pytest.raises(InvalidInputError, match="no file reader") as caught:
        parse_rules(DEFAULT_RULES.read_text(encoding="utf-8"))
    assert caught.value.context["field"] == "storage.segregation"
