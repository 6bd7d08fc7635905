"""Fixtures for the terminal UI tests: panes running the real app, and device homes.

The inspector's ledger, bundles and kits are the inspector tests' own
(:mod:`tests.scanners.inspector.conftest`), imported rather than built again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledger.commitments import disclose
from scanners.device.home import DeviceHome, Profile
from scanners.tui.common import SCAN_PROMPT
from tests.scanners.inspector.conftest import world  # noqa: F401 - the session fixture, reused
from tests.scanners.tui.tmux import Pane, require_tmux

CATALOG = "2026-draft.1"
UNREACHABLE = "http://127.0.0.1:9"
"""The discard port: nothing listens, so a connection is refused at once."""

StartTui = Callable[..., Pane]


@pytest.fixture
def tui(tmp_path: Path) -> Iterator[StartTui]:
    """Starts ``chemtrace scan tui ARGS`` in a fresh tmux server and waits for its first
    screen; every server is killed after the test."""
    tmux = require_tmux()
    panes: list[Pane] = []

    def start(*args: str, width: int = 120, height: int = 40) -> Pane:
        pane = Pane(tmux, tmp_path)
        panes.append(pane)
        pane.start(*args, width=width, height=height)
        pane.wait_for(SCAN_PROMPT)  # the app is up, on its first screen (handoff)
        return pane

    yield start
    for pane in panes:
        pane.close()


@pytest.fixture
def offline_device(tmp_path: Path) -> DeviceHome:
    """A device with its own key and a profile, never enrolled with any server."""
    device = DeviceHome(tmp_path / "device")
    signer = device.generate_key()
    device.save_profile(
        Profile(server=UNREACHABLE, org="p-chem", actor=disclose("person", "operator").commitment,
                key_id=signer.key_id, valid_until="2030-01-01T00:00:00Z",
                catalog_version=CATALOG, site="p-chem-site")
    )  # fmt: skip
    return device
