"""Uploading the outbox, and the decisions a person makes when the log says no.

``sync`` sends waiting events in signing order, in batches, with retries and backoff while the
server is unreachable or overloaded. It is idempotent: an event's identity is its hash, and a
resend of an event the log already holds returns the original receipt (``duplicate``), so a
sync killed at any point and run again neither loses nor duplicates anything.

Every receipt is checked before an event counts as sent: it must name the event's hash, and,
when the device pinned the log key at enrolment, carry the log's signature.

When the log refuses an event, nothing is dropped. The event waits as a conflict or a
rejection, with the events behind it, until a person decides (:func:`explain` says what
happened; :func:`rewrite` and :meth:`Outbox.discard` act):

* ``stale_head``: another device moved one of the item's chains first. Rebase: re-link the
  event to the item's current head and re-sign it (and every waiting event behind it), or
  discard it.
* ``key_not_valid_at_log_time`` / ``key_revoked`` / ``unknown_key``: the device key expired or
  was rotated while the event waited. Re-sign it with the device's current key.
* anything else (``code_issued_to_another_org``, a licence the organisation lacks, …):
  ``rejected``; retry once the cause is fixed, or discard.

Which refusal codes are conflicts, and of which kind, is one table, :data:`CONFLICTS`. A new
conflict code of an existing kind is one entry there; a new kind also needs its name in
:data:`ConflictKind`, its fix in :data:`FITTING` and its words in :func:`explain` (where
mypy asks for every kind).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Literal, TypeVar, assert_never

import httpx

from ledger.builder import DeviceSession, Head
from ledger.canonical import format_hash, parse_hash
from ledger.errors import LedgerError
from ledger.note import parse_vkey
from ledger.signing import ED25519, Signer
from ledger.statements import Receipt
from scanners.client import ApiError, ChemtraceClient, EventResult, ReceiptJson
from scanners.device.home import DeviceError
from scanners.device.outbox import Outbox, OutboxEvent, State

ConflictKind = Literal["stale_head", "key", "custody", "rejected"]
"""What waits for a person: a moved chain (rebase), a key problem (re-sign), custody that
passed on before the event was signed (keep or discard), a rejection."""

CONFLICTS: Final[Mapping[str, ConflictKind]] = {
    "stale_head": "stale_head",
    "key_not_valid_at_log_time": "key",
    "key_revoked": "key",
    "unknown_key": "key",
    "not_holder": "custody",
}
"""The refusal codes that leave an event in ``conflict``, and their kind; any other code
leaves it ``rejected`` (kind ``rejected``)."""
STILL_PENDING = frozenset({"group_rejected"})  # its group's real cause is reported on another
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

_T = TypeVar("_T")


class ServerUnreachableError(DeviceError):
    """The server could not be reached (or stayed overloaded) through every retry."""

    code = "server_unreachable"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits up to min(cap, base·2ⁿ) s."""

    attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def run(self, call: Callable[[], _T], on_wait: Callable[[str, float], None] | None) -> _T:
        for attempt in range(self.attempts):
            try:
                return call()
            except httpx.TransportError as exc:
                reason = f"no connection ({type(exc).__name__})"
            except ApiError as exc:
                if exc.status not in TRANSIENT_STATUS:
                    raise
                reason = f"server busy ({exc.status} {exc.code})"
            if attempt == self.attempts - 1:
                raise ServerUnreachableError(f"{reason} after {self.attempts} attempts")
            delay = self.rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt))
            if on_wait is not None:
                on_wait(reason, delay)
            self.sleep(delay)
        raise AssertionError("unreachable")


@dataclass(slots=True)
class SyncReport:
    sent: int = 0
    duplicates: int = 0
    conflicts: list[OutboxEvent] = field(default_factory=list)
    rejected: list[OutboxEvent] = field(default_factory=list)
    blocked: int = 0
    receipt_faults: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.conflicts or self.rejected or self.blocked or self.receipt_faults)

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent, "duplicates": self.duplicates,
            "conflicts": [event.id for event in self.conflicts],
            "rejected": [event.id for event in self.rejected],
            "blocked": self.blocked, "receipt_faults": self.receipt_faults,
        }  # fmt: skip


def _checked_receipt(
    event: OutboxEvent, raw: ReceiptJson | None, log_vkey: str | None
) -> ReceiptJson | str:
    """The receipt, when it can be trusted for this event; otherwise why not."""
    if raw is None:
        return f"event {event.id}: the log sent no receipt for it"
    try:
        receipt = Receipt.from_json(raw)
        if format_hash(receipt.entry_hash) != event.event_hash:
            return f"event {event.id}: the receipt names another entry"
        if log_vkey is not None:
            receipt.verify(ED25519, parse_vkey(log_vkey).public_key)
    except LedgerError as exc:
        return f"event {event.id}: the receipt does not verify ({exc})"
    return raw


