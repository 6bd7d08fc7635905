"""The simulator's stories run whichever organisation the random draw picks."""

from __future__ import annotations

import random
from pathlib import Path

from sim.simulator import build_world
from sim.simulator.anomalies import STORIES
from sim.simulator.writer import LedgerWriter


def test_production_without_a_licence_never_picks_a_producer_licensed_for_its_whole_family(
    tmp_path: Path,
) -> None:
    # the cyanide works is licensed for every form of its family: a draw of it once crashed
    # a 105k-item simulation ("empty range for randrange()")
    writer = LedgerWriter.open(f"sqlite:///{tmp_path / 'sim.db'}", tmp_path / "keys", 1)
    try:
        world = build_world(writer, items=40, seed=1, anomaly_rate=0.0, days=2)
        world.now, labelled = world.start, len(world.labels)
        for seed in range(200):
            world.rng = random.Random(seed)
            next(STORIES["produced_without_licence"](world, seed))
        chosen = world.labels[labelled:]
        assert len(chosen) == 200
        assert not any(label.description.startswith("beijing-cyanide-works") for label in chosen)
    finally:
        writer.close()
