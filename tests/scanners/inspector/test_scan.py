"""One scan to one verdict: what can be scanned, the custody timeline, JSON, and the source."""

from __future__ import annotations

import json

import pytest

from scanners.inspector import OnlineAccess, ScanVerifier, UnreadableScanError
from tests.scanners.inspector.conftest import GS1_KEY, Kit, World
from tests.servers import pick_free_port


@pytest.fixture
def stocked(kit: Kit, world: World) -> Kit:
    assert kit.accept(world.bundle("new_site_b")).verified
    return kit


def test_a_scanned_label_gives_the_verified_custody_chain(stocked: Kit, world: World) -> None:
    verdict = stocked.scan(world.label_url(world.main))
    assert (verdict.verdict, verdict.exit_code, verdict.code) == ("genuine", 0, world.main)
    assert verdict.faults == [] and verdict.warnings == []
    assert verdict.scanned == "a chemtrace label (QR)"
    assert verdict.noun == "cylinder"
    assert verdict.label is not None and verdict.label.org == "org-a"
    steps = [(s.seq, s.type, s.holder, s.site, s.quantity, s.unit, s.status) for s in verdict.steps]
    assert steps == [
        (0, "commission", "org-a", "site-a", "40", "kg", "active"),
        (1, "use", "org-a", "site-a", "37.5", "kg", "active"),
        (2, "ship", "org-c", None, "37.5", "kg", "in_transit"),
        (3, "receive", "org-b", "site-b", "37.5", "kg", "active"),
        (4, "use", "org-b", "site-b", "36.500", "kg", "active"),  # 1000 g
        (5, "use", "org-b", "site-b", "36.000", "kg", "active"),
        (6, "use", "org-b", "site-b", "35.500", "kg", "active"),
    ]
    chain = next(i for i in world.new_site_b["items"] if i["code"] == world.main)["chain"]
    assert [step.index for step in verdict.steps] == chain


def test_the_verdict_says_which_source_it_used(stocked: Kit, world: World) -> None:
    verdict = stocked.scan(world.main)
    assert verdict.source.kind == "bundle"
    assert verdict.source.description == (
        "verified offline from the site bundle of site-b downloaded at 2026-11-20T07:00:00Z "
        "(age less than a minute)"
    )


def test_the_json_verdict_has_every_part(stocked: Kit, world: World) -> None:
    document = json.loads(json.dumps(stocked.scan(world.label_url(world.main)).to_json()))
    assert document["verdict"] == "genuine" and document["exit_code"] == 0
    assert document["source"]["bundle"] == "site site-b"
    assert document["label"]["packaging"] == "cylinder"
    assert document["steps"][2] == {
        "seq": 2, "index": document["steps"][2]["index"], "type": "ship",
        "time": "2026-10-01T00:03:00Z", "log_time": document["steps"][2]["log_time"],
        "org": "org-a", "holder": "org-c", "site": None, "status": "in_transit",
        "quantity": "37.5", "unit": "kg",
    }  # fmt: skip
    assert document["faults"] == [] and document["warnings"] == []


def test_a_gs1_key_finds_the_item_through_its_registry_record(stocked: Kit, world: World) -> None:
    verdict = stocked.scan(GS1_KEY)
    assert (verdict.verdict, verdict.code) == ("genuine", world.resident)
    assert [w.code for w in verdict.warnings] == ["label_not_scanned"]
    assert verdict.warnings[0].message.startswith(
        f"the GS1 key {GS1_KEY} was read, not the chemtrace QR: the physical label itself was "
        "not checked"
    )


def test_an_unknown_gs1_key_is_an_unknown_item(stocked: Kit) -> None:
    verdict = stocked.scan("(01)09506000134352(21)NOPE")
    assert (verdict.verdict, verdict.exit_code, verdict.code) == ("unknown_item", 2, None)
    assert "fetch the site bundle first" in verdict.notes[0]


def test_a_lying_gs1_index_cannot_vouch_for_another_item(stocked: Kit, world: World) -> None:
    (download,) = stocked.kit.bundles.downloads()
    meta_path = download.folder / "download.json"
    meta = json.loads(meta_path.read_text())
    meta["items"][world.resident]["gs1_key"] = None
    meta["items"][world.main]["gs1_key"] = GS1_KEY
    meta_path.write_text(json.dumps(meta))
    verdict = stocked.scan(GS1_KEY)
    assert verdict.code == world.main and verdict.verdict == "fault"
    assert [f.code for f in verdict.faults] == ["gs1_key_mismatch"]
    assert verdict.faults[0].message == (
        f"the GS1 key {GS1_KEY} is not this item's: the registry's record of {world.main} "
        "carries (01)09506000134352(21)MAIN"
    )


def test_a_typed_code_is_read_forgivingly_but_the_label_is_not_checked(
    stocked: Kit, world: World
) -> None:
    typed = world.main.lower().replace("-", " ")
    verdict = stocked.scan(typed)
    assert (verdict.verdict, verdict.code, verdict.scanned) == (
        "genuine", world.main, "a typed trace code")  # fmt: skip
    assert [w.code for w in verdict.warnings] == ["label_not_scanned"]


def test_an_item_no_bundle_holds_is_unknown_offline(stocked: Kit, world: World) -> None:
    verdict = stocked.scan(world.label_url(world.elsewhere))  # at site-a, not fetched
    assert (verdict.verdict, verdict.exit_code) == ("unknown_item", 2)
    assert verdict.source.kind == "none"
    assert verdict.label is not None and verdict.label.code == world.elsewhere
    assert "no stored bundle holds it and the network was not used" in verdict.notes[0]
    assert verdict.notes[1].startswith("the label itself is genuine")


def test_an_unreadable_scan_is_refused(stocked: Kit) -> None:
    with pytest.raises(UnreadableScanError, match="cannot read this scan"):
        stocked.scan("hello world")


def test_without_the_network_the_kit_says_so_and_verifies_offline(
    stocked: Kit, world: World
) -> None:
    nowhere = OnlineAccess(f"http://127.0.0.1:{pick_free_port()}", token="t", timeout=2)
    verifier = ScanVerifier(stocked.kit, clock=lambda: stocked.now)
    verdict = verifier.verify(world.label_url(world.main), online=nowhere)
    assert verdict.verdict == "genuine" and verdict.source.kind == "bundle"
    assert verdict.notes[0].startswith("the network was not available (")
    assert verdict.notes[0].endswith("so this was verified offline")
