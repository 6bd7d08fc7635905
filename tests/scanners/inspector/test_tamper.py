"""Every tamper class, caught offline from a stored site bundle, and reported plainly.

The site bundle is downloaded and verified into a fresh kit; then, as an intruder with the
kit's files would, each test changes the scanned cylinder's stored sub-bundle on disk and
scans the cylinder's label. The scan must be a fault (exit code 1) naming what was done in
the issue's words ("event 4 of this cylinder was altered"). Tampered downloads are refused
before they are stored (last tests).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from ledger.canonical import b64encode
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.codes import SignedCode, label_url, sign_code
from ledger.signing import Ed25519Signer
from tests.harness import ORIGIN
from tests.scanners.inspector.conftest import Bundle, Kit, World


@pytest.fixture
def stocked(kit: Kit, world: World) -> Kit:
    assert kit.accept(world.bundle("new_site_b")).verified
    return kit


def flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def event_at(bundle: Bundle, seq: int) -> dict[str, Any]:
    index = bundle["items"][0]["chain"][seq]
    return next(entry for entry in bundle["events"] if entry["index"] == index)


def drop(bundle: Bundle, seq: int) -> None:
    index = bundle["items"][0]["chain"].pop(seq)
    bundle["events"] = [entry for entry in bundle["events"] if entry["index"] != index]


def certificate_of(bundle: Bundle, org: str, role: str = "device") -> dict[str, Any]:
    return next(
        entry
        for entry in bundle["certificates"]
        if entry["certificate"]["cert"]["role"] == role
        and entry["certificate"]["cert"]["org"] == org
    )


def swap_key(bundle: Bundle) -> None:
    subject = certificate_of(bundle, "org-b")["certificate"]["cert"]["subject"]
    impostor = Ed25519Signer.generate()
    subject["public_key"], subject["key_id"] = b64encode(impostor.public_key), impostor.key_id


def forge_checkpoint(bundle: Bundle) -> None:
    body = Checkpoint.from_text(bundle["checkpoint"].split("\n\n")[0] + "\n")
    bundle["checkpoint"] = sign_checkpoint(body, ORIGIN, Ed25519Signer.generate())


def edit_head(bundle: Bundle) -> None:
    drop(bundle, -1)
    head = bundle["items"][0]["head"]
    head["seq"] -= 1
    head["head"] = event_at(bundle, head["seq"])["hash"]


def remove_certificate(bundle: Bundle) -> None:
    doomed = certificate_of(bundle, "org-b")
    bundle["certificates"] = [entry for entry in bundle["certificates"] if entry is not doomed]


def backdate_revocation(bundle: Bundle) -> None:
    bundle["revocations"][0]["revocation"]["revocation"]["effective_from"] = "2019-01-01T00:00:00Z"


def insert_foreign_event(world: World) -> Callable[[Bundle], None]:
    def insert(bundle: Bundle) -> None:
        resident = next(i for i in world.new_site_b["items"] if i["code"] == world.resident)
        foreign = copy.deepcopy(
            next(e for e in world.new_site_b["events"] if e["index"] == resident["chain"][1])
        )
        bundle["events"] = sorted([*bundle["events"], foreign], key=lambda e: e["index"])
        bundle["items"][0]["chain"].insert(2, foreign["index"])

    return insert


TAMPERS: list[tuple[str, Callable[[World], Callable[[Bundle], object]], str, str]] = [
    (
        "altered-event",
        lambda w: lambda b: event_at(b, 4)["envelope"]["body"]["data"]["quantity"].update(value="0.1"),
        "event_altered",
        "event 4 of this cylinder was altered (its bytes do not match the hash the log committed to)",
    ),
    (
        "dropped-newest-event",
        lambda w: lambda b: drop(b, -1),
        "head_events_missing",
        "the newest event of this cylinder is missing (the log says seq 6, the bundle ends at seq 5)",
    ),
    (
        "dropped-event",
        lambda w: lambda b: drop(b, 2),
        "chain_out_of_order",
        "event 2 of this cylinder is really its event 3: events were removed, duplicated or reordered",
    ),
    (
        "reordered-chain",
        lambda w: lambda b: b["items"][0]["chain"].insert(1, b["items"][0]["chain"].pop(2)),
        "chain_out_of_order",
        "event 1 of this cylinder is really its event 2: events were removed, duplicated or reordered",
    ),
    (
        "reordered-entries",
        lambda w: lambda b: b["events"].insert(0, b["events"].pop(1)),
        "events_out_of_order",
        "the events are not in log order",
    ),
    (
        "inserted-foreign-event",
        insert_foreign_event,
        "chain_foreign_event",
        "event 2 of this cylinder belongs to another item (CT-",
    ),
    (
        "forged-label-record",
        lambda w: lambda b: b["items"][0]["label"].update(label_signature=flip(b["items"][0]["label"]["label_signature"])),
        "label_forged",
        "this label was not issued by the registry (its registry signature does not verify with the pinned root key)",
    ),
    (
        "label-of-another-registry",
        lambda w: lambda b: b["items"][0].update(label=sign_code(SignedCode.from_json(b["items"][0]["label"]).facts, Ed25519Signer.generate()).to_json()),
        "label_forged",
        "this label was not issued by the registry",
    ),
    (
        "wrong-key",
        lambda w: swap_key,
        "certificate_altered",
        "the device key certificate of ",
    ),
    (
        "uncertified-key",
        lambda w: remove_certificate,
        "event_key_unknown",
        "event 3 of this cylinder is signed by device key ",
    ),
    (
        "backdated-revocation",
        lambda w: backdate_revocation,
        "revocation_altered",
        "the revocation of key ",
    ),
    (
        "bad-inclusion-proof",
        lambda w: lambda b: event_at(b, 1)["inclusion"].__setitem__(0, flip(event_at(b, 1)["inclusion"][0])),
        "event_not_in_log",
        "event 1 of this cylinder is not in the log at index ",
    ),
    (
        "forged-checkpoint",
        lambda w: forge_checkpoint,
        "checkpoint_invalid",
        "the bundle's checkpoint is not signed by the log you trust",
    ),
    (
        "head-statement-edited",
        lambda w: edit_head,
        "head_statement_invalid",
        "the log's statement of the newest event of this cylinder is not signed by the log (it was altered or forged)",
    ),
    (
        "head-statement-of-another-item",
        lambda w: lambda b: b["items"][0].update(head=copy.deepcopy(next(i for i in w.new_site_b["items"] if i["code"] == w.resident)["head"])),
        "head_statement_other_item",
        "the log's statement of the newest event of this cylinder is about another item",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make_tamper", "code", "message"),
    [case[1:] for case in TAMPERS],
    ids=[case[0] for case in TAMPERS],
)
def test_a_tampered_stored_bundle_is_a_fault_with_a_plain_message(
    stocked: Kit,
    world: World,
    make_tamper: Callable[[World], Callable[[Bundle], object]],
    code: str,
    message: str,
) -> None:
    assert stocked.scan(world.label_url(world.main)).verdict == "genuine"
    stocked.tamper(world.main, make_tamper(world))
    verdict = stocked.scan(world.label_url(world.main))
    assert (verdict.verdict, verdict.exit_code) == ("fault", 1)
    assert code in [fault.code for fault in verdict.faults]
    first = next(fault for fault in verdict.faults if fault.code == code)
    assert first.message.startswith(message), first.message
    assert not verdict.state_advanced


def test_the_uncertified_key_message_names_the_key(stocked: Kit, world: World) -> None:
    stocked.tamper(world.main, remove_certificate)
    fault = stocked.scan(world.main).faults[0]
    assert fault.message.endswith(
        "which no certificate in this bundle vouches for (an uncertified key)"
    )


def test_a_forged_label_is_caught_from_the_qr_alone(kit: Kit, world: World) -> None:
    url = world.label_url(world.main)
    signature = url.rsplit("/", 1)[1]
    forged = url[: -len(signature)] + ("A" if signature[0] != "A" else "B") + signature[1:]
    verdict = kit.scan(forged)  # no bundle is needed, and none is stored
    assert (verdict.verdict, verdict.exit_code, verdict.source.kind) == ("fault", 1, "label")
    assert [fault.message for fault in verdict.faults] == [
        "this label was not issued by the registry (the signature in its QR code does not "
        "verify with the pinned registry root key)"
    ]
    relabelled = url.replace("/B1/", "/B2/")  # another batch under a genuine signature
    assert kit.scan(relabelled).faults[0].code == "label_forged"


def test_a_genuine_label_must_match_the_record_in_the_bundle(stocked: Kit, world: World) -> None:
    genuine = world.labels[world.main]
    other = sign_code(replace(genuine.facts.label_facts(), batch="B9"), world.root)
    verdict = stocked.scan(label_url(other, "https://ct.example.cn"))
    assert verdict.verdict == "fault"
    assert [fault.code for fault in verdict.faults] == ["label_mismatch"]
    assert "batch 'B9' (record: 'B1')" in verdict.faults[0].message


def test_a_damaged_file_is_a_fault(stocked: Kit, world: World) -> None:
    stocked.stored_item(world.main).write_text("{ not json")
    verdict = stocked.scan(world.main)
    assert verdict.verdict == "fault"
    assert verdict.faults[0].message.startswith("the stored bundle is damaged")


def test_another_items_bundle_in_its_place_is_a_fault(stocked: Kit, world: World) -> None:
    resident = stocked.stored_item(world.resident).read_text()
    stocked.stored_item(world.main).write_text(resident)
    verdict = stocked.scan(world.label_url(world.main))
    assert verdict.verdict == "fault"
    assert [fault.code for fault in verdict.faults] == ["bundle_subject_mismatch"]


@pytest.mark.parametrize(
    ("make_tamper", "code", "message"),
    [
        (lambda w: lambda b: event_at(b, 0)["envelope"]["body"].update(time="2026-10-01T09:00:00Z"),
         "event_altered", "event 0 of cylinder CT-"),
        (lambda w: forge_checkpoint, "checkpoint_invalid",
         "the bundle's checkpoint is not signed by the log you trust"),
        (lambda w: lambda b: b["items"][0]["label"].update(label_signature=flip(b["items"][0]["label"]["label_signature"])),
         "label_forged", "the label of cylinder CT-"),
    ],
    ids=["altered-event", "forged-checkpoint", "forged-label"],
)  # fmt: skip
def test_a_tampered_download_is_refused_before_it_is_stored(
    kit: Kit,
    world: World,
    make_tamper: Callable[[World], Callable[[Bundle], object]],
    code: str,
    message: str,
) -> None:
    bundle = world.bundle("new_site_b")
    make_tamper(world)(bundle)
    outcome = kit.accept(bundle)
    assert outcome.stored is None and not outcome.verified
    assert outcome.report.fault_codes()[0] == code
    assert outcome.report.faults[0].message.startswith(message)
    assert kit.kit.bundles.downloads() == [] and not kit.kit.state_path.exists()
