"""The offline bundle verifier: clean bundles verify; every tampered part fails with the right code.

Bundles are built once through the real store (a SQLite file, the Harness), then each test
tampers a deep copy of the JSON and checks the verifier's fault or warning and its message.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ledger.bundle import (
    BUNDLE_FORMAT,
    BundleReport,
    LogView,
    SeenCheckpoint,
    VerifierState,
    describe_duration,
    verify_bundle,
)
from ledger.canonical import b64encode, format_hash
from ledger.certificates import issue_certificate
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.codes import issue_batch, sign_code
from ledger.errors import InvalidInputError
from ledger.note import NoteVerifier
from ledger.revocations import issue_revocation
from ledger.signing import ED25519, Ed25519Signer
from ledger.statements import ItemHeadStatement
from ledger.store import bundles
from ledger.store import schema as t
from tests.harness import ORIGIN, Harness

OLD_TIME = datetime(2026, 11, 17, 6, 0, tzinfo=UTC)
NEW_TIME = OLD_TIME + timedelta(days=3, hours=4)
VERIFY_TIME = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)

Bundle = dict[str, Any]


@dataclass(frozen=True)
class World:
    """One ledger and bundles built from it."""

    root: Ed25519Signer
    log: Ed25519Signer
    main: str
    other: str
    old_size: int
    new_size: int
    old: Bundle  # the main item at the first checkpoint
    new: Bundle  # the main item at the second checkpoint, with a proof from the first
    other_bundle: Bundle
    old_head: dict[str, Any]  # the main item's head statement at the first checkpoint

    def verify(
        self, bundle: Bundle, state: VerifierState | None = None, now: datetime = VERIFY_TIME
    ) -> BundleReport:
        return verify_bundle(
            bundle,
            root_algorithm=ED25519,
            root_public_key=self.root.public_key,
            log_verifier=NoteVerifier.for_key(ORIGIN, self.log.public_key),
            state=state,
            now=now,
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    path: Path = tmp_path_factory.mktemp("bundle") / "ledger.db"
    h = Harness.create(f"sqlite:///{path}")
    dev_a, dev_b = h.device("org-a"), h.device("org-b")
    codes = issue_batch("org-a", "26.3", "drum", "B1", "2026-09-28", 2, h.root)
    h.store.append_code_batch(codes, root=(ED25519, h.root.public_key), log_signer=h.log)
    main, other = codes[0].code, codes[1].code
    h.submit([h.commission(dev_a, main), h.use(dev_a, main), h.commission(dev_b, other)])
    h.checkpoint()
    old = build_item_bundle(h.store, main, log_signer=h.log, now=OLD_TIME)
    old_size = int(old["checkpoint"].split("\n")[1])
    h.submit([h.use(dev_a, main) for _ in range(3)] + [h.use(dev_b, other)])
    # Logged after every event of dev_b, effective long before them: it cannot reach back.
    revocation = issue_revocation(
        h.orgs["org-b"],
        key_id=dev_b.signer.key_id,
        org="org-b",
        effective_from="2020-06-01T00:00:00Z",
        reason="handheld lost",
    )
    h.store.append_revocation(revocation, root=(ED25519, h.root.public_key), log_signer=h.log)
    h.checkpoint()
    new = build_item_bundle(h.store, main, log_signer=h.log, since_size=old_size, now=NEW_TIME)
    other_bundle = build_item_bundle(h.store, other, log_signer=h.log, now=NEW_TIME)
    s = t.item_head_statement
    with h.store.engine.connect() as conn:
        row = conn.execute(
            select(s).where(s.c.item_code == main, s.c.checkpoint_size == old_size)
        ).one()
    old_cp = Checkpoint.from_text(old["checkpoint"].split("\n\n")[0] + "\n")
    old_head = ItemHeadStatement(
        ORIGIN, old_size, old_cp.root_hash, main, row.seq, row.head_hash, row.signature
    ).to_json()
    assert h.audit().intact
    h.store.engine.dispose()
    return World(
        root=h.root,
        log=h.log,
        main=main,
        other=other,
        old_size=old_size,
        new_size=int(new["checkpoint"].split("\n")[1]),
        old=old,
        new=new,
        other_bundle=other_bundle,
        old_head=dict(old_head),
    )


def build_item_bundle(*args: Any, **kwargs: Any) -> Bundle:
    """The builder's output after a round trip through JSON text, as a file would hold it."""
    document: Bundle = json.loads(json.dumps(bundles.build_item_bundle(*args, **kwargs)))
    return document


