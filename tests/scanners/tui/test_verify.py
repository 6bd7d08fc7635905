"""The inspector's verify screen in the real terminal UI, offline from a stored site bundle.

The kit and its ledger are the inspector tests' (:mod:`tests.scanners.inspector.conftest`):
the cylinder ``main`` was commissioned at site-a, used, shipped and received at site-b. A
GENUINE verdict lists its custody chain one row per step; once its stored bundle is altered
on disk the same scan is a FAULT, said in plain words.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.store.catalog_files import load_registry
from ledger.units import CatalogUnits
from scanners.device.home import DeviceHome
from scanners.inspector.verdict import custody_timeline
from scanners.tui.verify import when
from tests.scanners.inspector.conftest import GS1_KEY, Kit, World
from tests.scanners.tui.conftest import StartTui


@pytest.fixture
def stocked(tmp_path: Any, world: World) -> Kit:
    kit = Kit(tmp_path / "inspector", world)
    assert kit.accept(world.bundle("new_site_b")).verified
    return kit


def alter_first_use(world: World) -> Any:
    """Change the quantity of the cylinder's step 1 (a use) in its stored sub-bundle."""

    def alter(bundle: dict[str, Any]) -> None:
        index = bundle["items"][0]["chain"][1]
        entry = next(entry for entry in bundle["events"] if entry["index"] == index)
        entry["envelope"]["body"]["data"]["quantity"]["value"] = "0.1"

    return alter


def test_a_genuine_cylinder_shows_its_custody_chain_and_an_altered_one_is_a_fault(
    tui: StartTui, stocked: Kit, world: World, offline_device: DeviceHome
) -> None:
    pane = tui("--home", str(offline_device.root), "--kit", str(stocked.home))
    pane.keys("F3")
    pane.wait_for("offline: verifying from the kit's stored bundles")
    label = world.label_url(world.main)

    pane.scan(label)
    pane.wait_for("GENUINE", f"cylinder {world.main} (a chemtrace label (QR))",
                  "source: verified offline from the site bundle of site-b downloaded at",
                  "custody chain", "when what who held it where how much")  # fmt: skip
    steps = custody_timeline(world.new_site_b, world.main, CatalogUnits(load_registry()).kilograms)
    assert len(steps) == world.main_events == 7
    for step in steps:
        pane.wait_for(" ".join(filter(None, [str(step.seq), when(step.time), step.type,
                                             step.holder, step.site,
                                             f"{step.quantity} {step.unit}"])))  # fmt: skip
    assert "org-c" in pane.screen()  # the carrier held it in transit

    stocked.tamper(world.main, alter_first_use(world))
    pane.scan(label)
    pane.wait_for("FAULT: event 1 of this cylinder was altered (its bytes do not match the hash "
                  "the log committed to)",
                  "custody chain AS THE BUNDLE CLAIMS IT (not verified: do not rely on it)")  # fmt: skip
    assert "GENUINE" not in pane.screen()

    pane.scan(world.elsewhere)
    pane.wait_for("UNKNOWN ITEM", "no stored bundle holds it")

    pane.keys("C-o")  # the device's server does not answer: it stays offline and says so
    pane.wait_for("does not answer; verifying from the kit's stored bundles")


def test_a_gs1_key_is_looked_up_in_the_kit_for_a_handoff(
    tui: StartTui, stocked: Kit, world: World, offline_device: DeviceHome
) -> None:
    pane = tui("--home", str(offline_device.root), "--kit", str(stocked.home))
    pane.scan(GS1_KEY)
    pane.wait_for(f"Item {world.resident}", "What happened to it?")
    pane.keys("Escape")
    pane.wait_for("Scan the item's label")
    pane.scan("(01)09506000134352(21)NOTOURS")
    pane.wait_for("no stored bundle maps the GS1 key (01)09506000134352(21)NOTOURS to a trace "
                  "code")  # fmt: skip
