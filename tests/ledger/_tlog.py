"""A log in memory for witness tests: a Frontier-built tree, every perfect node kept (so any
consistency proof can be cut), and checkpoints signed with a throwaway Ed25519 key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.merkle import EMPTY_ROOT, Frontier, NodeId, consistency_proof, leaf_hash
from ledger.note import NoteVerifier
from ledger.signing import Ed25519Signer
from ledger.witness import request_body


class MemoryLog:
    """Leaves ``<prefix>:<index>``, but ``honest:<index>`` below ``shared``: a fork is the same
    origin and key with another prefix, agreeing with the honest log on its first leaves."""

    def __init__(
        self, origin: str, signer: Ed25519Signer, prefix: str = "honest", shared: int = 0
    ) -> None:
        self.origin, self.signer, self.prefix, self.shared = origin, signer, prefix, shared
        self.verifier = NoteVerifier.for_key(origin, signer.public_key)
        self._frontier = Frontier.empty()
        self._nodes: dict[NodeId, bytes] = {}
        self._roots = [EMPTY_ROOT]

    @property
    def size(self) -> int:
        return self._frontier.size

    def grow(self, size: int) -> None:
        while self._frontier.size < size:
            index = self._frontier.size
            leaf = f"{'honest' if index < self.shared else self.prefix}:{index}".encode()
            self._nodes.update(self._frontier.append(leaf_hash(leaf)))
            self._roots.append(self._frontier.root())

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return {node: self._nodes[node] for node in ids if node in self._nodes}

    def root(self, size: int) -> bytes:
        self.grow(size)
        return self._roots[size]

    def checkpoint(self, size: int) -> Checkpoint:
        return Checkpoint(self.origin, size, self.root(size))

    def note(self, size: int) -> str:
        return sign_checkpoint(self.checkpoint(size), self.origin, self.signer)

    def proof(self, old: int, size: int) -> list[bytes]:
        self.grow(size)
        if old == 0 or old >= size:
            return []
        return consistency_proof(self, old, size)

    def body(self, old: int, size: int) -> bytes:
        """The add-checkpoint body a log sends: ``old``, PROOF(old, size), the note."""
        return request_body(old, self.proof(old, size), self.note(size))