def fresh(bundle: Bundle) -> Bundle:
    return copy.deepcopy(bundle)


def event_at(bundle: Bundle, seq: int, item: int = 0) -> dict[str, Any]:
    index = bundle["items"][item]["chain"][seq]
    return next(entry for entry in bundle["events"] if entry["index"] == index)


def flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def only(report: BundleReport) -> str:
    assert len(report.faults) == 1, report.faults
    return report.faults[0].message


# -- clean bundles -----------------------------------------------------------------------------


def test_a_clean_item_bundle_verifies_without_a_warning(world: World) -> None:
    report = world.verify(fresh(world.new))
    assert report.verified, report.faults
    assert report.warnings == []
    assert report.items == [world.main]
    assert report.events == 5
    assert report.checkpoint_size == world.new_size
    assert report.state_advanced and report.state is not None
    view = report.state.view(ORIGIN)
    assert view is not None
    assert (view.size, view.as_of, view.verified_at) == (
        world.new_size,
        world.new["created_at"],
        "2026-11-20T18:30:00Z",
    )


def test_the_bundle_carries_one_checkpoint_proofs_certificates_and_the_label(world: World) -> None:
    bundle = world.new
    assert bundle["format"] == BUNDLE_FORMAT
    assert bundle["subject"] == {"kind": "item", "id": world.main}
    assert bundle["consistency"]["from_size"] == world.old_size
    roles = sorted(entry["certificate"]["cert"]["role"] for entry in bundle["certificates"])
    assert roles == ["device", "org"]
    item = bundle["items"][0]
    assert item["label"]["facts"]["code"] == world.main
    assert item["head"]["seq"] == len(item["chain"]) - 1 == 4
    assert item["head"]["checkpoint_size"] == world.new_size
    assert [entry["index"] for entry in bundle["events"]] == item["chain"]
    assert all(entry["inclusion"] for entry in bundle["events"])


def test_an_older_revocation_logged_after_the_events_does_not_reach_back(world: World) -> None:
    bundle = fresh(world.other_bundle)
    assert len(bundle["revocations"]) == 1
    report = world.verify(bundle)
    assert report.verified, report.faults


# -- tampered events ---------------------------------------------------------------------------


def test_a_changed_event_field_is_named_with_its_item_and_seq(world: World) -> None:
    bundle = fresh(world.new)
    event_at(bundle, 2)["envelope"]["body"]["data"]["quantity"]["value"] = "0.5"
    report = world.verify(bundle)
    assert only(report) == (
        f"event 2 of drum {world.main} was altered "
        "(its bytes do not match the hash the log committed to)"
    )
    fault = report.faults[0]
    assert (fault.code, fault.item, fault.seq) == ("event_altered", world.main, 2)
    assert not report.state_advanced


def test_an_altered_event_with_a_matching_hash_is_not_in_the_log(world: World) -> None:
    bundle = fresh(world.new)
    entry = event_at(bundle, 1)
    entry["envelope"]["body"]["data"]["quantity"]["value"] = "7"
    from ledger.envelope import open_envelope

    entry["hash"] = format_hash(open_envelope(entry["envelope"]).event_hash)
    report = world.verify(bundle)
    assert "event_not_in_log" in report.fault_codes()


def test_a_changed_proof_hash_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    entry = event_at(bundle, 1)
    entry["inclusion"][0] = flip(entry["inclusion"][0])
    report = world.verify(bundle)
    assert report.fault_codes() == ["event_not_in_log"]
    assert only(report).startswith(f"event 1 of drum {world.main} is not in the log")


def test_an_event_beyond_the_checkpoint_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    event_at(bundle, 4)["index"] = world.new_size + 5
    bundle["items"][0]["chain"][4] = world.new_size + 5
    report = world.verify(bundle)
    assert report.fault_codes() == ["event_not_in_log"]
    assert "beyond the bundle's checkpoint" in report.faults[0].message


