"""``chemtrace findings rescan`` on the demo city: deterministic, idempotent, as of a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.store.engine import make_engine
from ledger.store.findings import FindingFilter, FindingStore
from tests.api._cli import run_cli


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    home = tmp_path_factory.mktemp("findings-demo")
    url = f"sqlite:///{home / 'demo.db'}"
    seeded = run_cli("demo", "--seed-only", "--db", url, "--keys", str(home / "keys"), cwd=home)
    assert seeded.returncode == 0, seeded.stderr
    return url


def _rescan(url: str, *extra: str, cwd: Path) -> list[dict[str, object]]:
    done = run_cli("findings", "rescan", "--db", url, "--json", *extra, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_rescan_finds_the_demo_s_planted_flows_and_is_deterministic(
    demo_db: str, tmp_path: Path
) -> None:
    first = _rescan(demo_db, "--as-of", "2027-01-01T00:00:00Z", cwd=tmp_path)
    again = _rescan(demo_db, "--as-of", "2027-01-01T00:00:00Z", cwd=tmp_path)
    assert first == again
    rules = {str(f["rule"]) for f in first}
    assert {"custody.wrong_receiver", "permit.individual_buyer", "clone.after_destruction",
            "custody.transit_overdue"} <= rules  # fmt: skip
    assert len({f["id"] for f in first}) == len(first)


def test_as_of_before_the_ledger_began_finds_nothing(demo_db: str, tmp_path: Path) -> None:
    assert _rescan(demo_db, "--as-of", "2020-01-01T00:00:00Z", cwd=tmp_path) == []


def test_saving_twice_stores_each_finding_once(demo_db: str, tmp_path: Path) -> None:
    store = FindingStore(make_engine(demo_db))
    first = run_cli("findings", "rescan", "--db", demo_db, "--save", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    stored = len(store.all_findings())
    assert stored > 0 and f"; {stored} new saved" in first.stdout
    # the table counts findings (groups, as stored) and their occurrences
    groups = store.count(FindingFilter())
    assert 0 < groups < stored and f"{groups} findings ({stored} occurrences)" in first.stdout
    again = run_cli("findings", "rescan", "--db", demo_db, "--save", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "; 0 new saved" in again.stdout
    assert len(store.all_findings()) == stored


def test_a_bad_as_of_time_is_a_clear_error(demo_db: str, tmp_path: Path) -> None:
    done = run_cli("findings", "rescan", "--db", demo_db, "--as-of", "yesterday", cwd=tmp_path)
    assert done.returncode == 2
    assert "cannot rescan" in done.stderr
