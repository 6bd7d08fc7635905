"""The registry as the EPCIS mapping's :class:`ledger.epcis.identifiers.Lookup` on the server.

A GS1-keyed EPC (SGTIN, SSCC, GRAI, as a URN or a Digital Link on any domain) names the code
the registry issued with that key. The registry records no GLNs, so a location or party is
named by its ``urn:chemtrace:site:`` / ``urn:chemtrace:org:`` URN (the mapping resolves
those itself); an SGLN or PGLN is unissued. Captured events carry their chain links in
``chemtrace:envelope`` (they are signed before they arrive), so the server never supplies a
head: :meth:`head` answers None.
"""

from __future__ import annotations

from api.services.registry import RegistryService
from ledger.canonical import format_hash
from ledger.epcis.gs1_keys import gs1_item_key
from ledger.errors import LedgerError
from ledger.store.epcis_capture import SqlCaptureJobs


class RegistryLookup:
    """What the registry and the capture table know, for :func:`ledger.epcis.mapping.from_epcis`."""

    def __init__(self, registry: RegistryService, jobs: SqlCaptureJobs) -> None:
        self._registry, self._jobs = registry, jobs

    def item(self, epc: str) -> str | None:
        key = gs1_item_key(epc)
        if key is None:
            return None
        try:
            return self._registry.code_for_gs1_key(key)
        except LedgerError:
            return None

    def site(self, location: str) -> str | None:
        return None

    def party(self, party: str) -> str | None:
        return None

    def head(self, code: str, *, may_start: bool) -> tuple[int, str | None] | None:
        return None

    def ledger_event(self, hash_id: str) -> str | None:
        found = self._jobs.captured([hash_id]).get(hash_id)
        return None if found is None else format_hash(found)
