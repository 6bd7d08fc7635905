"""The inspector kit: one folder holding what a handheld needs to verify on the spot.

::

    var/inspector/              the kit home (``--home``; default under the working directory)
      trust/root.vkey           pinned registry root key (C2SP vkey)
      trust/log.vkey            pinned log key; its name is the log's origin
      trust/witness-policy      optional pinned C2SP tlog-policy: the witnesses a checkpoint needs
      trust/pinned.json         where each key (and the policy) came from and when (for people)
      state.json                the verifier state: the largest checkpoint accepted per log
      bundles/…                 downloaded site and item bundles (:mod:`scanners.inspector.store`)

Every file is written atomically (:mod:`scanners.files`). The state only moves
forward through :func:`ledger.bundle.verify_bundle`: it is saved when a bundle without
faults advanced it, never otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from ledger.bundle import VerifierState
from ledger.errors import LedgerError
from scanners.errors import ScannerError
from scanners.files import KitFileError, read_json, write_json_atomic
from scanners.inspector.store import BundleStore
from scanners.inspector.trust import PinnedTrust, TrustFolder

DEFAULT_HOME: Final = Path("var/inspector")
STATE_FILE: Final = "state.json"


class KitStateError(ScannerError):
    """The saved verifier state is unreadable: the kit will not guess what it had seen."""


class InspectorKit:
    """The kit at ``home``; nothing is created until something is written."""

    def __init__(self, home: Path = DEFAULT_HOME) -> None:
        self.home = home
        self.trust_folder = TrustFolder(home / "trust")
        self.bundles = BundleStore(home / "bundles")
        self.state_path = home / STATE_FILE

    def trust(self) -> PinnedTrust:
        """The pinned keys (raises :class:`scanners.inspector.trust.TrustNotPinnedError`)."""
        return self.trust_folder.load()

    def state(self) -> VerifierState | None:
        """The saved verifier state, or ``None`` before the first verified bundle.

        Raises:
            KitStateError: the state file exists but is unreadable; a kit that forgot what it
                had seen could be rolled back, so it refuses to run rather than start over.
        """
        if not self.state_path.exists():
            return None
        try:
            return VerifierState.from_json(read_json(self.state_path, "verifier state"))
        except (KitFileError, LedgerError) as exc:
            raise KitStateError(
                f"the verifier state {self.state_path} is unreadable ({exc}); restore it from a "
                "backup, or remove it to start trusting from the next bundle"
            ) from exc

    def save_state(self, state: VerifierState) -> None:
        write_json_atomic(self.state_path, state.to_json())
