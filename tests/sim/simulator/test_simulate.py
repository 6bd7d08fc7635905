"""``chemtrace simulate``: a small seeded city, scored against its own labels, twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.rules import RULES
from sim.simulator import Evaluation, Report, evaluate, simulate
from sim.simulator.evaluate import read_labels

ITEMS = 600


def _run(tmp: Path, name: str) -> tuple[Report, Path, str]:
    db = f"sqlite:///{tmp / name}.db"
    labels = tmp / f"{name}.jsonl"
    report = simulate(db, items=ITEMS, seed=11, anomaly_rate=0.01, labels=labels,
                      keys=tmp / "keys")  # fmt: skip
    return report, labels, db


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path, Evaluation, Report, Path]:
    tmp = tmp_path_factory.mktemp("simulate")
    first, labels, db = _run(tmp, "first")
    scored = evaluate(db, labels)
    second, again, _ = _run(tmp, "second")
    return first, labels, scored, second, again


@pytest.mark.xfail(
    strict=True,
    reason="issue 13: the old simulator has no stories for the rules added in this issue; the independent simulator on branch i13-sim replaces it",
)
def test_every_rule_is_labelled(runs: tuple[Report, Path, Evaluation, Report, Path]) -> None:
    first, labels, *_ = runs
    assert {label["rule"] for label in read_labels(labels)} == set(RULES)
    assert first.items >= ITEMS * 0.4  # small cities round the budget down
    assert first.events >= first.items * 5


@pytest.mark.xfail(
    strict=True,
    reason="issue 13: the old simulator has no stories for the rules added in this issue; the independent simulator on branch i13-sim replaces it",
)
def test_engine_finds_exactly_the_labels(
    runs: tuple[Report, Path, Evaluation, Report, Path],
) -> None:
    _, _, scored, _, _ = runs
    problems = {
        s.rule: (s.false_positives[:3], s.false_negatives[:3])
        for s in scored.scores
        if s.precision < 1.0 or s.recall < 1.0
    }
    assert problems == {}
    assert scored.scores[-1].rule == "ALL" and scored.scores[-1].tp >= len(RULES)


def test_same_seed_same_city(runs: tuple[Report, Path, Evaluation, Report, Path]) -> None:
    first, labels, _, second, again = runs
    assert labels.read_bytes() == again.read_bytes()
    assert (first.events, first.items, first.records) == (second.events, second.items,
                                                          second.records)  # fmt: skip


def test_refuses_a_ledger_that_is_not_empty(
    runs: tuple[Report, Path, Evaluation, Report, Path], tmp_path: Path
) -> None:
    _, labels, *_ = runs
    db = f"sqlite:///{labels.with_suffix('.db')}"
    with pytest.raises(RuntimeError, match="already holds a ledger"):
        simulate(db, items=10, seed=1, anomaly_rate=0.0, labels=tmp_path / "x.jsonl",
                 keys=labels.parent / "keys")  # fmt: skip
