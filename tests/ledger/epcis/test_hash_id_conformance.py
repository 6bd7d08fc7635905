"""CBV 2.0 event hash IDs against the reference implementation's expected hashes.

Ground truth, as ``../shared/conformance/gs1/README.md`` sets it: the RalphTro ``.hashes``
files, except the ``IgnoreFields`` vectors (a repository-specific feature); for the 20
documents the newer RalphTro tree re-computed, its hashes (it fixed the property order and
namespaces to match the standard). The 22 snapshot hashes it changed are checked apart:
we must give the newer hash, not the snapshot's. The illustrative ``eventID`` values in the
gs1/EPCIS examples and ``XML/WithEventHashID`` are no ground truth and are not used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.epcis.hash_id import document_hash_ids, event_hash_id
from ledger.epcis.xml_reader import read_xml_events
from tests.conftest import require_shared
from tests.ledger.epcis._vectors import HASH_EQUAL, HASH_EXAMPLES, hash_inputs, newer_documents

pytestmark = pytest.mark.conformance

NEWER = newer_documents()
INPUTS = hash_inputs()


def _hashes_of(path: Path) -> list[str]:
    text = path.read_text()
    if path.suffix == ".xml":
        return [event_hash_id(event) for event in read_xml_events(text)]
    return document_hash_ids(json.loads(text))


def _expected(path: Path) -> list[str]:
    if path.stem in NEWER:
        return [event["hash"] for event in NEWER[path.stem]["events"]]
    return path.with_suffix(".hashes").read_text().split()


def test_the_vectors_are_all_there() -> None:
    require_shared("conformance/gs1/epcis-hash/ralphtro/examples")
    assert len(INPUTS) == 35  # 20 JSON-LD, 15 XML
    assert sum(len(_expected(p)) for p in INPUTS) == 81
    assert len(NEWER) == 20


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_every_event_hash_matches_the_reference(path: Path) -> None:
    assert _hashes_of(path) == _expected(path)


def _changed() -> list[tuple[str, int, str, str]]:
    """(document, event, snapshot hash, newer hash) for every hash the newer tree changed."""
    cases = []
    for name, document in sorted(NEWER.items()):
        snapshot = (HASH_EXAMPLES / f"{name}.hashes").read_text().split()
        for event in document["events"]:
            if not event["same_as_snapshot"]:
                index = event["event"] - 1
                cases.append((name, event["event"], snapshot[index], event["hash"]))
    return cases


CHANGED = _changed()


def test_the_newer_tree_changed_22_hashes() -> None:
    require_shared("conformance/gs1/derived/ralphtro-newer_cbv20-expected-hashes.json")
    assert len(CHANGED) == 22
    assert sum(len(d["events"]) for d in NEWER.values()) == 48


@pytest.mark.parametrize("case", CHANGED, ids=lambda c: f"{c[0]}#{c[1]}")
def test_a_changed_hash_follows_the_newer_tree(case: tuple[str, int, str, str]) -> None:
    name, number, snapshot, newer = case
    source = next(p for p in INPUTS if p.stem == name)
    ours = _hashes_of(source)[number - 1]
    assert ours == newer
    assert ours != snapshot


def _equal_documents() -> list[Path]:
    return sorted(HASH_EQUAL.iterdir()) if HASH_EQUAL.is_dir() else []


def test_the_equal_sets_are_there() -> None:
    require_shared("conformance/gs1/epcis-hash/ralphtro/expected_equal")
    assert len(_equal_documents()) == 11


@pytest.mark.parametrize("path", _equal_documents(), ids=lambda p: p.name)
def test_different_serialisations_of_one_event_share_its_hash(path: Path) -> None:
    hashes = _hashes_of(path)
    assert len(hashes) >= 2
    assert len(set(hashes)) == 1