def test_a_forged_device_signature_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    entry = event_at(bundle, 3)
    entry["envelope"]["signature"]["value"] = b64encode(bytes(64))
    from ledger.envelope import open_envelope

    entry["hash"] = format_hash(open_envelope(entry["envelope"]).event_hash)
    report = world.verify(bundle)
    assert report.fault_codes()[0] == "event_not_in_log"


def test_reordered_chain_entries_are_caught(world: World) -> None:
    bundle = fresh(world.new)
    chain = bundle["items"][0]["chain"]
    chain[1], chain[2] = chain[2], chain[1]
    report = world.verify(bundle)
    assert report.fault_codes() == ["chain_out_of_order", "chain_out_of_order"]
    assert report.faults[0].message.startswith(
        f"event 1 of drum {world.main} is really its event 2"
    )


def test_reordered_event_entries_are_caught(world: World) -> None:
    bundle = fresh(world.new)
    events = bundle["events"]
    events[1], events[2] = events[2], events[1]
    report = world.verify(bundle)
    assert report.fault_codes() == ["events_out_of_order"]


def test_an_event_of_another_item_inserted_into_the_chain_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    foreign = copy.deepcopy(event_at(world.other_bundle, 1))
    bundle["events"] = sorted([*bundle["events"], foreign], key=lambda entry: entry["index"])
    bundle["items"][0]["chain"].insert(2, foreign["index"])
    report = world.verify(bundle)
    assert "chain_foreign_event" in report.fault_codes()
    fault = next(f for f in report.faults if f.code == "chain_foreign_event")
    assert fault.message == (
        f"event 2 of drum {world.main} belongs to another item ({world.other}): "
        "an event of another item was inserted"
    )


def test_an_extra_event_outside_every_chain_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    foreign = copy.deepcopy(event_at(world.other_bundle, 0))
    bundle["events"] = sorted([*bundle["events"], foreign], key=lambda entry: entry["index"])
    report = world.verify(bundle)
    assert "event_extra" in report.fault_codes()


def test_a_duplicated_event_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    bundle["events"].insert(2, copy.deepcopy(bundle["events"][2]))
    report = world.verify(bundle)
    assert report.fault_codes() == ["entry_duplicated"]


# -- the checkpoint ----------------------------------------------------------------------------


def test_a_changed_checkpoint_signature_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    text, signature = bundle["checkpoint"].rsplit(" ", 1)
    bundle["checkpoint"] = f"{text} {flip(signature.strip())}\n"
    report = world.verify(bundle)
    assert report.fault_codes() == ["checkpoint_invalid"]
    assert "not signed by the log you trust" in only(report)


def test_a_checkpoint_signed_by_another_key_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    body = Checkpoint.from_text(bundle["checkpoint"].split("\n\n")[0] + "\n")
    bundle["checkpoint"] = sign_checkpoint(body, ORIGIN, Ed25519Signer.generate())
    assert world.verify(bundle).fault_codes() == ["checkpoint_invalid"]


def test_a_checkpoint_with_another_root_fails_its_signature(world: World) -> None:
    bundle = fresh(world.new)
    lines = bundle["checkpoint"].split("\n")
    lines[2] = flip(lines[2])
    bundle["checkpoint"] = "\n".join(lines)
    assert world.verify(bundle).fault_codes() == ["checkpoint_invalid"]


# -- completeness: the head statement ----------------------------------------------------------


def drop_newest(bundle: Bundle, count: int = 1) -> None:
    item = bundle["items"][0]
    dropped = item["chain"][-count:]
    del item["chain"][-count:]
    bundle["events"] = [entry for entry in bundle["events"] if entry["index"] not in dropped]


def test_dropping_the_newest_event_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    drop_newest(bundle)
    report = world.verify(bundle)
    assert report.fault_codes() == ["head_events_missing"]
    assert only(report) == (
        f"the newest event of drum {world.main} is missing "
        "(the log says seq 4, the bundle ends at seq 3)"
    )


def test_dropping_the_newest_two_events_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    drop_newest(bundle, 2)
    assert f"newest 2 events of drum {world.main} are missing" in only(world.verify(bundle))