def sync(
    outbox: Outbox,
    client: ChemtraceClient,
    *,
    log_vkey: str | None = None,
    batch_size: int = 50,
    retry: RetryPolicy | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_wait: Callable[[str, float], None] | None = None,
) -> SyncReport:
    """Send every event that may go now; store each outcome as soon as its batch returns.

    Raises:
        ServerUnreachableError: the server stayed unreachable; what was sent stays sent.
    """
    retry = retry or RetryPolicy()
    report = SyncReport()
    ready, _ = outbox.sendable()
    done = 0
    for start in range(0, len(ready), batch_size):
        chunk = ready[start : start + batch_size]
        envelopes = [event.envelope for event in chunk]
        outcome = retry.run(partial(client.submit_batch, envelopes), on_wait)
        updates: list[tuple[int, State, Mapping[str, Any] | None, bool]] = []
        for event, result in zip(chunk, outcome.results, strict=True):
            updates.append(_outcome(event, result, log_vkey, report))
        outbox.apply_outcomes(updates)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, len(ready))
    report.conflicts = outbox.events("conflict")
    report.rejected = outbox.events("rejected")
    report.blocked = len(outbox.sendable()[1])
    return report


def _outcome(
    event: OutboxEvent, result: EventResult, log_vkey: str | None, report: SyncReport
) -> tuple[int, State, Mapping[str, Any] | None, bool]:
    if result["status"] in ("accepted", "duplicate"):
        checked = _checked_receipt(event, result.get("receipt"), log_vkey)
        if isinstance(checked, str):
            report.receipt_faults.append(checked)
            return event.id, "pending", {"code": "receipt_invalid", "detail": checked}, False
        duplicate = result["status"] == "duplicate"
        report.sent += not duplicate
        report.duplicates += duplicate
        return event.id, "sent", checked, duplicate
    problem = dict(result.get("error") or {})
    code = str(problem.get("code", ""))
    if code in STILL_PENDING:
        return event.id, "pending", problem, False
    if code in CONFLICTS:
        return event.id, "conflict", problem, False
    return event.id, "rejected", problem, False


# -- conflicts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Moved:
    """An item whose chain another device moved while this event waited."""

    code: str
    expected_seq: int
    server_head: Head
    steps: list[dict[str, Any]]  # the server's events this device did not know about


@dataclass(frozen=True, slots=True)
class Conflict:
    event: OutboxEvent
    kind: ConflictKind
    message: str
    moved: list[Moved]
    dependents: list[OutboxEvent]
    online: bool

    def server_heads(self) -> dict[str, Head]:
        return {moved.code: moved.server_head for moved in self.moved}


def _kind(event: OutboxEvent) -> ConflictKind:
    return CONFLICTS.get(str((event.problem or {}).get("code", "")), "rejected")


def explain(outbox: Outbox, client: ChemtraceClient | None, event: OutboxEvent) -> Conflict:
    """What happened to ``event``, in words and in data, asking the server when reachable.

    Raises:
        DeviceError: ``nothing_to_resolve``: the event is neither in conflict nor rejected.
    """
    if event.state not in ("conflict", "rejected"):
        raise DeviceError(f"event {event.id} is {event.state}; nothing to resolve",
                          code="nothing_to_resolve")  # fmt: skip
    kind = _kind(event)
    problem = event.problem or {}
    dependents = outbox.dependents(event)
    behind = (
        f" {len(dependents)} later event(s) of these items wait behind it." if dependents else ""
    )
    if kind == "stale_head":
        return _explain_moved(client, event, problem, dependents, behind)
    if kind == "key":
        why = f"refused event {event.id}"
        cause = problem.get("detail", problem.get("code"))
        advice = ("Re-sign it with this device's current key (enrol a new key first if this "
                  "one expired).")  # fmt: skip
    elif kind == "custody":
        why = f"refused event {event.id}"
        cause = ("your organisation's custody of item "
                 f"{problem.get('item', '?')} ended at {problem.get('custody_ended', '?')}, "
                 "before this event was signed")  # fmt: skip
        advice = ("Another holder has the item now, so the log will not take it. Discard it, "
                  "or keep it on this device as a record (it is never sent).")  # fmt: skip
    elif kind == "rejected":
        why = f"rejected event {event.id}"
        cause = f"{problem.get('code')}: {problem.get('detail', '')}"
        advice = "Fix the cause and retry, or discard it."
    else:
        assert_never(kind)
    message = f"the log {why} ({event.type} at {event.event_time}): {cause}. {advice}{behind}"
    return Conflict(event, kind, message, [], dependents, online=False)


def _explain_moved(
    client: ChemtraceClient | None,
    event: OutboxEvent,
    problem: Mapping[str, Any],
    dependents: list[OutboxEvent],
    behind: str,
) -> Conflict:
    """A ``stale_head`` conflict: which items another device moved, and their new steps."""
    moved, online = _moved_items(client, event, problem)
    lines = [f"another device moved the chain of {len(moved)} item(s) before event {event.id} "
             f"({event.type} at {event.event_time}) reached the log:"]  # fmt: skip
    for item in moved:
        lines.append(f"  {item.code}: this device expected step {item.expected_seq}, "
                     f"the log is at step {item.server_head.seq}")  # fmt: skip
        for step in item.steps:
            lines.append(
                f"    step {step['seq']}: {step['type']} by {step['org']}"
                f" at {step.get('site') or '-'} on {step['time']}"
            )
    lines.append("Rebase it onto the log's head (re-link and re-sign) or discard it." + behind)
    return Conflict(event, "stale_head", "\n".join(lines), moved, dependents, online)


