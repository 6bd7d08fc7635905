"""Ingest: who may write which event, rate and probe limits, receipts, and group commit.

A submission is checked (the token's organisation, then the rates), served from the
remembered receipts where it is a resend, and the rest appended through the group commit.
Refusals that smell of fraud are journalled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from api.accel import Accelerator
from api.deployment import Deployment
from api.group_commit import GroupCommit
from api.metrics import EVENTS
from api.services.access import Principal
from api.services.errors import OrgMismatchError, OverRateError, ProbingError
from api.services.journal import JournalService
from api.services.queries import QueryService
from api.settings import Settings
from ledger.append import Accepted, Outcome, Rejected
from ledger.envelope import SignedEvent, open_envelope
from ledger.errors import LedgerError, NotRelatedError
from ledger.statements import Receipt


class IngestService:
    """The write path of signed events."""

    def __init__(
        self, settings: Settings, deployment: Deployment, accel: Accelerator, queries: QueryService,
        journal: JournalService,
    ) -> None:  # fmt: skip
        self._settings, self._accel, self._journal = settings, accel, journal
        self._queries = queries
        self._writes = GroupCommit(deployment.ingestor.submit)

    def submit(
        self,
        raw_events: Sequence[object],
        principal: Principal,
        client: str | None,
        *,
        atomic: bool = False,
    ) -> list[Outcome]:
        """Check scope, serve known receipts from the front, append the rest.

        ``atomic``: every event lands or none does (else each connected group on its own).
        """
        parsed: list[SignedEvent | None] = []
        for position, raw in enumerate(raw_events):
            try:
                event = open_envelope(raw)
            except LedgerError:
                parsed.append(None)  # the ingestor reports it with its field
                continue
            self._require_may_write(principal, event, position, client)
            parsed.append(event)
        self._rate_limit(principal, [e for e in parsed if e is not None])
        self._require_not_probing(principal, [e for e in parsed if e is not None])
        outcomes: list[Outcome | None] = [None] * len(raw_events)
        todo: list[int] = []
        remembered = self._accel.remembered_receipts([e.event_hash for e in parsed if e])
        for position, maybe in enumerate(parsed):
            known = None if maybe is None else remembered.get(maybe.event_hash)
            if known is not None:
                outcomes[position] = Accepted(Receipt.from_json(known), duplicate=True)
            else:
                todo.append(position)
        if todo:
            codes = [link.code for i in todo if (e := parsed[i]) for link in e.body.items]
            with self._accel.item_locks(codes):
                done = self._writes.submit(
                    [parsed[i] if parsed[i] is not None else raw_events[i] for i in todo],
                    frozenset(codes),
                    atomic=atomic,
                )
            for position, outcome in zip(todo, done, strict=True):
                outcomes[position] = outcome
        final = [o for o in outcomes if o is not None]
        self._after_submit(parsed, final, principal, client)
        return final

    def _require_may_write(
        self, principal: Principal, event: SignedEvent, position: int, client: str | None
    ) -> None:
        body = event.body
        if principal.role == "enterprise" and body.org == principal.org:
            return
        inspecting = principal.role == "inspector" and body.type == "inspect"
        if (
            inspecting
            and body.org == principal.org
            and all(self._queries.may_see(principal, link.code) for link in body.items)
        ):  # fmt: skip
            return
        refused = OrgMismatchError(
            index=position, user_id=principal.user_id, role=principal.role,
            token_org=principal.org, event_type=body.type, event_org=body.org,
        )  # fmt: skip
        self._journal.journal(
            "org_mismatch", refused.diagnostics(), principal=principal, event=event, client=client
        )
        raise refused

    def _rate_limit(self, principal: Principal, events: Sequence[SignedEvent]) -> None:
        limit = self._settings.rate_limit_per_minute
        if limit <= 0 or not events:
            return
        per_key: dict[str, int] = {}
        for event in events:
            for key in (f"device:{event.key_id}", f"org:{event.body.org}"):
                per_key[key] = per_key.get(key, 0) + 1
        for key, cost in sorted(per_key.items()):
            wait = self._accel.allow(key, cost, limit)
            if wait is not None:
                raise OverRateError(key, limit, wait)

    def _require_not_probing(self, principal: Principal, events: Sequence[SignedEvent]) -> None:
        """Refuse (429) a device or organisation that spent its budget of custody refusals.

        Writes on items one has no relation to are refused like unknown items; a caller
        who keeps guessing is probing, and is slowed to ``probe_limit_per_minute``.
        """
        limit = self._settings.probe_limit_per_minute
        if limit <= 0 or not events:
            return
        keys = {f"probe:device:{e.key_id}" for e in events} | {f"probe:org:{principal.org}"}
        for key in sorted(keys):
            wait = self._accel.spent(key, limit)
            if wait is not None:
                raise ProbingError(wait)

    def _charge_probes(self, principal: Principal, probes: Mapping[str, int]) -> None:
        limit = self._settings.probe_limit_per_minute
        if limit <= 0 or not probes:
            return
        for device, count in sorted(probes.items()):
            self._accel.spend(f"probe:device:{device}", count)
        self._accel.spend(f"probe:org:{principal.org}", sum(probes.values()))

    def _after_submit(
        self,
        parsed: Sequence[SignedEvent | None],
        outcomes: Sequence[Outcome],
        principal: Principal,
        client: str | None,
    ) -> None:
        fresh: dict[bytes, dict[str, Any]] = {}
        probes: dict[str, int] = {}
        for event, outcome in zip(parsed, outcomes, strict=True):
            if isinstance(outcome, Accepted):
                EVENTS.labels("duplicate" if outcome.duplicate else "accepted").inc()
                if event is not None:
                    fresh[event.event_hash] = dict(outcome.receipt.to_json())
            elif isinstance(outcome, Rejected):
                EVENTS.labels(outcome.error.code).inc()
                if outcome.error.fraud:
                    self._journal.journal(
                        outcome.error.journal_as or outcome.error.code,
                        outcome.error.diagnostics(),
                        principal=principal,
                        event=event,
                        client=client,
                        aggregate_by="device_key" if event is not None else None,
                    )
                if isinstance(outcome.error, NotRelatedError) and event is not None:
                    probes[event.key_id] = probes.get(event.key_id, 0) + 1
        self._accel.remember_receipts(fresh)
        self._charge_probes(principal, probes)