def test_dropping_the_newest_event_and_editing_the_head_statement_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    drop_newest(bundle)
    head = bundle["items"][0]["head"]
    head["seq"] = 3
    head["head"] = event_at(bundle, 3)["hash"]
    report = world.verify(bundle)
    assert report.fault_codes() == ["head_statement_invalid"]
    assert "not signed by the log" in only(report)


def test_replaying_an_older_head_statement_is_caught(world: World) -> None:
    # The item's genuine, log-signed statement from the first checkpoint (seq 1).
    bundle = fresh(world.new)
    drop_newest(bundle, 3)
    bundle["items"][0]["head"] = copy.deepcopy(world.old_head)
    report = world.verify(bundle)
    assert report.fault_codes() == ["head_statement_other_tree"]
    assert f"(size {world.old_size}), not this bundle's ({world.new_size})" in only(report)


def test_a_head_statement_of_another_item_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    bundle["items"][0]["head"] = copy.deepcopy(world.other_bundle["items"][0]["head"])
    assert world.verify(bundle).fault_codes() == ["head_statement_other_item"]


def test_a_malformed_head_statement_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    del bundle["items"][0]["head"]["root"]
    assert world.verify(bundle).fault_codes() == ["head_statement_malformed"]


# -- certificates ------------------------------------------------------------------------------


def device_entry(bundle: Bundle) -> dict[str, Any]:
    return next(
        entry
        for entry in bundle["certificates"]
        if entry["certificate"]["cert"]["role"] == "device"
    )


def test_a_swapped_device_key_is_caught_at_the_certificate(world: World) -> None:
    bundle = fresh(world.new)
    subject = device_entry(bundle)["certificate"]["cert"]["subject"]
    impostor = Ed25519Signer.generate()
    subject["public_key"] = b64encode(impostor.public_key)
    subject["key_id"] = impostor.key_id
    report = world.verify(bundle)
    assert report.fault_codes()[0] == "certificate_altered"
    assert "was altered (its bytes do not match the hash the log committed to)" in (
        report.faults[0].message
    )
    assert set(report.fault_codes()[1:]) == {"event_key_unknown"}


def test_a_swapped_key_with_the_old_key_id_does_not_parse(world: World) -> None:
    bundle = fresh(world.new)
    subject = device_entry(bundle)["certificate"]["cert"]["subject"]
    subject["public_key"] = b64encode(Ed25519Signer.generate().public_key)
    report = world.verify(bundle)
    assert report.fault_codes()[0] == "certificate_malformed"
    assert set(report.fault_codes()[1:]) == {"event_key_untrusted"}


def test_a_certificate_re_signed_by_an_unknown_org_key_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    entry = device_entry(bundle)
    cert = entry["certificate"]["cert"]
    forger = Ed25519Signer.generate()
    forged = issue_certificate(
        forger,
        role="device",
        subject_algorithm=ED25519,
        subject_public_key=base64.b64decode(cert["subject"]["public_key"]),
        org=cert["org"],
        valid_from=cert["valid_from"],
        valid_until=cert["valid_until"],
    )
    entry["certificate"] = forged.to_json()
    entry["hash"] = format_hash(forged.entry_hash)
    report = world.verify(bundle)
    assert report.fault_codes()[0] == "certificate_not_in_log"
    assert set(report.fault_codes()[1:]) == {"event_key_untrusted"}
    assert "failed the checks above" in report.faults[1].message


def test_a_missing_device_certificate_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    bundle["certificates"] = [e for e in bundle["certificates"] if e is not device_entry(bundle)]
    report = world.verify(bundle)
    assert set(report.fault_codes()) == {"event_key_unknown"}
    assert "which no certificate in this bundle vouches for" in report.faults[0].message


def test_a_changed_revocation_is_caught(world: World) -> None:
    bundle = fresh(world.other_bundle)
    bundle["revocations"][0]["revocation"]["revocation"]["effective_from"] = "2019-01-01T00:00:00Z"
    assert world.verify(bundle).fault_codes() == ["revocation_altered"]


# -- the label ---------------------------------------------------------------------------------


