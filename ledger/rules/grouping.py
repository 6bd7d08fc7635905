"""Grouped findings: which occurrences are one finding to review. Pure.

The engine emits occurrences (a :class:`Finding`, id = hash(rule, key)); a regulator reviews
groups, one per (rule, subject), with its occurrences, first and last seen, and a count
(issue 13, defect class 10: 298 of 315 demo findings were one clash at one depot).

:data:`SUBJECTS` is the one reviewed table of how a rule's subject is derived from an
occurrence's fields. A rule without an entry keeps subject = key: each occurrence is its own
group, with the occurrence's id as the group's id. That default is safe for a new rule (it
is never merged with anything), and ``tests/ledger/rules/test_grouping.py`` lists the rules
that use it, so a new rule is reviewed rather than silently left ungrouped.

A grouped subject always starts with the occurrence's organisation and district: scoping
(an enterprise sees its own organisation's findings, a regulator its districts') judges a
group by those two, so a group never holds an occurrence its viewer could not see.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from ledger.rules.findings import SEVERITIES, Finding, Severity
from ledger.timefmt import parse_utc

Subject = Callable[[Finding], tuple[str, ...]]
"""The parts of an occurrence's subject beyond its organisation and district."""


def _key_head(separator: str, parts: int) -> Subject:
    """The first ``parts`` pieces of the key split at ``separator``."""

    def subject(f: Finding) -> tuple[str, ...]:
        return tuple(f.key.split(separator)[:parts])

    return subject


def _key_tail_dropped(separator: str, dropped: int) -> Subject:
    """The key without its last ``dropped`` pieces (split from the right)."""

    def subject(f: Finding) -> tuple[str, ...]:
        return (f.key.rsplit(separator, dropped)[0],)

    return subject


def _fields(*names: str) -> Subject:
    """The named fields of the occurrence (``""`` for one that is not set)."""

    def subject(f: Finding) -> tuple[str, ...]:
        return tuple(str(getattr(f, name) or "") for name in names)

    return subject


SUBJECTS: Final[Mapping[str, Subject]] = {
    # key "site|group pair|chemical pair": one depot's clash of two segregation groups (the
    # matrix cell: oxidizer beside flammable), whichever chemicals of them meet there
    "storage.incompatible": _key_tail_dropped("|", 1),
    # key "org|unit members:level:log index": one GB 18218 unit of assessment, any level
    "storage.major_hazard": _key_tail_dropped(":", 2),
    # key "code:event": one cylinder past its inspection date, however often it is used
    "storage.cylinder_overdue": _fields("item"),
    # one cylinder filled again and again after it failed its inspection
    "storage.cylinder_failed_fill": _fields("item"),
    # key "event": one site where toxic stock moves with one signature, per chemical
    "storage.two_person": _fields("site", "chemical"),
    # key "org|chemical|window start": one organisation's balance of one chemical
    "mass.org_balance": _key_head("|", 2),
    # key "code:event": one site's counts of one chemical falling short of its books
    "mass.stock_shortfall": _fields("site", "chemical"),
    # key "event": one site's transforms of one chemical (the rule's) not balancing
    "mass.transform_imbalance": _fields("site", "chemical"),
    # key "code:event": one site's receives of one chemical recording less than was shipped
    "mass.receive_shortfall": _fields("site", "chemical"),
    # key "event:org": one organisation acting on one chemical without a licence (the
    # occurrences' messages name each activity)
    "licence.missing": _fields("chemical"),
    # key "code:event": one item that grows without a fill
    "lifecycle.quantity_growth": _fields("item"),
    # key "code:event": one code carried by two labels
    "clone.impossible_travel": _fields("item"),
    # key "code:last event": one item left idle (each new idle spell is an occurrence)
    "dormancy.idle": _fields("item"),
    # key "event": one site's handhelds syncing late (low severity; each names its event)
    "device.late_sync": _fields("site"),
    # key "code:event": one item seen away from its site without a shipment
    "custody.unshipped_move": _fields("item"),
    # key "code:event": one item whose quantity cannot be weighed
    "quantity.unit_unknown": _fields("item"),
}


def subject_of(finding: Finding) -> str:
    """The subject of ``finding``'s group: its key for a rule without an entry."""
    derive = SUBJECTS.get(finding.rule)
    if derive is None:
        return finding.key
    return "|".join((finding.org or "", finding.district or "", *derive(finding)))


def group_id(rule: str, subject: str) -> str:
    """``f-`` and 32 hex digits of SHA-256(rule, subject): an ungrouped occurrence's own id."""
    digest = hashlib.sha256(f"{rule}\x00{subject}".encode()).hexdigest()
    return f"f-{digest[:32]}"


def group_of(finding: Finding) -> str:
    """The id of the group ``finding`` belongs to (its own id for a rule without an entry)."""
    return group_id(finding.rule, subject_of(finding))


def worst(a: Severity, b: Severity) -> Severity:
    return a if SEVERITIES.index(a) >= SEVERITIES.index(b) else b


def earliest(a: str, b: str) -> str:
    """The earlier of two RFC 3339 times (as text they do not sort: ``00Z`` > ``00.5Z``)."""
    return a if parse_utc(a) <= parse_utc(b) else b


def latest(a: str, b: str) -> str:
    return a if parse_utc(a) >= parse_utc(b) else b


@dataclass(frozen=True, slots=True)
class Group:
    """What a group's occurrences add up to (its workflow state lives in the store)."""

    id: str
    rule: str
    subject: str
    severity: Severity
    first_seen: str
    last_seen: str
    count: int
    occurrences: tuple[str, ...]
    """Occurrence ids, sorted."""


def group_findings(findings: Iterable[Finding]) -> dict[str, Group]:
    """Group occurrences (each id counted once, however often it is given), by group id.

    The result depends only on the set of occurrences, not on their order or batching:
    an online worker saving them as they come and a rescan saving them at once agree.
    """
    unique = {f.id: f for f in findings}
    members: dict[str, list[Finding]] = {}
    for f in unique.values():
        members.setdefault(group_of(f), []).append(f)
    groups: dict[str, Group] = {}
    for gid, found in members.items():
        severity: Severity = found[0].severity
        for f in found[1:]:
            severity = worst(severity, f.severity)
        groups[gid] = Group(
            id=gid, rule=found[0].rule, subject=subject_of(found[0])[:300], severity=severity,
            first_seen=min((f.at for f in found), key=parse_utc),
            last_seen=max((f.at for f in found), key=parse_utc),
            count=len(found), occurrences=tuple(sorted(f.id for f in found)),
        )  # fmt: skip
    return groups
