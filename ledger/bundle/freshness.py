"""Judging a verified bundle's checkpoint against what the verifier accepted before."""

from __future__ import annotations

from datetime import datetime

from ledger.bundle.report import BundleReport, describe_day, describe_duration
from ledger.bundle.state import LogView, VerifierState
from ledger.bundle.wire import WireBundle
from ledger.checkpoint import Checkpoint
from ledger.errors import ProofError
from ledger.merkle import verify_consistency
from ledger.timefmt import parse_utc


def judge_against_state(
    wire: WireBundle,
    checkpoint: Checkpoint,
    report: BundleReport,
    state: VerifierState | None,
    now: datetime,
) -> None:
    size, root = checkpoint.size, checkpoint.root_hash
    verified_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    view = None if state is None else state.view(checkpoint.origin)
    if view is None:
        fresh = LogView(checkpoint.origin, size, root, wire.created_at, verified_at)
        _advance(report, state or VerifierState(), fresh)
        return
    seen_on = describe_day(view.verified_at, now)
    known = view.root_at(size)
    if known is not None and known != root:
        report.fault(
            "checkpoint_fork",
            f"this bundle contradicts the log you verified {seen_on} (fault): the log's "
            f"checkpoint of size {size} has a different root from the one you verified",
        )
        return
    if wire.consistency is not None:
        first, proof = wire.consistency
        first_root = view.root_at(first)
        if first_root is not None and first <= size:
            try:
                verify_consistency(first, size, proof, first_root, root)
            except ProofError:
                report.fault(
                    "checkpoint_inconsistent",
                    f"this bundle contradicts the log you verified {seen_on} (fault): its "
                    f"checkpoint (size {size}) does not extend the one of size {first} you "
                    "verified",
                )
                return
            if first == view.size and size > view.size:
                _advance(report, state, view.advanced_to(size, root, wire.created_at, verified_at))
                return
    if size < view.size:
        age = parse_utc(view.as_of) - parse_utc(wire.created_at)
        older = f"{describe_duration(age)} older" if age.total_seconds() >= 60 else "older"
        report.warn(
            "bundle_stale",
            f"this bundle is {older} than the one you verified {seen_on} (stale): its "
            f"checkpoint covers {size} log entries, the one you verified {view.size}",
        )
    elif size > view.size:
        report.warn(
            "consistency_unconfirmed",
            f"cannot confirm consistency offline: this bundle's checkpoint (size {size}) is newer "
            f"than the one you verified (size {view.size}) and carries no proof that it extends "
            f"that one; export it with --since {view.size} (your saved state was not advanced)",
        )


def _advance(report: BundleReport, state: VerifierState | None, view: LogView) -> None:
    if report.faults:
        return
    report.state = (state or VerifierState()).with_view(view)
    report.state_advanced = True