def test_a_forged_label_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    label = bundle["items"][0]["label"]
    label["label_signature"] = flip(label["label_signature"])
    report = world.verify(bundle)
    assert report.fault_codes() == ["label_forged"]
    assert only(report).startswith(f"the label of drum {world.main} was not issued by the registry")


def test_a_label_signed_by_another_registry_is_caught(world: World) -> None:
    from ledger.codes import SignedCode

    bundle = fresh(world.new)
    genuine = SignedCode.from_json(bundle["items"][0]["label"])
    bundle["items"][0]["label"] = sign_code(genuine.facts, Ed25519Signer.generate()).to_json()
    assert world.verify(bundle).fault_codes() == ["label_forged"]


def test_a_label_of_another_code_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    bundle["items"][0]["label"] = copy.deepcopy(world.other_bundle["items"][0]["label"])
    assert world.verify(bundle).fault_codes() == ["label_other_item"]


def test_a_missing_label_is_a_warning_not_a_fault(world: World) -> None:
    bundle = fresh(world.new)
    bundle["items"][0]["label"] = None
    report = world.verify(bundle)
    assert report.verified
    assert report.warning_codes() == ["label_not_present"]
    assert report.warnings[0].message.endswith("(label not present)")


def test_a_malformed_label_is_a_fault(world: World) -> None:
    bundle = fresh(world.new)
    bundle["items"][0]["label"] = {"facts": {}}
    assert world.verify(bundle).fault_codes() == ["label_malformed"]


# -- structure ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b.update(format="chemtrace-bundle/v0"),
        lambda b: b.pop("checkpoint"),
        lambda b: b.update(created_at="yesterday"),
        lambda b: b["events"][0].update(index=-1),
        lambda b: b["events"][0].update(hash="sha1:00"),
        lambda b: b["items"][0].update(chain=[]),
        lambda b: b.update(extra=1),
    ],
    ids=["format", "missing", "created_at", "index", "hash", "empty-chain", "extra-field"],
)
def test_a_malformed_bundle_is_a_fault(world: World, tamper: Callable[[Bundle], object]) -> None:
    bundle = fresh(world.new)
    tamper(bundle)
    report = world.verify(bundle)
    assert report.fault_codes() == ["bundle_malformed"]
    assert report.state is None


def test_a_bundle_about_another_subject_is_caught(world: World) -> None:
    bundle = fresh(world.new)
    bundle["subject"]["id"] = world.other
    assert world.verify(bundle).fault_codes() == ["bundle_subject_mismatch"]


# -- what was verified before ------------------------------------------------------------------


def test_a_newer_consistent_bundle_advances_the_state(world: World) -> None:
    first = world.verify(fresh(world.old))
    assert first.verified and first.state_advanced
    second = world.verify(fresh(world.new), first.state)
    assert second.verified and second.warnings == []
    assert second.state_advanced and second.state is not None
    view = second.state.view(ORIGIN)
    assert view is not None
    assert view.size == world.new_size
    assert view.history == (SeenCheckpoint(world.old_size, view.root_at(world.old_size) or b""),)


def test_an_older_bundle_is_stale_with_its_age(world: World) -> None:
    state = world.verify(fresh(world.new)).state
    report = world.verify(fresh(world.old), state)
    assert report.verified
    assert report.warning_codes() == ["bundle_stale"]
    assert report.warnings[0].message.startswith(
        "this bundle is 3 days 4 hours older than the one you verified today (stale)"
    )
    assert not report.state_advanced
    assert report.state is state


def test_the_same_bundle_again_changes_nothing(world: World) -> None:
    state = world.verify(fresh(world.new)).state
    report = world.verify(fresh(world.new), state)
    assert report.verified and report.warnings == []
    assert not report.state_advanced and report.state is state


def test_a_newer_bundle_without_a_proof_warns_and_does_not_advance(world: World) -> None:
    state = world.verify(fresh(world.old)).state
    bundle = fresh(world.new)
    bundle["consistency"] = None
    report = world.verify(bundle, state)
    assert report.verified
    assert report.warning_codes() == ["consistency_unconfirmed"]
    assert report.warnings[0].message.startswith("cannot confirm consistency offline")
    assert f"--since {world.old_size}" in report.warnings[0].message
    assert not report.state_advanced and report.state is state


