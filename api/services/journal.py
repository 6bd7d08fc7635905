"""The security journal: refused attempts that suggest fraud, filed under their district."""

from __future__ import annotations

from typing import Any

from api.metrics import JOURNAL
from api.services.access import AccessService, Principal
from api.services.records import Records
from api.services.registry import RegistryService
from ledger.envelope import SignedEvent
from ledger.errors import LedgerError
from ledger.store.service import Aggregate, JournalEntry, ServiceStore


class JournalService:
    """Writes and reads the journal (reads within the caller's districts)."""

    def __init__(
        self, store: ServiceStore, records: Records, registry: RegistryService,
        access: AccessService,
    ) -> None:  # fmt: skip
        self._store, self._records, self._registry, self._access = store, records, registry, access

    def journal(
        self,
        code: str,
        detail: str,
        *,
        principal: Principal | None = None,
        event: SignedEvent | None = None,
        client: str | None = None,
        item: str | None = None,
        aggregate_by: Aggregate | None = None,
    ) -> None:
        """Journal a refusal; with ``aggregate_by`` (``client`` or ``device_key``), repeats
        of it in one window are one row with a count (see :meth:`ServiceStore.journal`)."""
        body = event.body if event is not None else None
        org = body.org if body is not None else (principal.org if principal else None)
        site = body.site if body is not None else None
        item_code = item or (body.items[0].code if body is not None else None)
        self._store.journal(
            code,
            detail,
            aggregate_by=aggregate_by,
            user_id=principal.user_id if principal else None,
            org=org,
            device_key=event.key_id if event is not None else None,
            item_code=item_code,
            site=site,
            district=self.district_of(org, site, item_code),
            client=client,
        )
        JOURNAL.labels(code).inc()

    def district_of(self, org: str | None, site: str | None, code: str | None = None) -> str | None:
        """The district of ``site``, else of ``org``, else of the org ``code`` was issued to."""
        if site and (record := self._records.of("site").get(site)):
            return str(record.attr("district"))
        if org and (record := self._records.of("org").get(org)):
            return str(record.attr("district"))
        if code:
            try:
                issued = self._registry.signed_code(code)
            except LedgerError:
                issued = None
            if issued is not None and (record := self._records.of("org").get(issued.facts.org)):
                return str(record.attr("district"))
        return None

    def entries(
        self, principal: Principal, *, since: str | None, limit: int,
        after: tuple[str, str] | None = None,
    ) -> tuple[list[JournalEntry], int]:  # fmt: skip
        """Last seen first (after ``(last_at, id)`` when given), and how many there are: an
        admin's all, anyone else's those of its districts (or of the organisations in them)."""
        where: dict[str, Any] = {"since": since}
        if principal.role != "admin":
            where |= {"orgs": sorted(self._access.scope(principal).orgs or ()),
                      "districts": sorted(principal.districts)}  # fmt: skip
        page = self._store.journal_entries(limit=limit, after=after, **where)
        return page, self._store.journal_count(**where)
