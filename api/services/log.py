"""The log as an outside auditor reads it: checkpoints, leaves and RFC 9162 proofs."""

from __future__ import annotations

from api.accel import Accelerator
from api.deployment import Deployment
from api.replicas import needing
from api.services.errors import NoCheckpointError
from ledger.store.repository import SqlLedgerStore
from ledger.store.witnessing import WitnessingStore


class LogService:
    """Read-only access to the Merkle log; the latest checkpoint is cached (``accel``)."""

    def __init__(
        self,
        deployment: Deployment,
        accel: Accelerator,
        cosignatures: WitnessingStore,
        reads: SqlLedgerStore | None = None,
    ) -> None:
        self._deployment, self._accel, self._cosignatures = deployment, accel, cosignatures
        self._reads = reads or deployment.store
        """Leaves and proofs: a standby that has replayed the tree asked about, else the
        primary (``api.replicas``)."""

    def checkpoint(self) -> str:
        """The latest checkpoint (a C2SP signed note) with the witness cosignatures it has."""
        note = self._accel.cached_checkpoint()
        if note is None:
            latest = self._deployment.store.latest_checkpoint()
            if latest is None:
                raise NoCheckpointError
            note = self._cosignatures.cosigned_note(*latest)
            self._accel.cache_checkpoint(note)
        return note

    def vkey(self) -> str:
        """The log's verifier key (a C2SP vkey)."""
        return self._deployment.keys.log_vkey()

    def checkpoint_freshness(self) -> tuple[int, int, str | None]:
        """The log's size, the newest checkpoint's size and when it was signed."""
        latest = self._deployment.store.latest_checkpoint_at()
        size = self._deployment.store.log_size()
        return (size, 0, None) if latest is None else (size, latest[0], latest[1])

    def size(self) -> int:
        return self._deployment.store.log_size()

    def leaf_inputs(self, start: int, end: int) -> list[bytes]:
        """The leaf inputs of ``start <= i < end`` (fewer where the log ends first)."""
        with needing(end):
            return self._reads.leaf_inputs(start, end)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        with needing(size):
            return self._reads.inclusion_proof(index, size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        with needing(second):
            return self._reads.consistency_proof(first, second)
