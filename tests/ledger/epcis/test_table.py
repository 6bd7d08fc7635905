"""docs/epcis-mapping.md and ledger/epcis/table.py list the same rows, and the table is sound."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from ledger.epcis.table import SIGNATURES, UNITS, signatures_for
from ledger.epcis.vocabulary import Vocabulary
from ledger.events import EventType, Unit

DOC = Path(__file__).resolve().parents[3] / "docs" / "epcis-mapping.md"


def _doc_rows() -> set[tuple[str, ...]]:
    rows = set()
    for line in DOC.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[2].endswith("Event") and cells[0] != "native":
            rows.add(tuple(cells))
    return rows


def test_the_document_lists_exactly_the_code_table() -> None:
    code = {
        (s.native, s.variant or "", s.event_type, s.action or "", s.biz_step, s.disposition or "")
        for s in SIGNATURES
    }
    assert _doc_rows() == code


def test_every_native_type_has_a_row_and_correct_is_a_declaration() -> None:
    natives = {s.native for s in SIGNATURES}
    assert natives | {"correct"} == set(typing.get_args(EventType))
    assert "`correct` is the ledger's append-only correction" in DOC.read_text()


def test_a_signature_and_its_disposition_pick_one_row() -> None:
    seen = set()
    for s in SIGNATURES:
        key = (s.event_type, s.action, s.biz_step_uri, s.disposition)
        assert key not in seen
        seen.add(key)
        assert s in signatures_for(s.event_type, s.action, s.biz_step_uri)


def test_cbv_steps_are_cbv_and_the_rest_are_private() -> None:
    for s in SIGNATURES:
        assert s.biz_step_uri.startswith(Vocabulary.BIZ_STEP.web_prefix) or re.match(
            r"^urn:chemtrace:bizstep:[a-z_]+$", s.biz_step
        )


def test_every_weighed_unit_has_a_un_cefact_code() -> None:
    assert set(UNITS) | {"piece"} == set(typing.get_args(Unit))
    assert all(re.fullmatch(r"[A-Z0-9]{3}", code) for code in UNITS.values())
