"""The online anomaly engine inside a real server: deadlines with no further event, restarts,
and parity with a batch rescan of the same ledger as of the same time."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.anomaly import new_engine, rescan
from api.catalogs import DEFAULT_RULES
from ledger.rules import Finding
from ledger.rules.grouping import group_findings
from ledger.store.engine import make_engine
from ledger.store.findings import FindingFilter, FindingStore
from ledger.timefmt import parse_utc
from tests.api.live import LiveServer, World, build_world, wait_for

TRANSIT_S = 4


@pytest.fixture
def quick_rules(tmp_path: Path) -> Path:
    """The shipped rules with a transit allowance of a few seconds, beside the files they name."""
    folder = shutil.copytree(DEFAULT_RULES.parent, tmp_path / "rules")
    raw = json.loads(DEFAULT_RULES.read_text())
    raw["transport"].update(speed_kmh="1000000", slack_hours=f"{TRANSIT_S / 3600:.6f}")
    path = folder / "quick-rules.json"
    path.write_text(json.dumps(raw))
    return path


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ship_now(world: World) -> str:
    """Commission an item and ship it now, with every document; nobody will receive it."""
    producer = world.actors["p-chem"]
    (code,) = world.issue("p-chem", 1)
    producer.client.submit(producer.device.event("commission", [code], {
        "chemical": "17", "quantity": {"value": "20", "unit": "kg"}, "lot": "L1",
        "packaging": "cylinder"}, time=_now(), site=producer.site))  # fmt: skip
    producer.client.submit(producer.device.event("ship", [code], {
        "carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site",
        "waybill_no": "EW1"}, time=_now(), site=producer.site))  # fmt: skip
    return code


def _overdue(store: FindingStore, code: str) -> list[Finding]:
    return [f for f in store.all_findings() if f.rule == "custody.transit_overdue"
            and f.item == code]  # fmt: skip


def test_a_missing_receive_is_found_with_no_further_event_and_matches_a_rescan(
    start_server: object, backend: str, quick_rules: Path
) -> None:
    server: LiveServer = start_server(backend, CHEMTRACE_RULES=str(quick_rules))  # type: ignore[operator]
    world = build_world(server)
    store = FindingStore(make_engine(server.db_url))
    try:
        code = _ship_now(world)
        shipped = datetime.now(UTC)
        (found,) = wait_for(lambda: _overdue(store, code), timeout=TRANSIT_S + 15)
        latency = datetime.now(UTC) - shipped
        assert latency < timedelta(seconds=TRANSIT_S + 8)
        assert "not received" in found.message and found.district == "d2"
        cursor = store.cursor()
        batch = rescan(FindingStore(make_engine(server.db_url)), new_engine(quick_rules),
                       as_of=parse_utc(cursor.clock))  # fmt: skip
        assert {f.id: f for f in batch} == {f.id: f for f in store.all_findings()}
        assert group_findings(batch) == store.all_groups()
    finally:
        world.close()


def test_a_deadline_armed_before_a_crash_fires_after_the_restart(
    start_server: object, quick_rules: Path
) -> None:
    server: LiveServer = start_server("sqlite", CHEMTRACE_RULES=str(quick_rules))  # type: ignore[operator]
    world = build_world(server)
    store = FindingStore(make_engine(server.db_url))
    try:
        code = _ship_now(world)
        server.kill()  # kill -9 before the transit allowance runs out
        assert not _overdue(store, code)
        time.sleep(TRANSIT_S + 3)  # the deadline passes while no engine runs
        server.restart()
        wait_for(lambda: _overdue(store, code), timeout=15)
        (first,) = store.search(FindingFilter(rule="custody.transit_overdue", item=code))
        server.restart()  # a second rebuild replays the same facts and finds nothing new
        later = _ship_now(world)  # something for the rebuilt worker to read
        index = world.actors["c-move"].client.item(later)["head"]["index"]
        wait_for(lambda: store.cursor().log_position >= index, timeout=15)
        assert store.search(FindingFilter(rule="custody.transit_overdue", item=code)) == [first]
    finally:
        world.close()
