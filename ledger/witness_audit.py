"""The witness side of an audit: which stored checkpoints a verifier's policy accepts.

The ledger audit (:mod:`ledger.verify`) proves the database is one intact history. A witness
policy adds what one operator cannot prove alone: that independent witnesses saw the same
history. With a policy, an audit faults

* ``cosignature_invalid``: a stored cosignature from a listed witness key does not verify
  (someone edited it: a real witness never signs twice for one size);
* ``trusted_checkpoint_unwitnessed``: the checkpoint the auditor brought lacks the quorum;
* ``log_unwitnessed``: no stored checkpoint has the quorum at all,

and reports ``witnessed_size``, the largest stored checkpoint with the quorum. The newest
checkpoint may lag it by a moment while cosignatures are collected; that is not a fault.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.errors import LedgerError
from ledger.verify import AuditReport, Fault
from ledger.witness_policy import WitnessPolicy, judge_checkpoint


def audit_witnessing(
    report: AuditReport,
    cosigned: Sequence[tuple[int, str]],
    policy: WitnessPolicy,
    *,
    trusted_checkpoint: str | None,
    now: int,
) -> None:
    """Judge every stored checkpoint (``(size, note with its cosignatures)``) by ``policy``.

    Adds faults and ``witnessed_size`` to ``report``. A note whose log signature fails is
    left to the ledger audit, which already reported it.
    """
    witnessed: int | None = None
    for size, note in cosigned:
        try:
            verdict = judge_checkpoint(note, policy, now=now)
        except LedgerError:
            continue
        for name in verdict.bad:
            report.faults.append(
                Fault(
                    "cosignature_invalid",
                    f"the stored cosignature of {name} does not verify",
                    index=size,
                )
            )
        if verdict.accepted:
            witnessed = size if witnessed is None else max(witnessed, size)
    report.witnessed_size = witnessed
    if cosigned and witnessed is None:
        report.faults.append(
            Fault("log_unwitnessed", "no stored checkpoint has the policy's witness quorum")
        )
    if trusted_checkpoint is not None:
        try:
            verdict = judge_checkpoint(trusted_checkpoint, policy, now=now)
        except LedgerError as exc:
            report.faults.append(Fault("trusted_checkpoint_unwitnessed", exc.diagnostics()))
            return
        if not verdict.accepted:
            report.faults.append(
                Fault(
                    "trusted_checkpoint_unwitnessed",
                    verdict.explain(),
                    index=verdict.checkpoint.size,
                )
            )
