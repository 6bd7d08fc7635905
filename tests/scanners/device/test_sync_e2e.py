"""The device against a real server process: enrol, record offline, sync, conflicts, kill -9.

Every command is the real ``chemtrace scan`` in a subprocess; the server is a real
``chemtrace serve`` on SQLite, and on PostgreSQL with Redis.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.codes import generate_code
from ledger.commitments import disclose
from ledger.timefmt import format_utc
from scanners.client import ChemtraceClient
from scanners.device.enrol import author
from scanners.device.home import DeviceHome
from scanners.device.outbox import Outbox
from scanners.device.sync import sync
from tests.api._cli import chemtrace_command, run_cli
from tests.api.live import BACKENDS, LiveServer, World, shared_server
from tests.scanners.device._events import COMMISSION, STORE_IN, use

REPO = Path(__file__).resolve().parents[3]
ORG = "p-chem"


@dataclass
class Setup:
    server: LiveServer
    world: World
    token: str


@pytest.fixture(scope="module", params=BACKENDS)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("device-sync")
    with shared_server(request, home, request.param, CHEMTRACE_FINDINGS="false") as (server, world):
        yield Setup(server, world, world.actors[ORG].client.token or "")


def _scan(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("scan", *args, "--home", str(home), cwd=home.parent)


def _enrolled(setup: Setup, tmp_path: Path) -> Path:
    home = tmp_path / "device"
    actor = disclose("person", "operator").commitment
    result = _scan(home, "enrol", "--server", setup.server.base_url, "--token", setup.token,
                   "--org", ORG, "--actor", actor, "--site", f"{ORG}-site")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return home


def _codes(setup: Setup, count: int) -> list[str]:
    return setup.world.issue(ORG, count)


def _record(home: Path, event_type: str, code: str, data: dict[str, object]) -> int:
    result = _scan(home, "record", event_type, code, "--data", json.dumps(data), "--json")
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["id"])


def _chain(setup: Setup, code: str) -> list[dict[str, object]]:
    return setup.world.admin.chain(code)


def test_enrol_keeps_the_private_key_on_the_device(setup: Setup, tmp_path: Path) -> None:
    home = _enrolled(setup, tmp_path)
    device = DeviceHome(home)
    profile = device.profile()
    key_file = device.keys_dir / f"{profile.key_id}.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (home.stat().st_mode & 0o777) == 0o700
    assert profile.log_vkey == setup.world.admin.log_key()
    listed = {d["key_id"] for d in setup.world.admin.devices(org=ORG)}
    assert profile.key_id in listed
    again = _scan(home, "enrol", "--org", ORG)
    assert again.returncode == 1 and "already enrolled" in again.stderr


def test_offline_records_sync_once_with_verified_receipts(setup: Setup, tmp_path: Path) -> None:
    home = _enrolled(setup, tmp_path)
    codes = _codes(setup, 2)
    for code in codes:
        _record(home, "commission", code, COMMISSION)
        _record(home, "store_in", code, STORE_IN)
    _record(home, "use", codes[0], use("3"))
    waiting = json.loads(_scan(home, "outbox", "--json").stdout)
    assert waiting["counts"]["pending"] == 5
    first = _scan(home, "sync", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["sent"] == 5
    again = _scan(home, "sync", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["sent"] == 0
    assert [s["type"] for s in _chain(setup, codes[0])] == ["commission", "store_in", "use"]
    assert [s["type"] for s in _chain(setup, codes[1])] == ["commission", "store_in"]
    with Outbox(DeviceHome(home).outbox_path) as box:
        sent = box.events("sent")
        assert len(sent) == 5 and all(e.receipt and e.receipt["entry_hash"] == e.event_hash
                                      for e in sent)  # fmt: skip


def test_no_network_keeps_everything_and_says_so(setup: Setup, tmp_path: Path) -> None:
    home = _enrolled(setup, tmp_path)
    device = DeviceHome(home)
    device.save_profile(replace(device.profile(), server="http://127.0.0.1:9"))  # nothing listens
    code = _codes(setup, 1)[0]
    _record(home, "commission", code, COMMISSION)
    result = _scan(home, "sync", "--attempts", "2")
    assert result.returncode == 2
    assert "no connection" in result.stderr and "1 event(s) stay in the outbox" in result.stderr
    with Outbox(device.outbox_path) as box:
        assert box.counts()["pending"] == 1


def test_a_resend_returns_the_original_receipt(setup: Setup, tmp_path: Path) -> None:
    home = _enrolled(setup, tmp_path)
    code = _codes(setup, 1)[0]
    _record(home, "commission", code, COMMISSION)
    with Outbox(DeviceHome(home).outbox_path) as box:
        (event,) = box.events("pending")
    # the server got it, but the device never heard back (the sync died before storing it)
    original = setup.world.actors[ORG].client.submit(event.envelope)
    result = _scan(home, "sync", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["sent"], report["duplicates"]) == (0, 1)
    with Outbox(DeviceHome(home).outbox_path) as box:
        stored = box.get(event.id)
    assert stored.state == "sent" and stored.duplicate and stored.receipt == original


def test_a_moved_head_is_explained_then_rebased_with_consent(setup: Setup, tmp_path: Path) -> None:
    home = _enrolled(setup, tmp_path)
    code = _codes(setup, 1)[0]
    _record(home, "commission", code, COMMISSION)
    assert _scan(home, "sync").returncode == 0
    # another device of the organisation moves the item meanwhile
    other = setup.world.actors[ORG]
    other.client.sync_head(other.device, code)
    other.client.submit(other.device.event("store_in", [code], STORE_IN,
                                           time=format_utc(datetime.now(UTC))))  # fmt: skip
    mine = _record(home, "use", code, use("2"))
    behind = _record(home, "use", code, use("1"))
    result = _scan(home, "sync")
    assert result.returncode == 1 and "stale_head" in result.stderr
    explained = _scan(home, "resolve", str(mine))
    assert explained.returncode == 0
    assert "another device moved the chain" in explained.stdout
    assert "step 1: store_in by p-chem" in explained.stdout
    assert "1 later event(s)" in explained.stdout
    declined = run_cli(
        "scan", "resolve", str(mine), "--rebase", "--home", str(home), cwd=tmp_path
    )  # no --yes and no terminal: typer's prompt reads EOF
    assert declined.returncode != 0
    with Outbox(DeviceHome(home).outbox_path) as box:
        assert box.get(mine).state == "conflict"
    rebased = _scan(home, "resolve", str(mine), "--rebase", "--yes")
    assert rebased.returncode == 0, rebased.stderr
    assert "and 1 behind it" in rebased.stdout
    assert _scan(home, "sync").returncode == 0
    steps = _chain(setup, code)
    assert [s["type"] for s in steps] == ["commission", "store_in", "use", "use"]
    with Outbox(DeviceHome(home).outbox_path) as box:
        assert box.get(mine).state == box.get(behind).state == "superseded"
        assert box.counts()["pending"] == box.counts()["conflict"] == 0


def test_an_expired_key_is_resigned_after_rotation(setup: Setup, tmp_path: Path) -> None:
    home = _enrolled(setup, tmp_path)
    code = _codes(setup, 1)[0]
    waiting = _record(home, "commission", code, COMMISSION)
    old_key = DeviceHome(home).profile().key_id
    setup.world.admin.revoke_device(old_key, effective_from=format_utc(datetime.now(UTC)),
                                    reason="handheld lost")  # fmt: skip
    result = _scan(home, "sync")
    assert result.returncode == 1 and "key_revoked" in result.stderr
    same_key = _scan(home, "resolve", str(waiting), "--resign", "--yes")
    assert same_key.returncode == 1 and "key_rotation_needed" in same_key.stderr
    rotated = _scan(home, "enrol", "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert _scan(home, "resolve", str(waiting), "--resign", "--yes").returncode == 0
    assert _scan(home, "sync").returncode == 0
    (step,) = _chain(setup, code)
    assert step["device_key"] == DeviceHome(home).profile().key_id != old_key


def test_a_rejection_waits_until_a_person_discards_it(setup: Setup, tmp_path: Path) -> None:
    home = _enrolled(setup, tmp_path)
    foreign = setup.world.issue("t-trade", 1)[0]  # a label issued to another organisation
    rejected = _record(home, "commission", foreign, COMMISSION)
    result = _scan(home, "sync")
    assert result.returncode == 1 and "code_issued_to_another_org" in result.stderr
    assert _scan(home, "sync").returncode == 1  # still waiting, never dropped
    done = _scan(home, "resolve", str(rejected), "--discard", "label belongs to t-trade", "--yes")
    assert done.returncode == 0, done.stderr
    listed = json.loads(_scan(home, "outbox", "--all", "--json").stdout)
    (kept,) = [e for e in listed["events"] if e["id"] == rejected]
    assert kept["state"] == "discarded" and kept["note"] == "label belongs to t-trade"
    assert _scan(home, "sync").returncode == 0


@pytest.mark.parametrize("kill_after_sent", [1, 40, 95])
def test_a_sync_killed_midway_and_rerun_loses_and_duplicates_nothing(
    setup: Setup, tmp_path: Path, kill_after_sent: int
) -> None:
    home = _enrolled(setup, tmp_path)
    device = DeviceHome(home)
    codes = _codes(setup, 30)
    with Outbox(device.outbox_path) as box:
        me = author(device)
        for code in codes:
            box.record(me, "commission", [code], COMMISSION, time=_now())
            for kg in ("1", "2", "3"):
                box.record(me, "use", [code], use(kg), time=_now())
        hashes = {e.event_hash for e in box.events("pending")}
    assert len(hashes) == 120
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    command = [*chemtrace_command(), "scan", "sync", "--batch", "1", "--home", str(home)]
    syncer = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    with Outbox(device.outbox_path) as box:
        while box.counts()["sent"] < kill_after_sent and time.monotonic() < deadline:
            time.sleep(0.01)
    os.killpg(syncer.pid, signal.SIGKILL)
    syncer.wait(10)
    rerun = _scan(home, "sync", "--json")
    assert rerun.returncode == 0, rerun.stderr
    with Outbox(device.outbox_path) as box:
        assert box.check() == []
        sent = box.events("sent")
    assert {e.event_hash for e in sent} == hashes
    on_server = [s["event_hash"] for code in codes for s in _chain(setup, code)]
    assert sorted(on_server) == sorted(hashes)  # each exactly once


def _now() -> str:
    return format_utc(datetime.now(UTC))


def test_the_client_sdk_sync_is_the_same_code_path(setup: Setup, tmp_path: Path) -> None:
    """The TUI and scripts call :func:`scanners.device.sync.sync` directly."""
    home = _enrolled(setup, tmp_path)
    device = DeviceHome(home)
    code = generate_code()  # never issued: the log refuses it as unknown
    with Outbox(device.outbox_path) as box, ChemtraceClient(setup.server.base_url,
                                                            token=setup.token) as client:  # fmt: skip
        box.record(author(device), "commission", [code], COMMISSION, time=_now())
        report = sync(box, client, log_vkey=device.profile().log_vkey)
        assert not report.clean and [e.problem["code"] for e in report.rejected] == ["unknown_code"]


def test_an_event_signed_after_the_handoff_is_explained_and_kept_or_discarded(
    setup: Setup, tmp_path: Path
) -> None:
    home = _enrolled(setup, tmp_path)
    code = _codes(setup, 1)[0]
    _record(home, "commission", code, COMMISSION)
    assert _scan(home, "sync").returncode == 0
    # another device of the organisation shipped it to u-lab twenty minutes ago
    other, lab = setup.world.actors[ORG], setup.world.actors["u-lab"]
    other.client.sync_head(other.device, code)
    shipped = format_utc(datetime.now(UTC) - timedelta(minutes=20))
    ship = other.device.event("ship", [code], {
        "carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site"},
        time=shipped, site=other.site)  # fmt: skip
    receipt = other.client.submit(ship)
    lab.client.sync_head(lab.device, code)
    lab.client.submit(lab.device.event("receive", [code], {"ship": receipt["entry_hash"]},
                                       time=shipped, site=lab.site))  # fmt: skip
    late = _record(home, "use", code, use("1"))  # this handheld did not know
    result = _scan(home, "sync")
    assert result.returncode == 1 and "not_holder" in result.stderr
    explained = _scan(home, "resolve", str(late))
    assert explained.returncode == 0
    assert f"custody of item {code} ended at {shipped}" in explained.stdout
    assert "u-lab" not in explained.stdout and "c-move" not in explained.stdout
    kept = _scan(home, "resolve", str(late), "--keep", "--yes")
    assert kept.returncode == 0, kept.stderr
    assert "kept on this device as a record" in kept.stdout
    with Outbox(DeviceHome(home).outbox_path) as box:
        assert box.get(late).state == "conflict"  # still here, never sent
    assert _scan(home, "resolve", str(late), "--discard", "handed over", "--yes").returncode == 0
    assert [s["type"] for s in _chain(setup, code)] == ["commission", "ship", "receive"]
