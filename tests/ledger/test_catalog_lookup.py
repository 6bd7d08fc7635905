"""The chemical lookup: ids, CAS and UN numbers and names in both languages, over the
shipped catalog versions; an unknown text and an ambiguous one are errors, never ``()``."""

from __future__ import annotations

import pytest

from ledger.catalog.lookup import (
    AmbiguousChemicalError,
    ChemicalLookup,
    UnknownChemicalQueryError,
    aliases,
    fold,
)
from ledger.store.catalog_files import load_registry

LOOKUP = ChemicalLookup(load_registry())


@pytest.mark.parametrize(
    ("text", "seq"),
    [
        ("26", 26),  # an id
        ("26.3", 26),  # a form's id
        ("7697-37-2", 26),  # the CAS number
        (" 7697-37-2 ", 26),
        ("86290-81-5", 3),  # an alternative CAS number
        ("UN2032", 26),  # a form's UN number
        ("un 2032", 26),
        ("2032", 26),
        ("0222", 28),  # a UN number with a leading zero
        ("硝酸", 26),  # the Chinese name: whole, it beats the part of 硝酸铵
        ("Nitric acid", 26),
        ("NITRIC ACID", 26),
        ("氯", 1),  # a one-character name matches whole only
        ("液氯", 1),  # an alias the name lists: 氯(液氯、氯气)
        ("氯气", 1),
        ("（液氯）", None),  # full-width brackets are not part of a name
        ("甲醇汽油", 3),  # 汽油(含甲醇汽油、乙醇汽油): "含" (including) is dropped
        ("汽油", 3),
        ("methane", 14),  # Natural gas / methane (…)
        ("CNG", 14),
        ("1,3-丁二烯", 19),  # a name with a comma in it
        ("硝酸铵", 28),
    ],
)
def test_every_spelling_finds_its_chemical(text: str, seq: int | None) -> None:
    if seq is None:
        with pytest.raises(UnknownChemicalQueryError):
            LOOKUP.resolve(text)
    else:
        assert LOOKUP.resolve(text) == seq


@pytest.mark.parametrize("text", ["", "  ", "99", "26.9", "0", "026", "1234-56-7", "UN9999",
                                  "xyz", "酸", "unobtainium"])  # fmt: skip
def test_a_text_that_names_nothing_is_an_error_naming_the_field(text: str) -> None:
    assert LOOKUP.find(text) == ()
    with pytest.raises(UnknownChemicalQueryError) as raised:
        LOOKUP.resolve(text, field="chemical")
    assert raised.value.context["field"] == "chemical"


def test_an_ambiguous_text_lists_its_candidates() -> None:
    with pytest.raises(AmbiguousChemicalError) as raised:
        LOOKUP.resolve("compressed")  # hydrogen, natural gas, oxygen, nitrogen, CO2, CO
    candidates = raised.value.candidates
    assert [c["chemical"] for c in candidates] == ["4", "14", "15", "16", "17", "22"]
    assert candidates[0] == {"chemical": "4", "name": "氢(氢气)",
                             "name_en": "Hydrogen, compressed", "cas": "1333-74-0",
                             "un": ["UN1049", "UN1966"]}  # fmt: skip


def test_a_part_of_a_name_finds_every_chemical_it_is_part_of() -> None:
    assert LOOKUP.find("氯酸") == (29,)  # 氯酸钾 alone
    assert LOOKUP.find("酸钾") == (29, 30)  # 氯酸钾 and 高锰酸钾: resolve() refuses it
    with pytest.raises(AmbiguousChemicalError):
        LOOKUP.resolve("酸钾")
    assert LOOKUP.find("乙烯") == (11,)  # a whole name beats being part of 氯乙烯, 苯乙烯
    assert LOOKUP.find("甲烷") == (14,)  # a whole alias (天然气/甲烷) beats 三氯甲烷
    assert LOOKUP.find("甲") == ()  # one character: whole names only


def test_codes_cover_the_chemical_and_each_form() -> None:
    assert LOOKUP.codes(26) == {"26", "26.1", "26.2", "26.3"}


def test_names_beside_a_code_give_the_forms_un_number() -> None:
    nitric = LOOKUP.names("26")
    assert nitric is not None and (nitric.name_cn, nitric.cas, nitric.un) == (
        "硝酸", "7697-37-2", None,  # three forms, three UN numbers: none is "the" one
    )  # fmt: skip
    red = LOOKUP.names("26.3")
    assert red is not None and red.un == "UN2032"
    chlorine = LOOKUP.names("1")
    assert chlorine is not None and chlorine.un == "UN1017"  # its only form
    assert LOOKUP.names("99") is None and LOOKUP.names(None) is None and LOOKUP.names("x") is None


def test_folding_makes_full_width_and_case_equal() -> None:
    assert fold("ＮＩＴＲＩＣ  Acid") == "nitric acid"
    chlorine = LOOKUP.chemical(1)
    assert chlorine is not None and {"氯", "液氯", "氯气", "chlorine"} <= aliases(chlorine)
