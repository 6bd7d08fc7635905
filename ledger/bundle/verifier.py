"""The offline bundle verifier: pinned root and log keys in, a report of plain-words findings out.

No network, no database, no files: the bundle is a parsed JSON mapping and the
verifier state is passed in and handed back as objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ledger.bundle.freshness import judge_against_state
from ledger.bundle.items import BundleChecks
from ledger.bundle.report import BundleReport
from ledger.bundle.state import VerifierState
from ledger.bundle.wire import parse_bundle
from ledger.certificates import TrustStore
from ledger.checkpoint import open_checkpoint
from ledger.errors import LedgerError, NoteError
from ledger.note import NoteVerifier
from ledger.timefmt import parse_utc


def verify_bundle(
    bundle_json: Mapping[str, Any],
    *,
    root_algorithm: str,
    root_public_key: bytes,
    log_verifier: NoteVerifier,
    state: VerifierState | None,
    now: datetime,
    focus: str | None = None,
) -> BundleReport:
    """Verify an offline bundle against pinned keys and, if given, what was verified before.

    Args:
        bundle_json: the parsed bundle file.
        root_algorithm: the registry root key's algorithm (``ed25519``).
        root_public_key: the pinned registry root public key.
        log_verifier: the pinned log key (its signed-note verifier).
        state: the verifier's memory of earlier bundles, or ``None``.
        now: the verifier's clock, recorded when the state advances.
        focus: the code of the item the user is looking at (a scanned label): findings
            about it say "this cylinder" instead of "cylinder CT-…".

    Returns:
        A report; ``report.state`` is the state to keep afterwards.
    """
    report = BundleReport(state=state)
    try:
        wire = parse_bundle(bundle_json)
        parse_utc(wire.created_at)
    except LedgerError as exc:
        report.fault(
            "bundle_malformed", f"this file is not a valid chemtrace bundle: {exc.message}"
        )
        return report
    report.origin, report.created_at = wire.origin, wire.created_at
    report.subject = f"{wire.subject_kind} {wire.subject}"
    report.items = [item.code for item in wire.items]
    report.events, report.certificates = len(wire.events), len(wire.certificates)
    try:
        checkpoint = open_checkpoint(wire.checkpoint, log_verifier, expected_origin=wire.origin)
    except NoteError as exc:
        report.fault(
            "checkpoint_invalid",
            "the bundle's checkpoint is not signed by the log you trust (or names another log), "
            f"so nothing in it can be trusted: {exc.message}",
        )
        return report
    report.checkpoint_size, report.root_hash = checkpoint.size, checkpoint.root_hash
    trust = TrustStore(root_algorithm, root_public_key)
    BundleChecks(wire, checkpoint, report, trust, log_verifier.public_key, focus).run()
    judge_against_state(wire, checkpoint, report, state, now)
    return report
