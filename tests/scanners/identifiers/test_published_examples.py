"""Examples published in GS1 standards, read the ways scanners deliver them.

Sources: GS1 General Specifications (example GTIN 09506000134352, EAN-13
5901234123457, SSCC 106141412345678908, GRAI 03870585000552987, the GMN check
pair example), the GS1 DataMatrix Guideline (``(01)09501101020917(17)190508
(10)ABCD1234(21)10``), the GS1 Digital Link standard (URIs with id.gs1.org and
query attributes) and the EPC Tag Data Standard (SGTIN-96
``3074257BF7194E4000001A85``).
"""

from __future__ import annotations

import pytest

from scanners.identifiers import ScanError, parse_scan, to_digital_link
from scanners.identifiers.values import check_character_pair

GS = "\x1d"
DATAMATRIX_GUIDELINE = "(01)09501101020917(17)190508(10)ABCD1234(21)10"


@pytest.mark.parametrize(
    "read",
    [
        "]d201095011010209171719050810ABCD1234" + GS + "2110",
        "]C101095011010209171719050810ABCD1234" + GS + "2110",
        "]Q301095011010209171719050810ABCD1234" + GS + "2110",
        "]d2" + DATAMATRIX_GUIDELINE,  # zxing-cpp's default text is the bracketed form
        DATAMATRIX_GUIDELINE,
        "https://id.gs1.org/01/09501101020917/10/ABCD1234/21/10?17=190508",
    ],
)
def test_the_datamatrix_guideline_example_reads_the_same_every_way(read: str) -> None:
    result = parse_scan(read)
    assert result.ais == {"01": "09501101020917", "17": "190508", "10": "ABCD1234", "21": "10"}
    assert result.gs1_key == "(01)09501101020917(21)10"
    assert result.digital_link == (
        "https://id.gs1.org/01/09501101020917/10/ABCD1234/21/10?17=190508"
    )
    assert {element.ai: element.title for element in result.elements} == {
        "01": "GTIN",
        "17": "USE BY or EXPIRY",
        "10": "BATCH/LOT",
        "21": "SERIAL",
    }


def test_the_general_specifications_example_gtin() -> None:
    result = parse_scan("]C10109506000134352" + "21ABC123")
    assert result.kind == "gs1_element_string"
    assert result.symbology == "]C1"
    assert result.elements[0] == ("01", "GTIN", "09506000134352")
    assert result.gs1_key == "(01)09506000134352(21)ABC123"


def test_an_ean13_gives_its_gtin_but_no_item_key() -> None:
    result = parse_scan("]E05901234123457")
    assert result.ais == {"01": "05901234123457"}
    assert result.gs1_key is None  # a GTIN alone names a product, not one item
    with pytest.raises(ScanError) as caught:
        parse_scan("]E05901234123458")
    assert caught.value.code == "bad_check_digit"


@pytest.mark.parametrize(
    ("read", "key"),
    [
        ("(00)106141412345678908", "(00)106141412345678908"),
        ("]C100106141412345678908", "(00)106141412345678908"),
        ("(8003)03870585000552987", "(8003)03870585000552987"),
        ("https://id.gs1.org/8003/03870585000552987", "(8003)03870585000552987"),
        ("(8003)03870585000552", None),  # a GRAI without its serial names an asset type
        ("(01)09506000134352(10)LOT7", None),  # a batch is not one item
    ],
)
def test_keys_map_to_the_registry_form(read: str, key: str | None) -> None:
    assert parse_scan(read).gs1_key == key


def test_the_tag_data_standard_sgtin_example() -> None:
    result = parse_scan("3074257BF7194E4000001A85")
    assert result.kind == "epc"
    assert result.epc is not None
    assert result.epc.uri == "urn:epc:id:sgtin:0614141.812345.6789"
    assert result.epc.tag_uri == "urn:epc:tag:sgtin-96:3.0614141.812345.6789"
    assert result.epc.filter_value == 3
    assert result.ais == {"01": "80614141123458", "21": "6789"}
    assert result.gs1_key == "(01)80614141123458(21)6789"


def test_the_tag_data_standard_sscc_example_by_pure_identity() -> None:
    result = parse_scan("urn:epc:id:sscc:0614141.1234567890")
    assert result.epc is not None and result.epc.tag_uri is None
    assert result.gs1_key == "(00)106141412345678908"


def test_the_gmn_check_pair_example() -> None:
    assert check_character_pair("1987654Ad4X4bL5ttr2310c") == "2K"
    assert parse_scan("(8013)1987654Ad4X4bL5ttr2310c2K").ais["8013"].endswith("2K")
    with pytest.raises(ScanError) as caught:
        parse_scan("(8013)1987654Ad4X4bL5ttr2310c2X")
    assert caught.value.code == "bad_check_digit"


@pytest.mark.parametrize(
    ("uri", "ais"),
    [
        ("https://id.gs1.org/01/09506000134352", {"01": "09506000134352"}),
        (
            "https://example.com/01/09506000134352/21/ABC123?17=261231",
            {"01": "09506000134352", "21": "ABC123", "17": "261231"},
        ),
        (
            "https://id.gs1.org/00/106141412345678908?02=00614141123452&37=25&10=ABC123",
            {"00": "106141412345678908", "02": "00614141123452", "37": "25", "10": "ABC123"},
        ),
        (
            "HTTPS://ID.GS1.ORG/01/09506000134352/21/ABC123",
            {"01": "09506000134352", "21": "ABC123"},
        ),
    ],
)
def test_digital_link_standard_examples(uri: str, ais: dict[str, str]) -> None:
    result = parse_scan(uri)
    assert result.kind == "gs1_digital_link"
    assert result.ais == ais


def test_expiry_day_00_is_the_months_last_day() -> None:
    result = parse_scan("(01)09506000134352(17)260200")
    elements = result.to_json()["elements"]
    assert elements[1]["date"] == "2026-02-28"  # type: ignore[index]
    with pytest.raises(ScanError) as caught:
        parse_scan("(01)09506000134352(17)260230")
    assert caught.value.code == "bad_date"
    assert "260230" in caught.value.message


def test_to_digital_link_takes_elements_or_text() -> None:
    expected = "https://id.gs1.org/01/09506000134352/21/A%2FB"
    assert to_digital_link("(01)09506000134352(21)A/B") == expected
    assert to_digital_link([("21", "A/B"), ("01", "09506000134352")]) == expected
    assert (
        to_digital_link(parse_scan("(01)09506000134352(21)A/B").elements, stem="https://x.cn/")
        == "https://x.cn/01/09506000134352/21/A%2FB"
    )
