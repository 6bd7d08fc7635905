"""The simulator's scorer: matching by subject, refusals at ingest, superseded findings."""

from __future__ import annotations

from dataclasses import dataclass

from sim.simulator.evaluate import score


@dataclass(frozen=True)
class Found:
    rule: str
    id: str
    item: str | None = None
    site: str | None = None
    org: str | None = None
    severity: str = "high"
    message: str = "m"
    supersedes: tuple[str, ...] = ()


def _label(kind: str, subject: str, **extra: object) -> dict[str, str]:
    return {"kind": kind, "subject": subject, "description": "d", **extra}  # type: ignore[dict-item]


def _kind(scores: object, name: str) -> tuple[int, int, int]:
    entry = next(s for s in scores.kinds if s.name == name)  # type: ignore[attr-defined]
    return entry.tp, entry.fp, entry.fn


def test_a_finding_on_the_labelled_subject_is_a_true_positive_elsewhere_a_false_one() -> None:
    found = [Found("custody.wrong_receiver", "f-1", item="A"),
             Found("custody.wrong_receiver", "f-2", item="B")]  # fmt: skip
    scores = score(found, [_label("carrier_signs_receipt", "A")], ["custody.wrong_receiver"])
    assert _kind(scores, "carrier_signs_receipt") == (1, 0, 0)
    rule = next(s for s in scores.rules if s.name == "custody.wrong_receiver")
    assert (rule.tp, rule.fp, rule.fn) == (1, 1, 0)


def test_a_superseded_finding_is_neither_a_hit_nor_a_false_alarm() -> None:
    breach = Found("custody.transit_overdue", "f-1", item="A")
    late = Found("device.late_sync", "f-2", item="A", severity="low", supersedes=("f-1",))
    scores = score([breach, late], [_label("receipt_after_deadline", "A")],
                   ["custody.transit_overdue", "device.late_sync"])  # fmt: skip
    assert _kind(scores, "receipt_after_deadline") == (0, 0, 1)
    overdue = next(s for s in scores.rules if s.name == "custody.transit_overdue")
    assert (overdue.tp, overdue.fp) == (0, 0)


def test_an_event_ingest_must_refuse_counts_only_when_it_was_refused_with_its_code() -> None:
    labels = [_label("unit_not_convertible", "A", refused="unit_not_convertible"),
              _label("unit_not_convertible", "B", refused="unknown_code"),
              _label("unit_not_convertible", "C")]  # fmt: skip
    scores = score([], labels, [])
    assert _kind(scores, "unit_not_convertible") == (1, 0, 2)


def test_a_kind_whose_rule_the_engine_lacks_is_a_recall_gap_not_a_zero() -> None:
    scores = score([], [_label("backdated_key_revocation", "org-1")], [])
    entry = next(s for s in scores.kinds if s.name == "backdated_key_revocation")
    assert entry.gap and (entry.tp, entry.fn) == (0, 1) and entry.recall == 0.0
