"""Which bundle checkpoints a verifier trusts: signed by the pinned log key, or witnessed.

Without a witness policy the checkpoint must carry a valid signature of the one pinned log
key, as before. With a policy (:mod:`ledger.witness_policy`) the policy is the trust root
for checkpoints: any of its ``log`` keys named after the bundle's origin may have signed
(both the old and the new key during a rotation), and the policy's quorum of witnesses must
have cosigned inside the keys' validity windows. A log alone can show one verifier a
history it shows nobody else (a split view); witnesses that each saw only one history are
what rules that out, so an unwitnessed checkpoint is refused like a forged one. A policy
without any ``log`` line trusts the pinned log key (C2SP tlog-policy lets the logs be
known from context).

Head statements carry no witnessed time, so they are checked with every listed log key
that counted for this checkpoint or is valid now: the builder may sign a missing statement
for an older checkpoint with the current key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ledger.bundle.report import BundleReport
from ledger.bundle.wire import WireBundle
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.errors import NoteError
from ledger.note import NoteVerifier
from ledger.witness_policy import NONE, PolicyLog, Verdict, WitnessPolicy, judge_checkpoint


@dataclass(frozen=True, slots=True)
class TrustedCheckpoint:
    """A checkpoint the verifier accepts, and the log keys trusted for its head statements."""

    checkpoint: Checkpoint
    log_keys: tuple[bytes, ...]


def trusted_checkpoint(
    wire: WireBundle,
    report: BundleReport,
    *,
    log_verifier: NoteVerifier | None,
    policy: WitnessPolicy | None,
    now: datetime,
) -> TrustedCheckpoint | None:
    """The bundle's checkpoint if it is trusted, else ``None`` with a fault on ``report``.

    Faults: ``checkpoint_invalid`` (not signed by a trusted log key, or another log's) and,
    with a policy, ``checkpoint_unwitnessed`` (the quorum did not cosign it in time).
    """
    if policy is None:
        if log_verifier is None:
            raise ValueError("verify_bundle needs a log_verifier or a witness policy")
        try:
            checkpoint = open_checkpoint(wire.checkpoint, log_verifier, expected_origin=wire.origin)
        except NoteError as exc:
            _invalid(report, "the log you trust", exc)
            return None
        return TrustedCheckpoint(checkpoint, (log_verifier.public_key,))
    if not policy.logs and log_verifier is not None:
        policy = replace(policy, logs=(PolicyLog(log_verifier),))
    at = int(now.timestamp())
    try:
        verdict = judge_checkpoint(wire.checkpoint, policy, now=at)
        if verdict.checkpoint.origin != wire.origin:
            raise NoteError(
                "checkpoint origin differs from the expected log",
                expected=wire.origin,
                computed=verdict.checkpoint.origin,
            )
    except NoteError as exc:
        _invalid(report, "a log key your witness policy lists", exc)
        return None
    if not verdict.accepted:
        report.fault("checkpoint_unwitnessed", unwitnessed_message(verdict, policy))
        return None
    report.witnesses = dict(verdict.cosigned)
    counted = set(verdict.log_keys) - set(verdict.log_keys_outside_validity)
    keys = tuple(
        log.verifier.public_key
        for log in policy.logs
        if log.verifier.name == verdict.checkpoint.origin
        and (log.verifier.key_id.hex() in counted or log.window.holds(at))
    )
    return TrustedCheckpoint(verdict.checkpoint, keys)


def _invalid(report: BundleReport, trusted: str, exc: NoteError) -> None:
    report.fault(
        "checkpoint_invalid",
        f"the bundle's checkpoint is not signed by {trusted} (or names another log), "
        f"so nothing in it can be trusted: {exc.message}",
    )


def unwitnessed_message(verdict: Verdict, policy: WitnessPolicy) -> str:
    """Why a checkpoint is refused, naming every witness that did not count, and why."""
    reasons = []
    if verdict.bad:
        reasons.append(
            f"the cosignature of {_names(verdict.bad)} does not verify (altered, forged, or "
            "made over another checkpoint)"
        )
    if verdict.outside_validity:
        reasons.append(
            f"{_names(verdict.outside_validity)} cosigned outside the time the policy trusts "
            f"{_their(verdict.outside_validity)} key for (or dated it in the future), so "
            f"{'it does' if len(verdict.outside_validity) == 1 else 'they do'} not count"
        )
    if verdict.duplicate:
        reasons.append(f"{_names(verdict.duplicate)} cosigned more than once (counted once)")
    if verdict.log_keys_outside_validity:
        reasons.append(
            "the log key that signed it was not valid when the witnesses cosigned (a retired "
            "or stolen log key)"
        )
    absent = tuple(
        name
        for name in verdict.missing
        if name not in verdict.bad and name not in verdict.outside_validity
    )
    if absent:
        reasons.append(f"no cosignature from {_names(absent)}")
    return (
        f"the bundle's checkpoint is not witnessed as your witness policy requires "
        f"({describe_quorum(policy)}), so nothing in it can be trusted: the log could be "
        f"showing you a history nobody else sees; {'; '.join(reasons) or 'no reason given'} "
        f"[{verdict.explain()}]"
    )


def describe_quorum(policy: WitnessPolicy) -> str:
    """The quorum in words: ``city: 2 of police, transport and district``."""
    if policy.quorum == NONE:
        return "no cosignature"
    group = next((g for g in policy.groups if g.name == policy.quorum), None)
    if group is None:
        return f"a cosignature from {policy.quorum}"
    members = _names(group.members)
    if group.threshold == len(group.members):
        rule = f"all of {members}" if len(group.members) > 1 else members
    elif group.threshold == 1:
        rule = f"any of {members}"
    else:
        rule = f"{group.threshold} of {members}"
    return f"{group.name}: {rule}"


def _names(names: tuple[str, ...]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _their(names: tuple[str, ...]) -> str:
    return "its" if len(names) == 1 else "their"