def _moved_items(
    client: ChemtraceClient | None, event: OutboxEvent, problem: Mapping[str, Any]
) -> tuple[list[Moved], bool]:
    moved: list[Moved] = []
    if client is not None:
        try:
            for link in event.links():
                raw = client.item(link["code"])["head"]
                if raw is None:
                    continue
                head = Head(int(raw["seq"]), parse_hash(raw["hash"]))
                if head.seq != link["seq"] - 1 or raw["hash"] != link["prev"]:
                    steps = [s for s in client.chain(link["code"]) if s["seq"] >= link["seq"]]
                    moved.append(Moved(link["code"], link["seq"], head, steps))
            return moved, True
        except (httpx.TransportError, ApiError):
            moved = []
    # offline: the refusal itself named the head of the one item it stopped at
    if "head_seq" in problem and "head_hash" in problem:
        seq = next(link["seq"] for link in event.links() if link["code"] == problem.get("item"))
        head = Head(int(problem["head_seq"]), parse_hash(str(problem["head_hash"])))
        moved.append(Moved(str(problem["item"]), seq, head, []))
    return moved, False


def rewrite(
    outbox: Outbox,
    conflict: Conflict,
    signer: Signer,
    *,
    note: str,
) -> list[OutboxEvent]:
    """Re-sign the conflicted event with ``signer`` (re-linking moved items onto the log's
    heads) and every waiting event behind it, replacing them in the outbox at once.

    Raises:
        DeviceError: ``key_rotation_needed`` when a key conflict would be re-signed with the
            same key, ``head_unknown`` when a stale head cannot be resolved without the server.
    """
    first = conflict.event
    if conflict.kind == "key" and first.body["device_key"] == signer.key_id:
        raise DeviceError(
            "the key that signed this event is still this device's key; enrol a new one first "
            "(`chemtrace scan enrol --rotate`)",
            code="key_rotation_needed",
        )
    if conflict.kind == "stale_head" and not conflict.moved:
        raise DeviceError(
            "the log's head of this item is unknown offline; connect and try again",
            code="head_unknown",
        )
    heads: dict[str, Head] = conflict.server_heads()
    chain = [first, *conflict.dependents]
    replaced: list[tuple[OutboxEvent, Mapping[str, Any]]] = []
    for event in chain:
        body = event.body
        for link in body["items"]:
            if link["code"] not in heads and link["prev"] is not None:
                heads[link["code"]] = Head(link["seq"] - 1, parse_hash(link["prev"]))
        session = DeviceSession(signer, body["org"], body["actor"], body["catalog_version"],
                                heads=heads)  # fmt: skip
        envelope = session.event(
            body["type"], [(link["code"], link["role"]) for link in body["items"]], body["data"],
            time=body["time"], site=body.get("site"), geo=body.get("geo"),
            co_actor=body.get("co_actor"),
        )  # fmt: skip
        replaced.append((event, envelope))
    return outbox.replace(replaced, note)


Resolution = Literal["rebase", "resign", "retry", "keep", "discard"]
FITTING: Final[Mapping[ConflictKind, Resolution]] = {
    "stale_head": "rebase",
    "key": "resign",
    "custody": "keep",
    "rejected": "retry",
}
"""The fix each kind of conflict takes (besides discarding it)."""


def resolve(
    outbox: Outbox, conflict: Conflict, action: Resolution, signer: Signer, reason: str | None
) -> str:
    """Apply a decision a person confirmed; return what was done, in words.

    Raises:
        DeviceError: the decision does not fit (``wrong_resolution``, ``key_rotation_needed``,
            ``reason_required``, ``outbox_changed``); nothing changed.
    """
    event = conflict.event
    if action == "discard":
        outbox.discard(event, reason or "", conflict.server_heads())
        return f"event {event.id} discarded: {(reason or '').strip()}"
    if action != FITTING[conflict.kind]:
        raise DeviceError(f"event {event.id} is a {conflict.kind} case: {action} does not fit",
                          code="wrong_resolution")  # fmt: skip
    if action == "retry":
        outbox.retry(event)
        return f"event {event.id} will be sent again"
    if action == "keep":
        return f"event {event.id} kept on this device as a record; it is never sent"
    replaced = rewrite(outbox, conflict, signer, note=f"{action}d by the device operator")
    behind = f" (and {len(replaced) - 1} behind it)" if len(replaced) > 1 else ""
    return f"event {event.id} {action}d as event {replaced[0].id}{behind}"


def pull_heads(outbox: Outbox, client: ChemtraceClient, codes: Sequence[str]) -> dict[str, Head]:
    """Learn the log's head of each item (for items this device will handle offline)."""
    learned: dict[str, Head] = {}
    for code in codes:
        raw = client.item(code)["head"]
        if raw is not None:
            head = Head(int(raw["seq"]), parse_hash(raw["hash"]))
            outbox.learn_head(code, head.seq, head.head_hash)
            learned[code] = head
    return learned
