"""The offline responder pack of a district (``GET /v1/emergency/pack``, ``chemtrace
emergency pack``): what :class:`EmergencyService` says each site of the district holds at
the newest checkpoint, built and signed by :mod:`ledger.emergency_pack`.

Holdings are the fold of the log up to the checkpoint's size, so the pack and the
checkpoint it carries describe the same log. Site names, districts and contacts are the
registry's as read when the pack is cut.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.services.access import Principal
from api.services.emergency import EmergencyService
from api.services.errors import NoCheckpointError
from ledger.checkpoint import open_checkpoint
from ledger.emergency_pack import PackInput, build_pack
from ledger.errors import NoteError, StorageError
from ledger.note import NoteVerifier
from ledger.signing import Signer
from ledger.store.repository import SqlLedgerStore
from ledger.timefmt import format_utc


class PackService:
    """Cuts and signs responder packs."""

    def __init__(self, emergency: EmergencyService, store: SqlLedgerStore, log_signer: Signer):
        self._emergency, self._store, self._signer = emergency, store, log_signer
        self._verifier = NoteVerifier.for_key(store.origin, log_signer.public_key)

    @property
    def verifier(self) -> NoteVerifier:
        """The log key the packs are signed with, as a verifier."""
        return self._verifier

    def pack(
        self, principal: Principal, district: str, now: datetime | None = None
    ) -> dict[str, Any]:
        """The signed pack of ``district`` at the newest checkpoint.

        Raises:
            NotFoundError: the district is unknown or out of the caller's scope.
            NoCheckpointError: the log has no checkpoint yet.
            StorageError: the newest checkpoint is not signed by the current log key.
        """
        latest = self._store.latest_checkpoint()
        if latest is None:
            raise NoCheckpointError
        size, note = latest
        try:
            open_checkpoint(note, self._verifier, expected_origin=self._store.origin)
        except NoteError as exc:
            raise StorageError("the newest checkpoint is not signed by this log's key",
                               size=size) from exc  # fmt: skip
        sites = self._emergency.district_sites(principal, district, size)
        documents = []
        for site in sites:
            document = site.model_dump(mode="json", exclude={"distance_m"})
            # floats have no canonical bytes: the coordinates are signed as decimal strings
            document["lat"], document["lon"] = repr(site.lat), repr(site.lon)
            documents.append(document)
        data = PackInput(
            origin=self._store.origin,
            district=district,
            checkpoint=note,
            created_at=format_utc(now or datetime.now(UTC)),
            sites=documents,
        )
        return build_pack(data, self._signer, self._verifier)


__all__ = ["PackService"]
