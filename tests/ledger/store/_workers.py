"""Process workers for the concurrency tests (importable by spawned children)."""

from __future__ import annotations

from ledger.append import Accepted, Rejected
from ledger.builder import DeviceSession
from ledger.errors import StaleHeadError
from ledger.signing import Ed25519Signer
from tests.harness import CATALOG, Harness


def append_worker(
    url: str, seeds: dict[str, str], worker: int, rounds: int, shared: str
) -> dict[str, int]:
    """Append ``rounds`` events on a private item and race for ``shared``; return counts."""
    harness = Harness.create(
        url,
        root=Ed25519Signer.from_seed(bytes.fromhex(seeds["root"])),
        log=Ed25519Signer.from_seed(bytes.fromhex(seeds["log"])),
    )
    device = DeviceSession(
        signer=Ed25519Signer.from_seed(bytes.fromhex(seeds["device"])),
        org="acme",
        actor="sha256:" + "ab" * 32,
        catalog_version=CATALOG,
    )
    own = f"OWN-{worker:02d}"
    counts = {"accepted": 0, "conflicts": 0}
    harness.submit([harness.commission(device, own)])
    for _ in range(rounds):
        _accept(harness.submit([harness.use(device, own)])[0])
        while True:
            head = harness.store.item_head(shared)
            assert head is not None
            device.learn(shared, head.seq, head.head_hash)
            outcome = harness.submit([harness.use(device, shared, str(worker + 1))])[0]
            if isinstance(outcome, Rejected) and isinstance(outcome.error, StaleHeadError):
                counts["conflicts"] += 1
                continue
            _accept(outcome)
            counts["accepted"] += 1
            break
    harness.store.engine.dispose()
    return counts


def _accept(outcome: object) -> None:
    if not isinstance(outcome, Accepted) or outcome.duplicate:
        raise AssertionError(f"unexpected outcome {outcome}")
