"""Checks on a bundle's items: chains, log-signed heads, labels and site membership."""

from __future__ import annotations

from typing import Final

from ledger.bundle.entries import EntryChecks
from ledger.bundle.wire import BundleFormatError, WireItem, head_from_json
from ledger.canonical import format_hash
from ledger.codes import SignedCode, verify_code
from ledger.errors import LedgerError
from ledger.signing import ED25519
from ledger.statements import ItemHeadStatement

LEFT_SITE_TYPES: Final = frozenset({"ship", "dispose", "destroy"})
"""Event types after which an item is no longer at the event's site."""


class BundleChecks(EntryChecks):
    """Every check on one bundle that does not involve the verifier's state."""

    def run(self) -> None:
        """Run the entry checks, then the checks of every item."""
        self.check_entries()
        listed: dict[int, set[str]] = {}
        for item in self.wire.items:
            self.chain(item, listed)
            self.label(item)
        self.unlisted(listed)

    def chain(self, item: WireItem, listed: dict[int, set[str]]) -> None:
        code = item.code
        previous: bytes | None = None
        linked = True
        called = self.called(code)
        for position, index in enumerate(item.chain):
            event = self.by_index.get(index)
            where = f"event {position} of {called}"
            if event is None:
                self.report.fault(
                    "chain_event_missing",
                    f"{where} (log index {index}) is not in this bundle (it was removed)",
                    item=code,
                    seq=position,
                    index=index,
                )
                linked = False
                continue
            listed.setdefault(index, set()).add(code)
            link = event.links.get(code)
            if event.signed is None:
                linked = False
                continue
            if link is None:
                others = ", ".join(sorted(event.links))
                self.report.fault(
                    "chain_foreign_event",
                    f"{where} belongs to another item ({others}): an event of another item was "
                    "inserted",
                    item=code,
                    seq=position,
                    index=index,
                )
                linked = False
                continue
            seq, prev = link
            if seq != position:
                self.report.fault(
                    "chain_out_of_order",
                    f"{where} is really its event {seq}: events were removed, duplicated or "
                    "reordered",
                    item=code,
                    seq=position,
                    index=index,
                )
                linked = False
            elif linked and prev != (None if previous is None else format_hash(previous)):
                self.report.fault(
                    "chain_broken",
                    f"{where} does not link to event {position - 1} (its prev hash differs): "
                    "the chain was broken",
                    item=code,
                    seq=position,
                    index=index,
                )
            else:
                linked = True
            previous = event.entry.entry_hash
        self.head(item)
        if self.wire.subject_kind == "site":
            self.at_site(item)

    def head(self, item: WireItem) -> None:
        code = item.code
        called = self.called(code)
        statement_of = f"the log's statement of the newest event of {called}"
        try:
            statement = head_from_json(item.head)
        except BundleFormatError as exc:
            self.report.fault(
                "head_statement_malformed",
                f"{statement_of} is malformed ({exc.message})",
                item=code,
            )
            return
        if not any(_signed_by(statement, key) for key in self.log_keys):
            self.report.fault(
                "head_statement_invalid",
                f"{statement_of} is not signed by the log (it was altered or forged)",
                item=code,
            )
            return
        cp = self.checkpoint
        if (statement.origin, statement.checkpoint_size, statement.root_hash) != (
            cp.origin,
            cp.size,
            cp.root_hash,
        ):
            self.report.fault(
                "head_statement_other_tree",
                f"{statement_of} belongs to another checkpoint "
                f"(size {statement.checkpoint_size}), not this bundle's ({cp.size})",
                item=code,
            )
            return
        if statement.item != code:
            self.report.fault(
                "head_statement_other_item",
                f"{statement_of} is about another item ({statement.item})",
                item=code,
            )
            return
        last = len(item.chain) - 1
        if statement.seq > last:
            missing = statement.seq - last
            what = "newest event" if missing == 1 else f"newest {missing} events"
            self.report.fault(
                "head_events_missing",
                f"the {what} of {called} {'is' if missing == 1 else 'are'} missing "
                f"(the log says seq {statement.seq}, the bundle ends at seq {last})",
                item=code,
                seq=statement.seq,
            )
        elif statement.seq < last:
            self.report.fault(
                "chain_beyond_head",
                f"the bundle shows events of {called} after the log's newest one "
                f"(the log says seq {statement.seq}, the bundle ends at seq {last})",
                item=code,
                seq=last,
            )
        else:
            event = self.by_index.get(item.chain[last])
            if event is None or event.entry.entry_hash != statement.head_hash:
                self.report.fault(
                    "head_mismatch",
                    f"the bundle's last event of {called} (seq {last}) is not the newest event "
                    "the log holds for it",
                    item=code,
                    seq=last,
                )

    def at_site(self, item: WireItem) -> None:
        event = self.by_index.get(item.chain[-1])
        if event is None or event.signed is None:
            return
        body = event.signed.body
        if body.site != self.wire.subject or body.type in LEFT_SITE_TYPES:
            self.report.warn(
                "item_not_at_site",
                f"{self.called(item.code)} is not at site {self.wire.subject}: its newest event "
                f"({body.type} at {body.site or 'no site'}) places it elsewhere",
                item=item.code,
            )

    def label(self, item: WireItem) -> None:
        code = item.code
        called = self.called(code)
        if item.label is None:
            self.report.warn(
                "label_not_present",
                f"this bundle carries no registry record of the label of {called}, so the label "
                "itself was not checked (label not present)",
                item=code,
            )
            return
        try:
            signed = SignedCode.from_json(item.label)
        except LedgerError as exc:
            self.report.fault(
                "label_malformed",
                f"the label record of {called} is malformed ({exc.message})",
                item=code,
            )
            return
        if signed.code != code:
            self.report.fault(
                "label_other_item",
                f"the label record of {called} in this bundle is for another code ({signed.code})",
                item=code,
            )
            return
        try:
            verify_code(signed, self.trust.root_algorithm, self.trust.root_public_key)
        except LedgerError:
            label = "this label" if code == self.focus else f"the label of {called}"
            self.report.fault(
                "label_forged",
                f"{label} was not issued by the registry (its registry signature does not "
                "verify with the pinned root key)",
                item=code,
            )

    def unlisted(self, listed: dict[int, set[str]]) -> None:
        for event in self.events:
            index = event.entry.index
            if index not in listed:
                self.event_fault(
                    event,
                    "event_extra",
                    "is not part of any bundled item's chain (an extra event was inserted)",
                )
                continue
            for code, (seq, _) in sorted(event.links.items()):
                chain = self.chain_of(code)
                if chain is not None and code not in listed[index]:
                    shown = chain[seq] if seq < len(chain) else None
                    self.report.fault(
                        "chain_event_unlisted",
                        f"event {seq} of {self.called(code)} (log index {index}) is in the bundle "
                        f"but the chain lists {'nothing' if shown is None else shown} there",
                        item=code,
                        seq=seq,
                        index=index,
                    )

    def chain_of(self, code: str) -> tuple[int, ...] | None:
        return next((item.chain for item in self.wire.items if item.code == code), None)


def _signed_by(statement: ItemHeadStatement, log_key: bytes) -> bool:
    try:
        statement.verify(ED25519, log_key)
    except LedgerError:
        return False
    return True
