"""Anomaly findings, their review workflow, and webhook subscriptions, within scope.

An admin sees every finding; a regulator or inspector the findings of its districts; an
enterprise the findings about its own organisation. A finding (or a webhook) outside the
caller's scope is answered exactly like a missing one. A finding is a group of occurrences
(one per rule and subject); a group's occurrences share its organisation and district,
and are filtered by the same scope again when listed.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from api.services.access import Principal
from api.services.errors import NotFoundError
from api.webhooks import MAX_ATTEMPTS
from ledger.errors import UnknownFindingError
from ledger.store.findings import (
    GAVE_UP_AT,
    STATUSES,
    FindingFilter,
    FindingStore,
    StoredFinding,
    StoredOccurrence,
    Transition,
)

__all__ = ["STATUSES", "Delivery", "FindingFilter", "FindingsService", "StoredFinding",
           "StoredOccurrence", "Transition"]  # fmt: skip
FINDING_ID = re.compile(r"f-[0-9a-f]{32}")
WEBHOOK_ID = re.compile(r"wh-[0-9a-f]{24}")
DeliveryState = Literal["pending", "delivered", "failed"]
COUNT_CAP = 100_000
"""Findings are counted up to here; beyond, the total says "at least" (``capped``)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a finding's delivery to one webhook stands."""

    webhook_id: str
    state: DeliveryState
    attempts: int
    next_attempt_at: str | None
    delivered_at: str | None
    last_error: str | None


class FindingsService:
    """Findings and webhooks (the store's writes take SQLite's write lock up front)."""

    def __init__(self, store: FindingStore, log_vkey: Callable[[], str]) -> None:
        self._store, self._log_vkey = store, log_vkey

    @staticmethod
    def scope_of(principal: Principal) -> FindingFilter:
        """The findings ``principal`` may see, as a filter."""
        if principal.role == "admin":
            return FindingFilter()
        if principal.role == "enterprise":
            if principal.org is None:
                return FindingFilter(districts=frozenset())  # sees nothing
            return FindingFilter(own_org=principal.org)
        return FindingFilter(districts=principal.districts)

    def search(
        self, principal: Principal, where: FindingFilter, *, limit: int, offset: int
    ) -> tuple[list[StoredFinding], int]:
        """A page of the findings matching ``where`` within scope, and how many match."""
        page, total, _ = self.search_page(principal, where, limit=limit, offset=offset)
        return page, total

    def search_page(
        self, principal: Principal, where: FindingFilter, *, limit: int, offset: int = 0,
        after: tuple[str, str] | None = None,
    ) -> tuple[list[StoredFinding], int, bool]:  # fmt: skip
        """A page of the findings matching ``where`` within scope (after ``(last_seen, id)``
        when given), how many match, and whether that count stopped at :data:`COUNT_CAP`."""
        scope = self.scope_of(principal)
        where = dataclasses.replace(where, districts=scope.districts, own_org=scope.own_org)
        page = self._store.search(where, limit=limit, offset=offset, after=after)
        total = self._store.count(where, cap=COUNT_CAP)
        return page, min(total, COUNT_CAP), total > COUNT_CAP

    def visible(
        self, principal: Principal, finding_id: str
    ) -> tuple[StoredFinding, list[Transition]]:
        """The finding and its history, if ``principal`` may see it; else the very
        ``UnknownFindingError`` of a missing one."""
        if not FINDING_ID.fullmatch(finding_id):
            raise UnknownFindingError("no such finding", finding=finding_id)
        stored, history = self._store.get(finding_id)
        if not self.scope_of(principal).in_scope(stored.finding):
            raise UnknownFindingError("no such finding", finding=finding_id)
        return stored, history

    def occurrences(
        self, principal: Principal, finding_id: str, *, limit: int, offset: int = 0,
        after: tuple[str, str] | None = None,
    ) -> tuple[list[StoredOccurrence], int]:  # fmt: skip
        """A page of a visible group's occurrences within scope (after ``(at, id)`` when
        given), and how many there are."""
        self.visible(principal, finding_id)
        scope = self.scope_of(principal)
        return self._store.occurrences(finding_id, scope=scope, limit=limit, offset=offset,
                                       after=after)  # fmt: skip

    def deliveries(self, principal: Principal, finding_id: str) -> list[Delivery] | None:
        """The finding's webhook deliveries: an admin's all, a regulator's to its own
        webhooks, ``None`` for anyone else."""
        if principal.role not in ("admin", "regulator"):
            return None
        rows = self._store.deliveries(finding_id)
        if principal.role == "regulator":
            own = {hook["id"] for hook in self._store.webhooks(principal.user_id)}
            rows = [row for row in rows if row["webhook_id"] in own]
        return [_delivery(row) for row in sorted(rows, key=lambda r: r["webhook_id"])]

    def transition(
        self, principal: Principal, finding_id: str, status: str, comment: str,
        expected: str | None,
    ) -> Transition:  # fmt: skip
        """Move a finding ``principal`` may see, appending who, when and why."""
        self.visible(principal, finding_id)
        return self._store.transition(finding_id, status, user_id=principal.user_id,
                                      comment=comment, expected=expected)  # fmt: skip

    # -- webhooks ------------------------------------------------------------------------------

    def add_webhook(self, principal: Principal, url: str, min_severity: str) -> dict[str, Any]:
        """Subscribe ``url`` (already vetted) to new findings in ``principal``'s scope."""
        webhook_id = "wh-" + secrets.token_hex(12)
        districts = None if principal.role == "admin" else principal.districts
        self._store.add_webhook(webhook_id, principal.user_id, url, min_severity,
                                districts=districts, org=None)  # fmt: skip
        (row,) = [hook for hook in self._store.webhooks(principal.user_id)
                  if hook["id"] == webhook_id]  # fmt: skip
        return row

    def webhooks(self, principal: Principal) -> list[dict[str, Any]]:
        """Active subscriptions: ``principal``'s own (an admin's: everyone's)."""
        return self._store.webhooks(None if principal.role == "admin" else principal.user_id)

    def disable_webhook(self, principal: Principal, webhook_id: str) -> None:
        """Unsubscribe one of ``principal``'s webhooks (an admin: anyone's)."""
        owner = None if principal.role == "admin" else principal.user_id
        try:
            if not WEBHOOK_ID.fullmatch(webhook_id):
                raise UnknownFindingError("no such webhook", webhook=webhook_id)
            self._store.disable_webhook(webhook_id, owner)
        except UnknownFindingError:
            raise NotFoundError(
                "webhook", webhook_id, f"no webhook {webhook_id} of yours"
            ) from None

    def signing_vkey(self) -> str:
        """The key deliveries are signed with (the log's, as a C2SP vkey)."""
        return self._log_vkey()


def _delivery(row: dict[str, Any]) -> Delivery:
    delivered, pending_at = row["delivered_at"], row["next_attempt_at"]
    given_up = delivered is None and (pending_at == GAVE_UP_AT or row["attempts"] >= MAX_ATTEMPTS)
    state: DeliveryState = "delivered" if delivered else ("failed" if given_up else "pending")
    return Delivery(
        webhook_id=row["webhook_id"], state=state, attempts=row["attempts"],
        next_attempt_at=pending_at if state == "pending" else None, delivered_at=delivered,
        last_error=row["last_error"],
    )  # fmt: skip
