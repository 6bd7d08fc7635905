"""The seam for putting a checkpoint outside the operator's hands: witnesses and external ledgers.

An :class:`Anchor` takes a signed checkpoint and returns evidence that an independent party
recorded it. A C2SP witness is one (``api.witnessing.WitnessAnchor``): its evidence is a
cosignature line that verifiers count toward their quorum. An external ledger would be
another, for example the city's ChainMaker evidence contract, posting one transaction per
checkpoint (never per event) and returning the transaction id; the contract it would call is
described in ``docs/architecture.md``. No such client is built: no node runs here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

ConsistencyProver = Callable[[int, int], list[bytes]]
"""``(old size, new size) -> RFC 9162 consistency proof`` from the log's own tree."""


@dataclass(frozen=True)
class AnchorReceipt:
    """What an anchor returns for one checkpoint.

    ``line`` is a note signature line to attach to the checkpoint (a witness cosignature),
    ``reference`` an external record's id (a transaction hash), ``timestamp`` the anchor's
    POSIX time for it, and ``anchored_size`` the tree size the anchor now holds.
    """

    anchor: str
    anchored_size: int
    timestamp: int
    line: str | None = None
    reference: str | None = None


class Anchor(Protocol):
    """Records a checkpoint with an independent party."""

    @property
    def name(self) -> str:
        """The anchor's stable name (a witness's key name, a contract's name)."""
        ...

    @property
    def location(self) -> str:
        """Where it is reached (a witness's submission URL, a contract's address)."""
        ...

    def anchor(self, note: str, known_size: int, prove: ConsistencyProver) -> AnchorReceipt:
        """Record the signed checkpoint ``note``.

        Args:
            note: the log-signed checkpoint.
            known_size: the size this anchor last recorded, as far as the log knows.
            prove: builds consistency proofs from the log's tree.

        Raises:
            AnchorError: the anchor refused or failed; it may say the size it holds.
        """
        ...