def fork_of(state: VerifierState | None, size: int) -> VerifierState:
    assert state is not None
    view = state.view(ORIGIN)
    assert view is not None
    if view.size == size:
        return state.with_view(replace(view, root_hash=bytes(32)))
    history = tuple(
        SeenCheckpoint(seen.size, bytes(32)) if seen.size == size else seen for seen in view.history
    )
    return state.with_view(replace(view, history=history))


def test_the_same_size_with_another_root_is_a_fork(world: World) -> None:
    state = fork_of(world.verify(fresh(world.new)).state, world.new_size)
    report = world.verify(fresh(world.new), state)
    assert report.fault_codes() == ["checkpoint_fork"]
    assert only(report).startswith("this bundle contradicts the log you verified today (fault)")
    assert report.state is state and not report.state_advanced


def test_a_newer_checkpoint_that_does_not_extend_the_saved_one_is_a_fault(world: World) -> None:
    state = fork_of(world.verify(fresh(world.old)).state, world.old_size)
    report = world.verify(fresh(world.new), state)
    assert report.fault_codes() == ["checkpoint_inconsistent"]
    assert only(report).startswith("this bundle contradicts the log you verified today (fault)")
    assert report.state is state


def test_a_changed_consistency_proof_is_a_fault(world: World) -> None:
    state = world.verify(fresh(world.old)).state
    bundle = fresh(world.new)
    proof = bundle["consistency"]["proof"]
    proof[0] = flip(proof[0])
    assert world.verify(bundle, state).fault_codes() == ["checkpoint_inconsistent"]


def test_an_older_bundle_contradicting_a_remembered_checkpoint_is_a_fault(world: World) -> None:
    first = world.verify(fresh(world.old)).state
    state = fork_of(world.verify(fresh(world.new), first).state, world.old_size)
    report = world.verify(fresh(world.old), state)
    assert report.fault_codes() == ["checkpoint_fork"]


def test_a_faulty_bundle_never_advances_the_state(world: World) -> None:
    state = world.verify(fresh(world.old)).state
    bundle = fresh(world.new)
    drop_newest(bundle)
    report = world.verify(bundle, state)
    assert not report.verified
    assert report.state is state and not report.state_advanced


def test_the_state_of_another_log_is_left_alone(world: World) -> None:
    other_log = LogView("example.org/other", 9, bytes(32), "2026-01-01T00:00:00Z",
                        "2026-01-02T00:00:00Z")  # fmt: skip
    report = world.verify(fresh(world.new), VerifierState((other_log,)))
    assert report.state is not None
    assert report.state.view("example.org/other") == other_log
    assert report.state.view(ORIGIN) is not None


# -- the state's JSON and small helpers --------------------------------------------------------


def test_the_state_round_trips_through_json(world: World) -> None:
    first = world.verify(fresh(world.old)).state
    state = world.verify(fresh(world.new), first).state
    assert state is not None
    text = json.dumps(state.to_json())
    assert VerifierState.from_json(json.loads(text)) == state


@pytest.mark.parametrize(
    "document",
    [
        None,
        {"format": "x", "logs": []},
        {"format": "chemtrace-verifier-state/v1", "logs": [{"origin": "a"}]},
        {
            "format": "chemtrace-verifier-state/v1",
            "logs": [
                {
                    "origin": "a",
                    "size": 1,
                    "root": "AA==",
                    "as_of": "2026-01-01T00:00:00Z",
                    "verified_at": "2026-01-01T00:00:00Z",
                    "history": [],
                }
            ],
        },
    ],
)
def test_a_malformed_state_is_refused(document: object) -> None:
    with pytest.raises(InvalidInputError):
        VerifierState.from_json(document)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=3), "3 days"),
        (timedelta(days=1, hours=1), "1 day 1 hour"),
        (timedelta(hours=5, minutes=2), "5 hours 2 minutes"),
        (timedelta(minutes=12), "12 minutes"),
        (timedelta(seconds=20), "less than a minute"),
    ],
)
def test_durations_read_in_days_and_hours(delta: timedelta, text: str) -> None:
    assert describe_duration(delta) == text
