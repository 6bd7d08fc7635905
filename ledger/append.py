"""Deciding what an append writes: the pure half of the ingest path.

The store opens a transaction, locks what it must and hands this module the
facts it read (chain heads, already-logged hashes, the tree's right edge, the
next index and the log time). :func:`plan_append` returns every row to write
and one outcome per submitted event; the store writes the rows in the same
transaction. No SQL here, and no I/O.

Rules, in order, per event:

1. a resend (same event hash) returns the original receipt: it is recognised
   *before* the head check, so it works after the head has moved on;
2. the device key must be certified for the event's organisation at the log time;
3. the custody policy (:mod:`ledger.custody`) must relate the writer to every item it
   names: a stranger is refused before the head is looked at, so a refusal says nothing
   about the head;
4. every item link must extend its item's current head exactly (``seq = head+1``
   and ``prev = head hash``), or start a new chain where the event type may;
5. events are grouped into connected components by the items they touch; a
   group is written whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ledger.canonical import format_hash
from ledger.certificates import TrustStore
from ledger.custody import (
    DEFAULT_POLICY,
    Custody,
    CustodyPolicy,
    WriterKind,
    advance,
    genesis,
    judge,
)
from ledger.envelope import SignedEvent
from ledger.errors import (
    UNKNOWN_ITEM_MESSAGE,
    AppendRejectedError,
    CodeIssuedToAnotherOrgError,
    GroupRejectedError,
    ItemExistsError,
    LedgerError,
    StaleHeadError,
    UnknownCodeError,
    UnknownItemError,
)
from ledger.leaf import LeafRecord
from ledger.merkle import Frontier, NodeId, leaf_hash
from ledger.signing import Signer
from ledger.statements import Receipt
from ledger.timefmt import parse_utc


@dataclass(frozen=True, slots=True)
class ItemHead:
    """An item's chain head: its newest event."""

    code: str
    seq: int
    head_hash: bytes
    index: int


@dataclass(frozen=True, slots=True)
class LogEntryRow:
    """One leaf of the log."""

    index: int
    leaf: LeafRecord
    leaf_input: bytes
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class EventRow:
    """An accepted event with its log position and receipt."""

    event: SignedEvent
    entry: LogEntryRow
    receipt: Receipt


@dataclass(frozen=True, slots=True)
class Accepted:
    """The event is in the log (``duplicate`` if it already was)."""

    receipt: Receipt
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    """The event was not written; ``error`` says why."""

    error: LedgerError


Outcome = Accepted | Rejected


@dataclass(slots=True)
class AppendPlan:
    """Everything one append transaction writes, and what each submitter hears."""

    outcomes: list[Outcome]
    events: list[EventRow] = field(default_factory=list)
    heads: dict[str, ItemHead] = field(default_factory=dict)
    custody: dict[str, Custody] = field(default_factory=dict)
    nodes: list[tuple[NodeId, bytes]] = field(default_factory=list)
    next_index: int = 0


@dataclass(frozen=True, slots=True)
class AppendContext:
    """The facts the store read inside its transaction."""

    origin: str
    log_time: str
    next_index: int
    frontier: Frontier
    heads: Mapping[str, ItemHead]
    existing: Mapping[bytes, Receipt]
    trust: TrustStore
    issued: Mapping[str, str] | None = None
    """Issued codes and the organisation each was issued to, when issuance is required."""
    custody: Mapping[str, Custody] = field(default_factory=dict)
    """The custody of every named item that has a chain."""
    writer_kinds: Mapping[str, WriterKind] = field(default_factory=dict)
    """Organisations that are test stations or authorities (the rest are enterprises)."""
    policy: CustodyPolicy = DEFAULT_POLICY


