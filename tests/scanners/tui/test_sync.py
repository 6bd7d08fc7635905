"""The terminal UI against a real server: record, sync, and a conflict rebased with consent.

The device is enrolled with the real ``chemtrace scan enrol``; the server is a real
``chemtrace serve`` on SQLite (the device tests cover PostgreSQL; this is about the UI).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.commitments import disclose
from ledger.timefmt import format_utc
from scanners.client import ApiError, ChemtraceClient
from scanners.device.enrol import author
from scanners.device.home import DeviceHome
from scanners.device.outbox import Outbox
from scanners.device.sync import sync
from tests.api._cli import run_cli
from tests.api.live import LiveServer, World, shared_server, wait_for
from tests.scanners.device._events import COMMISSION, STORE_IN, use
from tests.scanners.tui.conftest import StartTui
from tests.scanners.tui.steps import commission

ORG = "p-chem"


@dataclass
class Live:
    server: LiveServer
    world: World
    token: str


@pytest.fixture(scope="module")
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("tui-sync")
    with shared_server(request, home, "sqlite", CHEMTRACE_FINDINGS="false") as (server, world):
        yield Live(server, world, world.actors[ORG].client.token or "")


def enrolled(live: Live, tmp_path: Path) -> DeviceHome:
    """A device enrolled through the real command, as an operator would."""
    home = tmp_path / "device"
    actor = disclose("person", "operator").commitment
    result = run_cli("scan", "enrol", "--home", str(home), "--server", live.server.base_url,
                     "--token", live.token, "--org", ORG, "--actor", actor, "--site",
                     f"{ORG}-site", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return DeviceHome(home)


def now() -> str:
    return format_utc(datetime.now(UTC))


def test_recorded_in_the_ui_then_synced_in_the_ui(
    live: Live, tmp_path: Path, tui: StartTui
) -> None:
    device = enrolled(live, tmp_path)
    gs1_key = f"(01)09506000134352(21)TUI{uuid.uuid4().hex[:8].upper()}"
    (issued,) = live.world.admin.issue_codes(org=ORG, form="1.1", packaging="cylinder",
                                             batch="G1", count=1, gs1_keys=[gs1_key])  # fmt: skip
    code = issued["code"]
    pane = tui("--home", str(device.root), "--kit", str(tmp_path / "kit"))
    pane.scan(gs1_key)  # the kit has no bundle mapping it: the server resolves it
    pane.wait_for(f"Item {code}", "What happened to it?")
    pane.keys("Escape")
    commission(pane, code)
    pane.keys("F2")
    pane.wait_for("waiting: 1 pending · 0 conflict · 0 rejected", "done: 0 sent")
    pane.keys("s")
    pane.wait_for("sync done: sent 1, already in the log 0",
                  "waiting: 0 pending · 0 conflict · 0 rejected", "done: 1 sent")  # fmt: skip
    (step,) = live.world.admin.chain(code)
    assert (step["type"], step["org"], step["device_key"]) == (
        "commission", ORG, device.profile().key_id)  # fmt: skip
    with Outbox(device.outbox_path) as outbox:
        (sent,) = outbox.events()
    assert sent.state == "sent" and sent.receipt and sent.receipt["entry_hash"] == sent.event_hash
    assert step["event_hash"] == sent.event_hash


def test_verified_online_through_the_device_server_once_switched_on(
    live: Live, tmp_path: Path, tui: StartTui
) -> None:
    device, kit = enrolled(live, tmp_path), tmp_path / "kit"
    url = live.server.base_url
    pinned = run_cli("scan", "trust", "--root-key", str(live.server.keys / "root.vkey"),
                     "--server", url, "--trust-on-first-use", "--home", str(kit), cwd=tmp_path)  # fmt: skip
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    (code,) = live.world.issue(ORG, 1)
    producer = live.world.actors[ORG]
    producer.client.submit(live.world.commission(ORG, code))
    wait_for(lambda: checkpointed(producer.client, code), 20)

    pane = tui("--home", str(device.root), "--kit", str(kit))
    pane.keys("F3")
    pane.wait_for("offline: verifying from the kit's stored bundles")
    pane.scan(code)
    pane.wait_for("UNKNOWN ITEM", "no stored bundle holds it")
    pane.keys("C-o")
    pane.wait_for(f"online: verifying through {url}")
    pane.scan(code)
    pane.wait_for("GENUINE", f"source: verified online (network: {url})",
                  "custody chain", "commission p-chem p-chem-site 40 kg")  # fmt: skip


def checkpointed(client: ChemtraceClient, code: str) -> bool:
    """Whether a checkpoint covers the item yet (its bundle exists only then)."""
    try:
        return bool(client.item_bundle(code)["items"])
    except ApiError:
        return False


def test_a_moved_head_is_explained_and_rebased_only_after_a_yes(
    live: Live, tmp_path: Path, tui: StartTui
) -> None:
    device = enrolled(live, tmp_path)
    (code,) = live.world.issue(ORG, 1)
    with Outbox(device.outbox_path) as outbox, ChemtraceClient(live.server.base_url,
                                                               token=live.token) as client:  # fmt: skip
        outbox.record(author(device), "commission", [code], COMMISSION, time=now())
        assert sync(outbox, client, log_vkey=device.profile().log_vkey).clean
        other = live.world.actors[ORG]  # another device of the organisation moves the item
        other.client.sync_head(other.device, code)
        other.client.submit(other.device.event("store_in", [code], STORE_IN, time=now()))
        mine = outbox.record(author(device), "use", [code], use("2"), time=now())
        behind = outbox.record(author(device), "use", [code], use("1"), time=now())

    pane = tui("--home", str(device.root), "--kit", str(tmp_path / "kit"))
    pane.keys("F2")
    pane.wait_for("waiting: 2 pending")
    pane.keys("s")
    pane.wait_for(f"waiting for a decision: event {mine.id} stale_head",
                  "1 event(s) blocked behind them", f"{mine.id} use {code}", "conflict",
                  f"{behind.id} use {code}", "blocked")  # fmt: skip
    pane.keys("Enter")  # the conflict is the first waiting event
    pane.wait_for("another device moved the chain of 1 item(s)",
                  "step 1: store_in by p-chem", "1 later event(s)", "(checked with the server)",
                  "Press b to rebase it")  # fmt: skip

    pane.keys("b")
    pane.wait_for(f"Rebase event {mine.id}?", "The 1 later event(s) behind it are re-signed")
    pane.keys("n")
    pane.wait_gone(f"Rebase event {mine.id}?")
    with Outbox(device.outbox_path) as outbox:
        assert outbox.get(mine.id).state == "conflict"
        assert outbox.counts()["superseded"] == 0

    pane.keys("b")
    pane.wait_for(f"Rebase event {mine.id}?")
    pane.keys("y")
    pane.wait_for(f"event {mine.id} rebased as event", "(and 1 behind it)",
                  "waiting: 2 pending · 0 conflict")  # fmt: skip
    pane.keys("s")
    pane.wait_for("sync done: sent 2", "waiting: 0 pending · 0 conflict · 0 rejected",
                  "2 superseded")  # fmt: skip
    assert [s["type"] for s in live.world.admin.chain(code)] == [
        "commission", "store_in", "use", "use"]  # fmt: skip
    with Outbox(device.outbox_path) as outbox:
        assert outbox.get(mine.id).state == outbox.get(behind.id).state == "superseded"


def test_a_rejection_is_discarded_only_with_a_reason_and_a_yes(
    live: Live, tmp_path: Path, tui: StartTui
) -> None:
    device = enrolled(live, tmp_path)
    (foreign,) = live.world.issue("t-trade", 1)  # a label issued to another organisation
    with Outbox(device.outbox_path) as outbox:
        rejected = outbox.record(author(device), "commission", [foreign], COMMISSION, time=now())

    pane = tui("--home", str(device.root), "--kit", str(tmp_path / "kit"))
    pane.keys("F2")
    pane.wait_for("waiting: 1 pending")
    pane.keys("s")
    pane.wait_for(f"waiting for a decision: event {rejected.id} code_issued_to_another_org")
    pane.keys("Enter")
    pane.wait_for(f"the log rejected event {rejected.id}", "Press t to retry it, d to discard it")
    pane.keys("d")
    pane.wait_for(f"Why is event {rejected.id} discarded?")
    pane.keys("Enter")
    pane.wait_for("say why (a reason is required)")
    pane.type("label belongs to t-trade")
    pane.keys("Enter")
    pane.wait_for(f"Discard event {rejected.id}?", "Reason: label belongs to t-trade")
    pane.keys("y")
    pane.wait_for(f"event {rejected.id} discarded: label belongs to t-trade",
                  "waiting: 0 pending · 0 conflict · 0 rejected", "1 discarded")  # fmt: skip
    with Outbox(device.outbox_path) as outbox:
        kept = outbox.get(rejected.id)
    assert (kept.state, kept.note) == ("discarded", "label belongs to t-trade")
