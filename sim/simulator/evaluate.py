"""Scoring the anomaly engine against the simulation's ground-truth labels.

A label and a finding match when they name the same rule and the same **subject**. The
subject of a finding is defined per rule in :data:`SUBJECT`, here and nowhere else:

- ``storage.major_hazard``: the finding's ``site`` (a site's sum, not any one item);
- ``mass.org_balance``: the finding's ``org`` (an organisation's 30-day balance);
- every other rule: the finding's ``item`` (for shipments and sales with several items,
  the engine names the smallest code; injected stories use one item, so it is that one).

Scoring is over distinct ``(rule, subject)`` pairs: several findings about one subject
(a cylinder used twice past its inspection date) count once. TP are pairs both found and
labelled, FP found but not labelled, FN labelled but not found.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ledger.rules import RULES, Finding

SUBJECT: Final[dict[str, str]] = {
    **dict.fromkeys(RULES, "item"),
    "storage.major_hazard": "site",
    "mass.org_balance": "org",
}


def subject_of(finding: Finding) -> str:
    return str(getattr(finding, SUBJECT[finding.rule]))


@dataclass
class RuleScore:
    rule: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def read_labels(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def score(findings: Iterable[Finding], labels: Iterable[dict[str, str]]) -> list[RuleScore]:
    """One score per rule (every rule of the engine), then the overall one (``ALL``)."""
    found = {(f.rule, subject_of(f)): f for f in findings}
    wanted = {(label["rule"], label["subject"]) for label in labels}
    scores = {rule: RuleScore(rule) for rule in RULES}
    for pair, finding in sorted(found.items()):
        entry = scores[pair[0]]
        if pair in wanted:
            entry.tp += 1
        else:
            entry.fp += 1
            entry.false_positives.append(f"{pair[1]}: {finding.message}")
    for pair in sorted(wanted - set(found)):
        scores[pair[0]].fn += 1
        scores[pair[0]].false_negatives.append(pair[1])
    total = RuleScore("ALL")
    for entry in scores.values():
        total.tp, total.fp, total.fn = total.tp + entry.tp, total.fp + entry.fp, total.fn + entry.fn
    return [*scores.values(), total]
