"""Appending to a real database: receipts, idempotency, conflicts, atomicity, gapless indices."""

from __future__ import annotations

from ledger.append import Accepted, Rejected
from ledger.canonical import format_hash
from ledger.checkpoint import open_checkpoint
from ledger.errors import (
    GroupRejectedError,
    ItemExistsError,
    KeyNotValidAtLogTimeError,
    MalformedEventError,
    SignatureInvalidError,
    StaleHeadError,
    UnknownItemError,
    UnknownKeyError,
)
from ledger.leaf import decode_leaf
from ledger.merkle import leaf_hash, root_from_leaf_hashes, verify_inclusion
from ledger.signing import Ed25519Signer
from tests.harness import Harness


def _accepted(outcome: object) -> Accepted:
    assert isinstance(outcome, Accepted), outcome
    return outcome


def _rejected(outcome: object) -> Rejected:
    assert isinstance(outcome, Rejected), outcome
    return outcome


def test_append_returns_a_signed_receipt_provable_against_the_checkpoint(ledger: Harness) -> None:
    device = ledger.device("acme")
    receipt = _accepted(ledger.submit([ledger.commission(device, "CYL-0001")])[0]).receipt
    receipt.verify("ed25519", ledger.log.public_key)
    assert receipt.index == 2  # two certificates came first
    note = ledger.checkpoint()
    assert note is not None
    cp = open_checkpoint(note, ledger.trusted().log)
    proof = ledger.store.inclusion_proof(receipt.index, cp.size)
    verify_inclusion(receipt.leaf_hash, receipt.index, cp.size, proof, cp.root_hash)
    leaf = decode_leaf(ledger.store.leaf_inputs(receipt.index, receipt.index + 1)[0])
    assert (leaf.kind, leaf.entry_hash, leaf.log_time) == (
        "event",
        receipt.entry_hash,
        receipt.log_time,
    )


def test_leaf_entries_rebuild_the_checkpoint_root(ledger: Harness) -> None:
    device = ledger.device("acme")
    ledger.submit([ledger.commission(device, f"CYL-{n:04d}") for n in range(7)])
    cp = open_checkpoint(ledger.checkpoint() or "", ledger.trusted().log)
    leaves = ledger.store.leaf_inputs(0, cp.size)
    assert len(leaves) == cp.size == 9
    assert root_from_leaf_hashes(leaf_hash(leaf) for leaf in leaves) == cp.root_hash


def test_resend_returns_the_original_receipt_even_after_the_head_moved_and_a_restart(
    ledger: Harness,
) -> None:
    device = ledger.device("acme")
    first = ledger.commission(device, "CYL-0001")
    original = _accepted(ledger.submit([first])[0])
    ledger.submit([ledger.use(device, "CYL-0001")])
    size = ledger.store.log_size()
    restarted = ledger.reopen()
    again = _accepted(restarted.submit([first])[0])
    assert again.duplicate and not original.duplicate
    assert again.receipt == original.receipt
    assert restarted.store.log_size() == size
    restarted.store.engine.dispose()


def test_a_stale_head_is_a_conflict_naming_the_current_head(ledger: Harness) -> None:
    device = ledger.device("acme")
    ledger.submit([ledger.commission(device, "CYL-0001")])
    base = dict(ledger.heads)
    winner = ledger.use(device, "CYL-0001", "1")
    ledger.heads.clear()
    ledger.heads.update(base)
    loser = ledger.use(device, "CYL-0001", "2")
    accepted = _accepted(ledger.submit([winner])[0])
    size = ledger.store.log_size()
    error = _rejected(ledger.submit([loser])[0]).error
    assert isinstance(error, StaleHeadError)
    assert error.context["head_seq"] == 1
    assert error.context["head_hash"] == format_hash(accepted.receipt.entry_hash)
    assert ledger.store.log_size() == size


def test_chain_start_and_continuation_rules(ledger: Harness) -> None:
    device = ledger.device("acme")
    ledger.submit([ledger.commission(device, "CYL-0001")])
    ledger.heads.pop("CYL-0001")
    assert isinstance(
        _rejected(ledger.submit([ledger.commission(device, "CYL-0001")])[0]).error, ItemExistsError
    )
    other = ledger.device("acme", shared_heads=False)
    other.learn("CYL-9999", 0, b"\x00" * 32)
    assert isinstance(
        _rejected(ledger.submit([ledger.use(other, "CYL-9999")])[0]).error, UnknownItemError
    )


