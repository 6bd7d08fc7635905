"""Download a bundle, verify it at once, and keep it only if it verifies.

Used by ``chemtrace scan fetch`` (a site bundle before an inspection, or one item) and
by online verification (one item's bundle). A bundle with a fault is never stored, and
the verifier state only moves forward through a bundle without faults.

The server's site bundles carry no consistency proof, so on their own they could never
move the kit's state forward (``consistency_unconfirmed``). When the kit already holds a
smaller checkpoint of the same log, the proof is fetched from the public audit API
(``/v1/log/proof/consistency``) and attached before verifying. It is checked against
the remembered root and the signed checkpoint like any other proof, so a lying server
gains nothing: a bad proof is a fault (``checkpoint_inconsistent``). With ``tiles`` (a
C2SP tlog-tiles source) the kit computes every inclusion proof and that consistency proof
from the log's tiles instead (:mod:`scanners.inspector.tiles`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.bundle import BundleReport, VerifierState, verify_bundle
from ledger.canonical import b64encode
from ledger.checkpoint import Checkpoint
from ledger.codes import SignedCode
from ledger.errors import LedgerError
from ledger.signing import ED25519
from scanners.client import ChemtraceClient
from scanners.inspector.kit import InspectorKit
from scanners.inspector.store import ItemSummary, Kind, StoreOutcome
from scanners.inspector.tiles import TiledLog, TileSource, prove_bundle
from scanners.inspector.trust import PinnedTrust

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What one download brought: the verification report and what the kit kept."""

    kind: Kind
    subject: str
    server: str
    downloaded_at: str
    bundle: Mapping[str, Any]
    report: BundleReport
    stored: StoreOutcome | None
    """``None`` when the bundle had faults and was refused."""
    proof_fetched: bool

    @property
    def verified(self) -> bool:
        return self.report.verified


def checkpoint_size(bundle: Mapping[str, Any]) -> int | None:
    """The size the bundle's checkpoint claims (unverified; the verifier checks it)."""
    note = bundle.get("checkpoint")
    if not isinstance(note, str):
        return None
    try:
        return Checkpoint.from_text(note.split("\n\n", 1)[0] + "\n").size
    except LedgerError:
        return None


def attach_consistency_proof(
    client: ChemtraceClient, bundle: dict[str, Any], state: VerifierState | None, origin: str
) -> bool:
    """Give a bundle without a consistency proof one from the kit's checkpoint; True if added."""
    view = None if state is None else state.view(origin)
    size = checkpoint_size(bundle)
    if view is None or size is None or size <= view.size or bundle.get("consistency"):
        return False
    proof = client.consistency_proof(view.size, size)
    bundle["consistency"] = {"from_size": view.size, "proof": [b64encode(h) for h in proof]}
    return True


def verify_with_kit(
    bundle: Mapping[str, Any],
    trust: PinnedTrust,
    state: VerifierState | None,
    now: datetime,
    focus: str | None = None,
) -> BundleReport:
    """:func:`ledger.bundle.verify_bundle` with the kit's pinned keys, witness policy and state.

    Every bundle the kit accepts, downloaded or stored, goes through here, so a pinned
    policy applies to each checkpoint it ever trusts.
    """
    return verify_bundle(
        bundle,
        root_algorithm=ED25519,
        root_public_key=trust.root_public_key,
        log_verifier=trust.log_verifier,
        state=state,
        now=now,
        focus=focus,
        policy=trust.policy,
    )


def item_summaries(bundle: Mapping[str, Any]) -> dict[str, ItemSummary]:
    """Packaging and GS1 key of each item, from its label record (verified with the bundle)."""
    summaries = {}
    for item in bundle["items"]:
        label = item["label"]
        try:
            facts = SignedCode.from_json(label).facts if label is not None else None
        except LedgerError:
            facts = None
        summaries[item["code"]] = ItemSummary(
            packaging=None if facts is None else facts.packaging,
            gs1_key=None if facts is None else facts.gs1_key,
        )
    return summaries


def fetch_bundle(
    kit: InspectorKit,
    client: ChemtraceClient,
    *,
    kind: Kind,
    subject: str,
    server: str,
    now: datetime,
    focus: str | None = None,
    tiles: TileSource | None = None,
) -> FetchOutcome:
    """Download the bundle of a site or an item, then :func:`accept_bundle` it; with
    ``tiles``, its proofs are built from the log's tiles first (:func:`prove_bundle`).

    Raises:
        scanners.client.ApiError: the server refused (unknown site or item, bad token, …).
        httpx.HTTPError: the network failed.
        scanners.inspector.trust.TrustError, scanners.inspector.kit.KitStateError.
    """
    trust = kit.trust()
    state = kit.state()
    bundle = client.site_bundle(subject) if kind == "site" else client.item_bundle(subject)
    if tiles is None:
        proof_fetched = attach_consistency_proof(client, bundle, state, trust.origin)
    else:
        tiled = TiledLog(tiles, trust.log_verifiers)
        proof_fetched = prove_bundle(tiled, bundle, state, trust.origin).consistency
    return _accept(
        kit, bundle, trust, state, kind=kind, subject=subject, source=server, now=now,
        focus=focus, proof_fetched=proof_fetched,
    )  # fmt: skip


def accept_bundle(
    kit: InspectorKit,
    bundle: dict[str, Any],
    *,
    kind: Kind,
    subject: str,
    source: str,
    now: datetime,
    focus: str | None = None,
) -> FetchOutcome:
    """Verify a downloaded bundle with the kit's keys and state; store it only if it verifies.

    ``source`` says where it came from (the server URL). The state is saved when the
    bundle advanced it.

    Raises:
        scanners.inspector.trust.TrustError, scanners.inspector.kit.KitStateError.
    """
    return _accept(
        kit, bundle, kit.trust(), kit.state(), kind=kind, subject=subject, source=source,
        now=now, focus=focus,
    )  # fmt: skip


def _accept(
    kit: InspectorKit,
    bundle: dict[str, Any],
    trust: PinnedTrust,
    state: VerifierState | None,
    *,
    kind: Kind,
    subject: str,
    source: str,
    now: datetime,
    focus: str | None,
    proof_fetched: bool = False,
) -> FetchOutcome:
    """:func:`accept_bundle` with the kit's keys and state already read."""
    downloaded_at = now.strftime(TIME_FORMAT)
    report = verify_with_kit(bundle, trust, state, now, focus)
    sent = bundle.get("subject")
    if report.verified and sent != {"kind": kind, "id": subject}:
        report.fault(
            "bundle_subject_mismatch",
            f"the server sent a bundle about {sent}, not the {kind} {subject} that was asked for",
        )
    if not report.verified:
        return FetchOutcome(
            kind, subject, source, downloaded_at, bundle, report, None, proof_fetched
        )
    if report.state_advanced and report.state is not None:
        kit.save_state(report.state)
    stored = kit.bundles.store(
        bundle,
        kind=kind,
        subject=subject,
        checkpoint_size=report.checkpoint_size or 0,
        items=item_summaries(bundle),
        server=source,
        downloaded_at=downloaded_at,
    )
    return FetchOutcome(kind, subject, source, downloaded_at, bundle, report, stored, proof_fetched)
