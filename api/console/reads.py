"""The console's shared reads: who reads items and findings, every finding of a filter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from api.services.access import Principal
from api.services.findings import FindingFilter, StoredFinding
from api.services.root import Service
from ledger.state import GONE, ItemState

__all__ = ["ITEM_READERS", "SCAN_CAP", "SCAN_PAGE", "all_findings", "live"]

ITEM_READERS: Final = frozenset({"admin", "regulator", "city_regulator", "inspector", "enterprise"})
"""Who may read items, chains and findings (the API's ``ANY_USER``)."""
SCAN_PAGE: Final = 500
SCAN_CAP: Final = 20_000
"""The dashboard and map read at most this many findings (the counts say when capped)."""


def all_findings(
    service: Service, principal: Principal, where: FindingFilter
) -> tuple[list[StoredFinding], int]:
    """Every finding matching ``where`` in scope (up to :data:`SCAN_CAP`), and the total."""
    found: list[StoredFinding] = []
    total = 0
    while len(found) < SCAN_CAP:
        page, total = service.findings.search(principal, where, limit=SCAN_PAGE, offset=len(found))
        found.extend(page)
        if len(page) < SCAN_PAGE:
            break
    return found, total


def live(states: Iterable[ItemState]) -> list[ItemState]:
    return [s for s in states if s.status not in GONE and s.status != "lost"]
