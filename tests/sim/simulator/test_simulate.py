"""``chemtrace simulate``: a small seeded city with its own labels (no engine code shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.simulator import Report, simulate
from sim.simulator.anomalies import STORIES
from sim.simulator.evaluate import read_labels
from sim.simulator.kinds import KINDS

ITEMS = 200


def _run(tmp: Path, name: str) -> tuple[Report, Path]:
    labels = tmp / f"{name}.jsonl"
    report = simulate(f"sqlite:///{tmp / name}.db", items=ITEMS, seed=3, anomaly_rate=0.0,
                      labels=labels, keys=tmp / "keys", days=30)  # fmt: skip
    return report, labels


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path, Report, Path]:
    tmp = tmp_path_factory.mktemp("simulate")
    return (*_run(tmp, "first"), *_run(tmp, "second"))


def test_the_kinds_table_covers_every_story() -> None:
    assert set(STORIES) <= set(KINDS)


def test_every_kind_is_generated(runs: tuple[Report, Path, Report, Path]) -> None:
    _, labels, _, _ = runs
    rows = read_labels(labels)
    assert {r["kind"] for r in rows if not r.get("near_miss")} == set(KINDS)


def test_same_seed_same_city(runs: tuple[Report, Path, Report, Path]) -> None:
    first, labels, second, again = runs
    assert labels.read_bytes() == again.read_bytes()
    assert (first.events, first.items) == (second.events, second.items)
