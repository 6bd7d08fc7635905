"""A key revocation that reaches back over events already logged. Pure.

The key hierarchy (docs/architecture.md, "Identity and trust"; :mod:`ledger.revocations`)
judges every event against the revocations logged *before* it, so a revocation logged
later with an earlier effective time (a compromise found after the fact) leaves accepted
events verifying; the architecture leaves reporting them to this engine. A key is
untrusted from its ``effective_from`` on (``effective <= log time``, as
:meth:`ledger.certificates.TrustStore.device_certificate` reads it).

``keys.backdated_revocation``: a revocation of key K, effective from E, logged after
events whose log time is at or after E and that K signed (a device key), or that a
device key certified by K signed (an organisation key) when that device has no other
organisation certificate left unrevoked. Those events are retroactively signed by an
untrusted key: the finding names them (the newest ``keys.evidence_limit``), how many
there are and over which log times, so that a regulator reviews them. A revocation
that reaches back over no logged event is routine and stays quiet, however early its
effective time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterator

from ledger.certificates import Certificate
from ledger.revocations import Revocation
from ledger.rules.findings import Finding
from ledger.rules.state import KeyLog, RuleState, utc_text


def on_event(st: RuleState, key_id: str, log_time: float, event_hash: str) -> None:
    log = st.key_logs.get(key_id)
    if log is None:
        log = st.key_logs[key_id] = KeyLog(recent=deque(maxlen=st.config.keys.evidence_limit))
    log.times.append(log_time)
    log.recent.append((log_time, event_hash))


def on_certificate(st: RuleState, cert: Certificate) -> None:
    if cert.role == "device":
        st.device_issuers.setdefault(cert.key_id, set()).add(cert.issuer)


def on_revocation(
    st: RuleState, revocation: Revocation, index: int, log_time: str
) -> Iterator[Finding | None]:
    effective = revocation.effective.timestamp()
    known = st.revoked.get(revocation.key_id)
    st.revoked[revocation.key_id] = effective if known is None else min(known, effective)
    keys = [revocation.key_id, *_devices_of(st, revocation.key_id, effective)]
    count, first, last = 0, float("inf"), float("-inf")
    evidence: list[tuple[float, str]] = []
    for key in keys:
        log = st.key_logs.get(key)
        if log is None:
            continue
        start = bisect_left(log.times, effective)
        if start == len(log.times):
            continue
        count += len(log.times) - start
        first, last = min(first, log.times[start]), max(last, log.times[-1])
        evidence += [entry for entry in log.recent if entry[0] >= effective]
    if count == 0:
        return
    limit = st.config.keys.evidence_limit
    named = [event_hash for _, event_hash in sorted(evidence)[-limit:]]
    shown = "" if len(named) == count else f" (the newest {len(named)} named)"
    yield st.finding(
        "keys.backdated_revocation", f"{revocation.key_id}:{index}", log_time,
        f"key {revocation.key_id} of {revocation.org} was revoked from "
        f"{revocation.effective_from}, logged at {log_time}: {count} event(s) logged "
        f"from {utc_text(first)} to {utc_text(last)} were signed by a key now untrusted"
        f"{shown} ({revocation.reason})", tuple(named),
        org=revocation.org,
    )  # fmt: skip


def _devices_of(st: RuleState, key_id: str, effective: float) -> list[str]:
    """Device keys certified by organisation key ``key_id`` and by no other unrevoked one."""
    return sorted(
        device
        for device, issuers in st.device_issuers.items()
        if key_id in issuers
        and all(other == key_id or _revoked_by(st, other, effective) for other in issuers)
    )


def _revoked_by(st: RuleState, key_id: str, moment: float) -> bool:
    revoked = st.revoked.get(key_id)
    return revoked is not None and revoked <= moment