def test_signature_and_key_rejections_write_nothing(ledger: Harness) -> None:
    device = ledger.device("acme")
    expired = ledger.device(
        "acme", valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z"
    )
    forged = ledger.commission(device, "CYL-0001")
    forged["signature"] = {
        **forged["signature"],
        "value": ledger.commission(device, "CYL-0002")["signature"]["value"],
    }  # type: ignore[dict-item,index]
    ledger.heads.clear()
    stranger = ledger.device("acme")
    stranger.signer = Ed25519Signer.generate()
    size = ledger.store.log_size()
    outcomes = ledger.submit(
        [
            forged,
            ledger.commission(expired, "CYL-0003"),
            ledger.commission(stranger, "CYL-0004"),
            {"body": {}, "signature": {"alg": "ed25519", "value": ""}},
        ]
    )
    errors = [type(_rejected(outcome).error) for outcome in outcomes]
    assert errors == [
        SignatureInvalidError,
        KeyNotValidAtLogTimeError,
        UnknownKeyError,
        MalformedEventError,
    ]
    assert ledger.store.log_size() == size


def test_a_batch_is_atomic_per_connected_group_and_indices_stay_gapless(ledger: Harness) -> None:
    device = ledger.device("acme")
    ledger.submit([ledger.commission(device, "DRUM-0001"), ledger.commission(device, "CYL-0001")])
    decant = device.event(
        "transform",
        [("DRUM-0001", "input"), ("BTL-0001", "output"), ("BTL-0002", "output")],
        {
            "kind": "decant",
            "inputs": [{"code": "DRUM-0001", "quantity": {"value": "10", "unit": "kg"}}],
            "outputs": [
                {"code": "BTL-0001", "quantity": {"value": "5", "unit": "kg"}},
                {"code": "BTL-0002", "quantity": {"value": "5", "unit": "kg"}},
            ],
        },
        time=ledger.time(),
    )
    use_bottle = ledger.use(device, "BTL-0002")
    ledger.heads.pop("CYL-0001")
    bad = ledger.commission(device, "CYL-0001")  # the item exists: this group fails
    fine = ledger.commission(device, "CYL-0002")
    size = ledger.store.log_size()
    outcomes = ledger.submit([decant, bad, use_bottle, fine])
    assert [type(o).__name__ for o in outcomes] == ["Accepted", "Rejected", "Accepted", "Accepted"]
    indices = sorted(_accepted(o).receipt.index for o in outcomes if isinstance(o, Accepted))
    assert indices == list(range(size, size + 3))
    head = ledger.store.item_head("BTL-0002")
    assert head is not None and head.seq == 1
    assert ledger.audit().intact


def test_a_failure_rejects_every_event_of_its_group(ledger: Harness) -> None:
    device = ledger.device("acme")
    ledger.submit([ledger.commission(device, "CYL-0001")])
    step = ledger.use(device, "CYL-0001")
    ledger.heads.pop("CYL-0001")
    clash = ledger.commission(device, "CYL-0001")
    outcomes = ledger.submit([step, clash])
    assert isinstance(_rejected(outcomes[0]).error, GroupRejectedError)
    assert isinstance(_rejected(outcomes[1]).error, ItemExistsError)


def test_an_in_batch_duplicate_is_accepted_once(ledger: Harness) -> None:
    device = ledger.device("acme")
    event = ledger.commission(device, "CYL-0001")
    first, second = ledger.submit([event, event])
    assert not _accepted(first).duplicate and _accepted(second).duplicate
    assert _accepted(first).receipt == _accepted(second).receipt


def test_checkpoints_of_an_empty_log_and_of_nothing_new(ledger: Harness) -> None:
    empty = ledger.checkpoint()
    assert empty is not None
    assert open_checkpoint(empty, ledger.trusted().log).size == 0
    assert ledger.checkpoint() is None
    device = ledger.device("acme")
    ledger.submit([ledger.commission(device, "CYL-0001")])
    assert open_checkpoint(ledger.checkpoint() or "", ledger.trusted().log).size == 3
    assert ledger.checkpoint() is None
    assert ledger.audit().intact


def test_a_rejection_before_the_store_rejects_its_whole_group_and_nothing_else(
    ledger: Harness,
) -> None:
    device = ledger.device("acme")
    first = ledger.commission(device, "CYL-0001")
    forged = ledger.use(device, "CYL-0001")
    forged["signature"] = {**forged["signature"], "value": first["signature"]["value"]}  # type: ignore[dict-item,index]
    unrelated = ledger.commission(device, "CYL-0002")
    outcomes = ledger.submit([first, forged, unrelated])
    assert isinstance(_rejected(outcomes[0]).error, GroupRejectedError)
    assert isinstance(_rejected(outcomes[1]).error, SignatureInvalidError)
    _accepted(outcomes[2])
    assert ledger.store.item_head("CYL-0001") is None
