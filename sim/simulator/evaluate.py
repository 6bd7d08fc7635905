"""Scoring the anomaly engine's findings against the simulator's own labels.

**Matching.** A label names a kind and a subject; the kinds table
(:data:`sim.simulator.kinds.KINDS`) gives the rule expected to report it and the finding
field that must name the subject (``item``, ``site`` or ``org``). A subject written
``a|b`` matches a finding naming either (a GB 18218 unit of two sites). A finding
*matches* a label when its rule is the kind's rule and its subject field names the
label's subject. Several findings on one (rule, subject) count once.

**Per kind (sub-check).** TP: labels matched by a finding; FN: labels not matched; FP:
findings of the kind's rule on a subject the kind recorded as a *near miss* (a story
that stayed just compliant). A kind whose rule the engine does not have (no severity in
the rules catalog it ran with) is marked ``gap``: its labels are all FN, never a zero.

**Per rule.** TP and FN summed over its kinds; FP: distinct (rule, subject) findings that
match no label of any kind of that rule (near misses and background flows alike).

**Refused at ingest.** A kind whose rule is ``ingest.CODE`` is matched by the label's own
``refused`` field: TP when ingest refused the event with ``CODE``, FN otherwise.

A finding a later one supersedes (a deadline breach that a late-synced event, signed in
time, explains) is not scored: a regulator sees it as superseded, not as a breach.

Advisory findings are not scored: :data:`ADVISORY` lists per rule the severities that
are an early warning rather than a breach (GB 18218's S ≥ 0.8 warning).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from sim.simulator.kinds import KINDS

ADVISORY: Final[dict[str, frozenset[str]]] = {"storage.major_hazard": frozenset({"medium"})}


class FindingLike(Protocol):
    """What the scorer reads of a finding (the engine's type is not imported here)."""

    @property
    def rule(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def item(self) -> str | None: ...
    @property
    def site(self) -> str | None: ...
    @property
    def org(self) -> str | None: ...
    @property
    def id(self) -> str: ...
    @property
    def supersedes(self) -> tuple[str, ...]: ...


@dataclass
class Score:
    name: str
    rule: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    gap: bool = False
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Scores:
    kinds: list[Score]
    rules: list[Score]


def read_labels(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


INGEST: Final = "ingest."


def _known(rule: str, known: set[str]) -> bool:
    return rule in known or rule.startswith(INGEST)


def _subject(finding: FindingLike, what: str) -> str | None:
    value: str | None = getattr(finding, what)
    return value


def score(findings: Iterable[FindingLike], labels: Sequence[dict[str, str]],
          known_rules: Iterable[str]) -> Scores:  # fmt: skip
    """Per kind and per rule scores; ``known_rules`` are the rules the engine has."""
    known = set(known_rules)
    listed = list(findings)
    superseded = {old for f in listed for old in f.supersedes}
    scored = [f for f in listed if f.severity not in ADVISORY.get(f.rule, frozenset())
              and f.id not in superseded]  # fmt: skip
    found: dict[tuple[str, str, str], FindingLike] = {}
    for f in scored:
        for what in ("item", "site", "org"):
            value = _subject(f, what)
            if value is not None:
                found.setdefault((f.rule, what, value), f)
    kinds = {name: Score(name, kind.rule, gap=not _known(kind.rule, known))
             for name, kind in KINDS.items()}  # fmt: skip
    claimed: set[tuple[str, str, str]] = set()
    for label in labels:
        kind = KINDS[label["kind"]]
        keys = [(kind.rule, kind.subject, s) for s in label["subject"].split("|")]
        entry = kinds[label["kind"]]
        if label.get("near_miss"):
            for key in keys:
                if key in found and key not in claimed:
                    entry.fp += 1
                    entry.false_positives.append(f"{key[2]}: {found[key].message}")
            continue
        if kind.rule.startswith(INGEST):
            refused = label.get("refused") == kind.rule.removeprefix(INGEST)
            entry.tp, entry.fn = entry.tp + refused, entry.fn + (not refused)
            if not refused:
                entry.false_negatives.append(f"{label['subject']}: {label['description']}")
            continue
        hits = [key for key in keys if key in found]
        claimed.update(hits or keys)
        if hits:
            entry.tp += 1
        else:
            entry.fn += 1
            entry.false_negatives.append(f"{label['subject']}: {label['description']}")
    rules: dict[str, Score] = {}
    for entry in kinds.values():
        rule = rules.setdefault(entry.rule, Score(entry.rule, entry.rule, gap=entry.gap))
        rule.tp, rule.fn = rule.tp + entry.tp, rule.fn + entry.fn
        rule.false_negatives.extend(entry.false_negatives)
    seen: set[tuple[str, str]] = set()
    for (rule_id, what, value), finding in sorted(found.items()):
        if (rule_id, what, value) in claimed:
            continue
        if any((rule_id, w, v) in claimed for w, v in _subjects(finding)):
            continue  # the same finding matched a label through another field
        if (rule_id, finding.message) in seen:
            continue
        seen.add((rule_id, finding.message))
        rule = rules.setdefault(rule_id, Score(rule_id, rule_id))
        rule.fp += 1
        rule.false_positives.append(f"{value}: {finding.message}")
    total = Score("ALL", "ALL")
    for rule in rules.values():
        total.tp, total.fp, total.fn = total.tp + rule.tp, total.fp + rule.fp, total.fn + rule.fn
    return Scores(sorted(kinds.values(), key=lambda s: (s.rule, s.name)),
                  [*sorted(rules.values(), key=lambda s: s.name), total])  # fmt: skip


def _subjects(finding: FindingLike) -> list[tuple[str, str]]:
    return [(w, v) for w in ("item", "site", "org") if (v := _subject(finding, w)) is not None]