def connected_groups(events: Sequence[SignedEvent]) -> list[list[int]]:
    """Partition event positions into groups that share items, keeping order."""
    parent = list(range(len(events)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_holder: dict[str, int] = {}
    for position, event in enumerate(events):
        for link in event.body.items:
            other = first_holder.setdefault(link.code, position)
            parent[find(position)] = find(other)
    groups: dict[int, list[int]] = {}
    for position in range(len(events)):
        groups.setdefault(find(position), []).append(position)
    return sorted(groups.values(), key=lambda group: group[0])


def plan_append(
    events: Sequence[SignedEvent],
    context: AppendContext,
    log_signer: Signer,
    *,
    atomic: bool = False,
) -> AppendPlan:
    """Decide the rows and outcomes for ``events`` (signatures already verified).

    ``atomic`` makes the whole batch one group: written whole or not at all (an EPCIS
    capture with ``GS1-Capture-Error-Behaviour: rollback``).
    """
    outcomes: list[Outcome | None] = [None] * len(events)
    plan = AppendPlan(outcomes=[], next_index=context.next_index)
    log_moment = parse_utc(context.log_time)
    groups = [list(range(len(events)))] if atomic and events else connected_groups(events)
    for group in groups:
        group_heads: dict[str, ItemHead] = {}
        group_custody: dict[str, Custody] = {}
        staged: list[tuple[int, SignedEvent]] = []
        seen: set[bytes] = set()
        for position in group:
            event = events[position]
            known = context.existing.get(event.event_hash)
            if known is not None:
                outcomes[position] = Accepted(known, duplicate=True)
                continue
            if event.event_hash in seen:
                continue
            try:
                context.trust.device_certificate(event.key_id, event.body.org, log_moment)
                _require_issued(event, context.issued)
                custody = _judge_custody(event, context, (group_custody, plan.custody))
                _advance_heads(event, group_heads, (plan.heads, context.heads))
                group_custody.update(custody)
            except AppendRejectedError as exc:
                outcomes[position] = Rejected(exc)
                reject_group(outcomes, group, exc)
                break
            seen.add(event.event_hash)
            staged.append((position, event))
        else:
            _write_group(staged, context, plan, outcomes, log_signer)
            plan.custody.update(group_custody)
    receipts = {row.event.event_hash: row.receipt for row in plan.events}
    for position, event in enumerate(events):
        if outcomes[position] is None:  # an in-batch resend of an event accepted above
            outcomes[position] = Accepted(receipts[event.event_hash], duplicate=True)
    plan.outcomes = [outcome for outcome in outcomes if outcome is not None]
    return plan


def _write_group(
    staged: list[tuple[int, SignedEvent]],
    context: AppendContext,
    plan: AppendPlan,
    outcomes: list[Outcome | None],
    log_signer: Signer,
) -> None:
    for position, event in staged:
        leaf = LeafRecord("event", event.event_hash, context.log_time)
        leaf_input = leaf.encode()
        hashed = leaf_hash(leaf_input)
        index = plan.next_index
        plan.next_index += 1
        plan.nodes.extend(context.frontier.append(hashed))
        receipt = Receipt(
            origin=context.origin,
            entry_hash=event.event_hash,
            leaf_hash=hashed,
            index=index,
            log_time=context.log_time,
        ).signed_by(log_signer)
        plan.events.append(EventRow(event, LogEntryRow(index, leaf, leaf_input, hashed), receipt))
        for link in event.body.items:
            plan.heads[link.code] = ItemHead(link.code, link.seq, event.event_hash, index)
        outcomes[position] = Accepted(receipt)


def _require_issued(event: SignedEvent, issued: Mapping[str, str] | None) -> None:
    if issued is None:
        return
    for link in event.body.items:
        owner = issued.get(link.code)
        if owner is None:
            raise UnknownCodeError("no registry batch issued this code", item=link.code)
        if link.seq == 0 and owner != event.body.org:
            # the issuer is not named: the writer may not know who holds codes it never held
            raise CodeIssuedToAnotherOrgError(
                "only the organisation a code was issued to may start its chain",
                item=link.code,
            )


def _judge_custody(
    event: SignedEvent,
    context: AppendContext,
    staged: tuple[Mapping[str, Custody], ...],
) -> dict[str, Custody]:
    """Judge the writer against every item's custody; return each item's custody after.

    Raises:
        NotRelatedError: the writer is a stranger to an item.
        NotHolderError: a former party's event signed after its involvement ended.
    """
    body = event.body
    kind = context.writer_kinds.get(body.org, "enterprise")
    after: dict[str, Custody] = {}
    for link in body.items:
        current = next(
            (known[link.code] for known in (*staged, context.custody) if link.code in known),
            None,
        )
        judge(body, link, current, kind=kind, policy=context.policy)
        if link.seq == 0:
            after[link.code] = genesis(body)
        elif current is not None:
            after[link.code] = advance(current, body, event.event_hash)
    return after


def _advance_heads(
    event: SignedEvent,
    staged: dict[str, ItemHead],
    committed: tuple[Mapping[str, ItemHead], ...],
) -> None:
    """Check every link against the current heads and stage the new heads.

    Raises:
        StaleHeadError: a link does not extend the current head.
        ItemExistsError: a chain-starting link names an existing item.
        UnknownItemError: a link continues a chain that does not exist.
    """
    for link in event.body.items:
        current = staged.get(link.code) or next(
            (heads[link.code] for heads in committed if link.code in heads), None
        )
        if link.seq == 0:
            if current is not None:
                raise ItemExistsError("item already has a chain", item=link.code)
        elif current is None:
            raise UnknownItemError(UNKNOWN_ITEM_MESSAGE, item=link.code)
        elif link.seq != current.seq + 1 or link.prev != format_hash(current.head_hash):
            raise StaleHeadError(
                "event does not extend the item's current head",
                item=link.code,
                head_seq=current.seq,
                head_hash=format_hash(current.head_hash),
            )
        staged[link.code] = ItemHead(link.code, link.seq, event.event_hash, -1)


def reject_group(outcomes: list[Outcome | None], group: Sequence[int], cause: LedgerError) -> None:
    """Reject every still-undecided event of ``group`` because ``cause`` rejected one of them."""
    for position in group:
        if outcomes[position] is None:
            outcomes[position] = Rejected(GroupRejectedError(cause))
