"""The offline bundle verifier: pinned root and log keys in, a report of plain-words findings out.

No network, no database, no files: the bundle is a parsed JSON mapping and the
verifier state is passed in and handed back as objects. With a witness policy the
checkpoint must also carry the policy's quorum of cosignatures
(:mod:`ledger.bundle.checkpoints`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ledger.bundle.checkpoints import trusted_checkpoint
from ledger.bundle.freshness import judge_against_state
from ledger.bundle.items import BundleChecks
from ledger.bundle.report import BundleReport
from ledger.bundle.state import VerifierState
from ledger.bundle.wire import parse_bundle
from ledger.certificates import TrustStore
from ledger.errors import LedgerError
from ledger.note import NoteVerifier
from ledger.timefmt import parse_utc
from ledger.witness_policy import WitnessPolicy


def verify_bundle(
    bundle_json: Mapping[str, Any],
    *,
    root_algorithm: str,
    root_public_key: bytes,
    log_verifier: NoteVerifier | None,
    state: VerifierState | None,
    now: datetime,
    focus: str | None = None,
    policy: WitnessPolicy | None = None,
) -> BundleReport:
    """Verify an offline bundle against pinned keys and, if given, what was verified before.

    Args:
        bundle_json: the parsed bundle file.
        root_algorithm: the registry root key's algorithm (``ed25519``).
        root_public_key: the pinned registry root public key.
        log_verifier: the pinned log key (its signed-note verifier). With a ``policy``
            that lists log keys it is not used; ``None`` is allowed only with a policy.
        state: the verifier's memory of earlier bundles, or ``None``.
        now: the verifier's clock, recorded when the state advances; with a policy, also
            the clock cosignature timestamps may not run ahead of.
        focus: the code of the item the user is looking at (a scanned label): findings
            about it say "this cylinder" instead of "cylinder CT-…".
        policy: a witness policy: the checkpoint must be signed by one of its log keys
            for this origin and cosigned by its quorum (fault ``checkpoint_unwitnessed``);
            ``report.witnesses`` then says who cosigned.

    Returns:
        A report; ``report.state`` is the state to keep afterwards.

    Raises:
        ValueError: neither ``log_verifier`` nor ``policy`` was given.
    """
    if log_verifier is None and policy is None:
        raise ValueError("verify_bundle needs a log_verifier or a witness policy")
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
    trusted = trusted_checkpoint(wire, report, log_verifier=log_verifier, policy=policy, now=now)
    if trusted is None:
        return report
    checkpoint = trusted.checkpoint
    report.checkpoint_size, report.root_hash = checkpoint.size, checkpoint.root_hash
    trust = TrustStore(root_algorithm, root_public_key)
    BundleChecks(wire, checkpoint, report, trust, trusted.log_keys, focus).run()
    judge_against_state(wire, checkpoint, report, state, now)
    return report
