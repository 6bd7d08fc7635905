"""plan_append, the pure half of the ingest path, with hand-built AppendContexts (no DB)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.append import (
    Accepted,
    AppendContext,
    AppendPlan,
    ItemHead,
    Rejected,
    connected_groups,
    plan_append,
)
from ledger.builder import DeviceSession
from ledger.canonical import format_hash
from ledger.certificates import TrustStore, issue_certificate
from ledger.envelope import SignedEvent, open_envelope, sign_body
from ledger.errors import (
    GroupRejectedError,
    ItemExistsError,
    KeyNotValidAtLogTimeError,
    StaleHeadError,
    UnknownItemError,
    UnknownKeyError,
)
from ledger.leaf import LeafRecord, decode_leaf
from ledger.merkle import Frontier, leaf_hash
from ledger.signing import ED25519, Ed25519Signer
from ledger.statements import Receipt

ROOT = Ed25519Signer.from_seed(b"\x11" * 32)
ORG = Ed25519Signer.from_seed(b"\x12" * 32)
DEVICE = Ed25519Signer.from_seed(b"\x13" * 32)
STRANGER = Ed25519Signer.from_seed(b"\x14" * 32)
LOG = Ed25519Signer.from_seed(b"\x15" * 32)
ORIGIN = "chemtrace.test/log"
LOG_TIME = "2026-03-01T10:00:00.000000Z"
ACTOR = "sha256:" + "c3" * 32
QTY = {"value": "5", "unit": "kg"}


def trust_store() -> TrustStore:
    trust = TrustStore(root_algorithm=ED25519, root_public_key=ROOT.public_key)
    for issuer, subject, role, until in [
        (ROOT, ORG, "org", "2027-01-01T00:00:00Z"),
        (ORG, DEVICE, "device", "2026-06-01T00:00:00Z"),
    ]:
        trust.add(
            issue_certificate(
                issuer,
                role=role,  # type: ignore[arg-type]
                subject_algorithm=ED25519,
                subject_public_key=subject.public_key,
                org="acme-chem",
                valid_from="2026-01-01T00:00:00Z",
                valid_until=until,
            )
        )
    return trust


TRUST = trust_store()


def session(signer: Ed25519Signer = DEVICE) -> DeviceSession:
    return DeviceSession(signer=signer, org="acme-chem", actor=ACTOR, catalog_version="2026.1")


def commission(dev: DeviceSession, code: str) -> SignedEvent:
    data = {"chemical": "2.3", "quantity": QTY, "lot": "LOT-1", "packaging": "drum"}
    return open_envelope(dev.event("commission", [code], data, time="2026-03-01T08:00:00Z"))


def use(dev: DeviceSession, code: str) -> SignedEvent:
    return open_envelope(dev.event("use", [code], {"quantity": QTY}, time="2026-03-01T09:00:00Z"))


def transform(dev: DeviceSession, source: str, target: str) -> SignedEvent:
    data = {
        "kind": "decant",
        "inputs": [{"code": source, "quantity": QTY}],
        "outputs": [{"code": target, "quantity": QTY}],
    }
    items = [(source, "input"), (target, "output")]
    return open_envelope(dev.event("transform", items, data, time="2026-03-01T09:10:00Z"))


def frontier_of(size: int) -> Frontier:
    frontier = Frontier.empty()
    for index in range(size):
        frontier.append(leaf_hash(index.to_bytes(8, "big")))
    return frontier


def context(
    *,
    heads: Mapping[str, ItemHead] | None = None,
    existing: Mapping[bytes, Receipt] | None = None,
    next_index: int = 0,
    log_time: str = LOG_TIME,
    trust: TrustStore = TRUST,
) -> AppendContext:
    return AppendContext(
        origin=ORIGIN,
        log_time=log_time,
        next_index=next_index,
        frontier=frontier_of(next_index),
        heads=dict(heads or {}),
        existing=dict(existing or {}),
        trust=trust,
    )


def head_of(event: SignedEvent, index: int) -> dict[str, ItemHead]:
    """The heads an already-logged ``event`` left, at log ``index``."""
    return {
        link.code: ItemHead(link.code, link.seq, event.event_hash, index)
        for link in event.body.items
    }


def accepted(plan: AppendPlan, position: int) -> Receipt:
    outcome = plan.outcomes[position]
    assert isinstance(outcome, Accepted), outcome
    return outcome.receipt


def rejected(plan: AppendPlan, position: int) -> Any:
    outcome = plan.outcomes[position]
    assert isinstance(outcome, Rejected), outcome
    return outcome.error


# --- the happy path -------------------------------------------------------------------


def test_genesis_event_is_written_with_a_verifiable_receipt() -> None:
    event = commission(session(), "DRUM-0001")
    plan = plan_append([event], context(next_index=5), LOG)
    receipt = accepted(plan, 0)
    assert plan.outcomes == [Accepted(receipt, duplicate=False)]
    receipt.verify(ED25519, LOG.public_key)
    assert (receipt.origin, receipt.index, receipt.log_time) == (ORIGIN, 5, LOG_TIME)
    assert receipt.entry_hash == event.event_hash
    [row] = plan.events
    assert row.event is event
    assert row.receipt == receipt
    assert row.entry.index == 5
    assert row.entry.leaf == LeafRecord("event", event.event_hash, LOG_TIME)
    assert decode_leaf(row.entry.leaf_input) == row.entry.leaf
    assert row.entry.leaf_hash == leaf_hash(row.entry.leaf_input) == receipt.leaf_hash
    assert plan.heads == {"DRUM-0001": ItemHead("DRUM-0001", 0, event.event_hash, 5)}
    assert plan.next_index == 6


def test_continuation_extends_the_committed_head() -> None:
    dev = session()
    first = commission(dev, "DRUM-0001")
    second = use(dev, "DRUM-0001")
    plan = plan_append([second], context(heads=head_of(first, 3), next_index=4), LOG)
    assert accepted(plan, 0).index == 4
    assert plan.heads["DRUM-0001"] == ItemHead("DRUM-0001", 1, second.event_hash, 4)


def test_a_chain_inside_one_batch() -> None:
    dev = session()
    events = [commission(dev, "DRUM-0001"), use(dev, "DRUM-0001"), use(dev, "DRUM-0001")]
    plan = plan_append(events, context(next_index=10), LOG)
    assert [accepted(plan, i).index for i in range(3)] == [10, 11, 12]
    assert plan.heads["DRUM-0001"] == ItemHead("DRUM-0001", 2, events[2].event_hash, 12)


# --- resends --------------------------------------------------------------------------


def test_resend_returns_the_stored_receipt_even_after_the_head_moved() -> None:
    dev = session()
    first = commission(dev, "DRUM-0001")
    later = [use(dev, "DRUM-0001") for _ in range(3)]
    stored = Receipt(ORIGIN, first.event_hash, b"\x01" * 32, 0, "2026-03-01T08:00:01Z").signed_by(
        LOG
    )
    # The head is now the third use (seq 3): the resent genesis would fail every head check.
    ctx = context(heads=head_of(later[-1], 3), existing={first.event_hash: stored}, next_index=4)
    plan = plan_append([first], ctx, LOG)
    outcome = plan.outcomes[0]
    assert isinstance(outcome, Accepted)
    assert outcome.duplicate is True
    assert outcome.receipt is stored
    assert plan.events == []
    assert plan.nodes == []
    assert plan.heads == {}
    assert plan.next_index == 4


def test_resend_is_recognised_before_the_key_check() -> None:
    # A resend after the device certificate expired still gets its original receipt.
    dev = session()
    first = commission(dev, "DRUM-0001")
    stored = Receipt(ORIGIN, first.event_hash, b"\x02" * 32, 0, LOG_TIME).signed_by(LOG)
    ctx = context(existing={first.event_hash: stored}, log_time="2026-12-01T00:00:00Z")
    assert plan_append([first], ctx, LOG).outcomes == [Accepted(stored, duplicate=True)]


def test_resend_next_to_a_new_event_on_the_same_item() -> None:
    dev = session()
    first = commission(dev, "DRUM-0001")
    second = use(dev, "DRUM-0001")
    stored = Receipt(ORIGIN, first.event_hash, b"\x03" * 32, 0, LOG_TIME).signed_by(LOG)
    ctx = context(heads=head_of(first, 0), existing={first.event_hash: stored}, next_index=1)
    plan = plan_append([first, second], ctx, LOG)
    assert plan.outcomes[0] == Accepted(stored, duplicate=True)
    assert accepted(plan, 1).index == 1
    assert [row.event for row in plan.events] == [second]


def test_in_batch_duplicate_is_accepted_once() -> None:
    dev = session()
    first = commission(dev, "DRUM-0001")
    plan = plan_append([first, first, first], context(next_index=7), LOG)
    receipt = accepted(plan, 0)
    assert plan.outcomes == [
        Accepted(receipt, duplicate=False),
        Accepted(receipt, duplicate=True),
        Accepted(receipt, duplicate=True),
    ]
    assert len(plan.events) == 1
    assert plan.next_index == 8


def test_in_batch_duplicate_between_chain_steps() -> None:
    dev = session()
    first, second = commission(dev, "DRUM-0001"), use(dev, "DRUM-0001")
    plan = plan_append([first, second, first], context(), LOG)
    assert accepted(plan, 0).index == 0
    assert accepted(plan, 1).index == 1
    assert plan.outcomes[2] == Accepted(accepted(plan, 0), duplicate=True)
    assert [row.event for row in plan.events] == [first, second]


# --- rejections -----------------------------------------------------------------------


def test_stale_head_names_the_current_head() -> None:
    dev = session()
    commission(dev, "DRUM-0001")
    mine = use(dev, "DRUM-0001")  # seq 1 on top of the commission
    other_device = session()
    other_device.learn("DRUM-0001", 0, b"\x42" * 32)
    theirs = use(other_device, "DRUM-0001")  # stands in for the event that won the race
    current = ItemHead("DRUM-0001", 1, theirs.event_hash, 8)
    plan = plan_append([mine], context(heads={"DRUM-0001": current}, next_index=9), LOG)
    error = rejected(plan, 0)
    assert isinstance(error, StaleHeadError)
    assert error.code == "stale_head"
    assert error.context == {
        "item": "DRUM-0001",
        "head_seq": 1,
        "head_hash": format_hash(theirs.event_hash),
    }
    assert plan.events == [] and plan.nodes == [] and plan.next_index == 9


@pytest.mark.parametrize("head_seq", [1, 2, 5])
def test_stale_head_when_the_seq_does_not_follow(head_seq: int) -> None:
    dev = session()
    first = commission(dev, "DRUM-0001")
    mine = use(dev, "DRUM-0001")
    current = ItemHead("DRUM-0001", head_seq, first.event_hash, 0)
    error = rejected(plan_append([mine], context(heads={"DRUM-0001": current}), LOG), 0)
    assert isinstance(error, StaleHeadError)
    assert error.context["head_seq"] == head_seq
    assert error.context["head_hash"] == format_hash(first.event_hash)


def test_continuing_an_unknown_item() -> None:
    dev = session()
    commission(dev, "DRUM-0001")
    error = rejected(plan_append([use(dev, "DRUM-0001")], context(), LOG), 0)
    assert isinstance(error, UnknownItemError)
    assert error.context == {"item": "DRUM-0001"}


def test_starting_an_existing_item() -> None:
    other = commission(session(), "DRUM-0001")
    fresh = open_envelope(
        session().event(
            "commission",
            ["DRUM-0001"],
            {"chemical": "2.3", "quantity": QTY, "lot": "LOT-2", "packaging": "drum"},
            time="2026-03-01T08:00:00Z",
        )
    )
    error = rejected(plan_append([fresh], context(heads=head_of(other, 0)), LOG), 0)
    assert isinstance(error, ItemExistsError)
    assert error.context == {"item": "DRUM-0001"}


def test_uncertified_device_is_rejected() -> None:
    event = commission(session(STRANGER), "DRUM-0001")
    error = rejected(plan_append([event], context(), LOG), 0)
    assert isinstance(error, UnknownKeyError)


@pytest.mark.parametrize("log_time", ["2026-06-01T00:00:00Z", "2025-12-31T23:59:59.999999Z"])
def test_key_is_judged_at_log_time(log_time: str) -> None:
    event = commission(session(), "DRUM-0001")
    error = rejected(plan_append([event], context(log_time=log_time), LOG), 0)
    assert isinstance(error, KeyNotValidAtLogTimeError)


def test_wrong_org_for_the_device_is_rejected() -> None:
    dev = DeviceSession(signer=DEVICE, org="other-co", actor=ACTOR, catalog_version="2026.1")
    event = commission(dev, "DRUM-0001")
    assert isinstance(rejected(plan_append([event], context(), LOG), 0), UnknownKeyError)


# --- groups ---------------------------------------------------------------------------


def _group_scenario(*, break_b: bool) -> tuple[list[SignedEvent], AppendContext]:
    """A and C exist; batch: use A, transform A -> B, use B, use C."""
    dev = session()
    a0, c0 = commission(dev, "DRUM-000A"), commission(dev, "DRUM-000C")
    use_a = use(dev, "DRUM-000A")
    split = transform(dev, "DRUM-000A", "DRUM-000B")
    if break_b:
        liar = session()
        liar.learn("DRUM-000B", 0, b"\x66" * 32)  # a head that never existed
        use_b = use(liar, "DRUM-000B")
    else:
        use_b = use(dev, "DRUM-000B")
    use_c = use(dev, "DRUM-000C")
    heads = {**head_of(a0, 0), **head_of(c0, 1)}
    return [use_a, split, use_b, use_c], context(heads=heads, next_index=2)


def test_connected_groups_follow_items_through_a_transform() -> None:
    events, _ = _group_scenario(break_b=False)
    assert connected_groups(events) == [[0, 1, 2], [3]]


def test_a_failing_event_rejects_its_whole_group_only() -> None:
    events, ctx = _group_scenario(break_b=True)
    plan = plan_append(events, ctx, LOG)
    cause = rejected(plan, 2)
    assert isinstance(cause, StaleHeadError)
    assert cause.context["item"] == "DRUM-000B"
    for position in (0, 1):
        error = rejected(plan, position)
        assert isinstance(error, GroupRejectedError)
        assert error.code == "group_rejected"
        assert error.context == {"cause": "stale_head"}
    # The unrelated event still goes in, and takes the first free index.
    assert accepted(plan, 3).index == 2
    assert [row.event for row in plan.events] == [events[3]]
    assert set(plan.heads) == {"DRUM-000C"}
    assert plan.next_index == 3


def test_an_atomic_batch_is_one_group_whatever_its_items() -> None:
    events, ctx = _group_scenario(break_b=True)
    plan = plan_append(events, ctx, LOG, atomic=True)
    assert isinstance(rejected(plan, 2), StaleHeadError)
    for position in (0, 1, 3):  # the unrelated event goes down with the rest
        assert isinstance(rejected(plan, position), GroupRejectedError)
    assert plan.events == []
    assert plan.heads == {}
    assert plan.next_index == ctx.next_index
    whole, ctx = _group_scenario(break_b=False)
    assert len(plan_append(whole, ctx, LOG, atomic=True).events) == len(whole)


def test_a_later_failure_also_rejects_events_after_it_in_the_group() -> None:
    events, ctx = _group_scenario(break_b=False)
    # A rival "use A" from another device that saw the same head: it loses to events[0].
    rival_device = session()
    rival_device.learn("DRUM-000A", 0, ctx.heads["DRUM-000A"].head_hash)
    rival = open_envelope(
        rival_device.event(
            "use", ["DRUM-000A"], {"quantity": QTY, "purpose": "rival"}, time=LOG_TIME
        )
    )
    plan = plan_append([events[0], rival, events[1]], ctx, LOG)
    assert isinstance(rejected(plan, 1), StaleHeadError)
    assert isinstance(rejected(plan, 0), GroupRejectedError)
    assert isinstance(rejected(plan, 2), GroupRejectedError)
    assert plan.events == []


def test_whole_valid_batch_is_written_in_group_order() -> None:
    events, ctx = _group_scenario(break_b=False)
    plan = plan_append(events, ctx, LOG)
    indices = [accepted(plan, i).index for i in range(4)]
    assert sorted(indices) == [2, 3, 4, 5]
    # Within a group, the chain order is the submission order.
    assert indices[0] < indices[1] < indices[2]
    assert plan.heads["DRUM-000A"].seq == 2
    assert plan.heads["DRUM-000B"] == ItemHead("DRUM-000B", 1, events[2].event_hash, indices[2])
    assert plan.heads["DRUM-000C"].seq == 1


def test_an_existing_duplicate_in_a_rejected_group_stays_accepted() -> None:
    events, ctx = _group_scenario(break_b=True)
    stored = Receipt(ORIGIN, events[0].event_hash, b"\x04" * 32, 1, LOG_TIME).signed_by(LOG)
    ctx = AppendContext(
        origin=ctx.origin,
        log_time=ctx.log_time,
        next_index=ctx.next_index,
        frontier=frontier_of(ctx.next_index),
        heads={**ctx.heads, "DRUM-000A": ItemHead("DRUM-000A", 1, events[0].event_hash, 1)},
        existing={events[0].event_hash: stored},
        trust=ctx.trust,
    )
    plan = plan_append(events, ctx, LOG)
    assert plan.outcomes[0] == Accepted(stored, duplicate=True)
    assert isinstance(rejected(plan, 1), GroupRejectedError)
    assert isinstance(rejected(plan, 2), StaleHeadError)
    assert accepted(plan, 3).index == 2


def test_in_batch_duplicate_inside_a_rejected_group_is_rejected() -> None:
    events, ctx = _group_scenario(break_b=True)
    plan = plan_append([events[0], events[0], events[1], events[2]], ctx, LOG)
    assert connected_groups([events[0], events[0], events[1], events[2]]) == [[0, 1, 2, 3]]
    for position in (0, 1, 2):
        assert isinstance(rejected(plan, position), GroupRejectedError)
    assert isinstance(rejected(plan, 3), StaleHeadError)
    assert plan.events == []


# --- indices and Merkle nodes ---------------------------------------------------------


@pytest.mark.parametrize("existing_size", [0, 1, 6, 7, 8, 31])
def test_indices_are_contiguous_and_nodes_match_frontier(existing_size: int) -> None:
    dev = session()
    events = [commission(dev, f"DRUM-{n:04d}") for n in range(5)]
    events += [use(dev, "DRUM-0000"), use(dev, "DRUM-0003")]
    plan = plan_append(events, context(next_index=existing_size), LOG)
    receipts = [accepted(plan, i) for i in range(len(events))]
    assert sorted(r.index for r in receipts) == list(
        range(existing_size, existing_size + len(events))
    )
    assert [row.entry.index for row in plan.events] == sorted(r.index for r in receipts)
    assert plan.next_index == existing_size + len(events)

    reference = frontier_of(existing_size)
    expected_nodes = []
    for row in plan.events:
        expected_nodes.extend(reference.append(row.entry.leaf_hash))
    assert plan.nodes == expected_nodes
    assert reference.size == plan.next_index
    for receipt in receipts:
        receipt.verify(ED25519, LOG.public_key)
        assert receipt.leaf_hash == leaf_hash(
            LeafRecord("event", receipt.entry_hash, LOG_TIME).encode()
        )


def test_rejected_groups_leave_no_gap_in_indices() -> None:
    dev = session()
    good = [commission(dev, f"DRUM-{n:04d}") for n in range(3)]
    lost = session()
    lost.learn("DRUM-9999", 4, b"\x42" * 32)
    bad = use(lost, "DRUM-9999")  # continues a chain the log never had
    plan = plan_append([good[0], bad, good[1], good[2]], context(next_index=3), LOG)
    assert sorted(accepted(plan, i).index for i in (0, 2, 3)) == [3, 4, 5]
    assert isinstance(rejected(plan, 1), UnknownItemError)
    assert plan.next_index == 6


# --- connected_groups as a property ---------------------------------------------------

POOL = [f"ITEM-{n}" for n in range(7)]
PREV = "sha256:" + "ab" * 32


def _event_touching(codes: Sequence[str]) -> SignedEvent:
    body = {
        "v": 1,
        "type": "store_in",
        "time": "2026-03-01T08:00:00Z",
        "org": "acme-chem",
        "device_key": DEVICE.key_id,
        "actor": ACTOR,
        "items": [{"code": code, "seq": 1, "prev": PREV, "role": "subject"} for code in codes],
        "catalog_version": "2026.1",
        "data": {},
    }
    return open_envelope(sign_body(body, DEVICE))  # type: ignore[arg-type]


_EVENTS: dict[tuple[str, ...], SignedEvent] = {}


def _cached(codes: tuple[str, ...]) -> SignedEvent:
    if codes not in _EVENTS:
        _EVENTS[codes] = _event_touching(codes)
    return _EVENTS[codes]


item_sets = st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True).map(tuple)


def _reference_components(item_lists: Sequence[Sequence[str]]) -> list[set[int]]:
    unseen = set(range(len(item_lists)))
    components = []
    while unseen:
        start = min(unseen)
        component, frontier = {start}, [start]
        while frontier:
            here = frontier.pop()
            for other in list(unseen - component):
                if set(item_lists[here]) & set(item_lists[other]):
                    component.add(other)
                    frontier.append(other)
        unseen -= component
        components.append(component)
    return components


@settings(max_examples=200, deadline=None)
@given(st.lists(item_sets, max_size=12))
def test_connected_groups_property(item_lists: list[tuple[str, ...]]) -> None:
    events = [_cached(codes) for codes in item_lists]
    groups = connected_groups(events)
    flat = [position for group in groups for position in group]
    assert sorted(flat) == list(range(len(events)))  # a partition of the positions
    for group in groups:
        assert group == sorted(group)  # order kept inside a group
    assert [group[0] for group in groups] == sorted(group[0] for group in groups)
    assert [set(group) for group in groups] == _reference_components(item_lists)


@settings(max_examples=50, deadline=None)
@given(st.lists(item_sets, min_size=1, max_size=8))
def test_groups_with_distinct_events_never_share_items(item_lists: list[tuple[str, ...]]) -> None:
    events = [_cached(codes) for codes in item_lists]
    groups = connected_groups(events)
    touched = [{code for p in group for code in item_lists[p]} for group in groups]
    for i, mine in enumerate(touched):
        for theirs in touched[i + 1 :]:
            assert not mine & theirs
