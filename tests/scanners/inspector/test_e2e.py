"""The inspector's day against a real server, through the real ``chemtrace scan`` commands.

Keys are pinned (the root key from the server's published file, the log key from the
server on first use), the site bundle is fetched before the inspection; with the server
stopped a scanned label is verified offline from that bundle, saying so; with it back up
a typed code is verified online; a newer item bundle moves the kit forward, after which
the morning's site bundle is shown as stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanners.client import ApiError
from scanners.inspector import InspectorKit, OnlineAccess, ScanVerifier
from tests.api._cli import run_cli
from tests.api.live import BACKENDS, LiveServer, World, shared_server, wait_for

SITE = "p-chem-site"
GS1_KEYS = [f"(01)09506000134352(21)E2E{n}" for n in range(3)]


@dataclass
class Inspection:
    server: LiveServer
    world: World
    codes: list[str]
    labels: dict[str, str]
    token: str
    folder: Path

    def scan(self, *args: str) -> Any:
        return run_cli("scan", *args, "--home", str(self.folder / "kit"), cwd=self.folder)

    def submit_uses(self, code: str, count: int) -> None:
        producer = self.world.actors["p-chem"]
        for _ in range(count):
            envelope = self.world.event("p-chem", "use", [code],
                                        {"quantity": {"value": "1", "unit": "kg"}})  # fmt: skip
            producer.client.submit(envelope)

    def wait_for_checkpoint(self, code: str, events: int) -> None:
        inspector = self.world.actors["d1-inspect"].client

        def covered() -> bool:
            try:
                return len(inspector.item_bundle(code)["items"][0]["chain"]) == events
            except ApiError:  # nothing of the item checkpointed yet
                return False

        wait_for(covered, 20)


@pytest.fixture(scope="module", params=BACKENDS)
def inspection(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Inspection]:
    home = tmp_path_factory.mktemp("inspector-server")
    with shared_server(request, home, request.param) as (server, world):
        issued = world.admin.issue_codes(org="p-chem", form="1.1", packaging="cylinder",
                                         batch="B1", count=3, gs1_keys=GS1_KEYS)  # fmt: skip
        codes = [entry["code"] for entry in issued]
        producer = world.actors["p-chem"]
        for code in codes[:2]:  # the third is commissioned after the site bundle is fetched
            producer.client.submit(world.commission("p-chem", code))
        token = world.actors["d1-inspect"].client.token
        assert token is not None
        folder = tmp_path_factory.mktemp("inspector-kit")
        found = Inspection(server, world, codes,
                           {entry["code"]: entry["label_url"] for entry in issued}, token, folder)  # fmt: skip
        found.submit_uses(codes[0], 3)
        found.wait_for_checkpoint(codes[0], 4)
        yield found


def test_fetch_then_verify_offline_then_online(inspection: Inspection) -> None:
    server, (first, second, late) = inspection.server, inspection.codes
    url = server.base_url
    keys = server.keys

    refused = inspection.scan("trust", "--root-key", str(keys / "root.vkey"), "--server", url)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "fingerprint (SHA-256)" in refused.stdout
    assert "run again with --trust-on-first-use" in refused.stderr
    pinned = inspection.scan("trust", "--root-key", str(keys / "root.vkey"), "--server", url,
                             "--trust-on-first-use")  # fmt: skip
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert f"from: server {url} (trust on first use)" in pinned.stdout
    assert (inspection.folder / "kit/trust/log.vkey").read_text() == (keys / "log.vkey").read_text()

    fetched = inspection.scan("fetch", "--site", SITE, "--server", url, "--token", inspection.token)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert f"VERIFIED: the site bundle of {SITE} (2 item(s), 5 event(s)" in fetched.stdout
    assert "state: now at checkpoint" in fetched.stdout

    server.stop()
    offline = inspection.scan("verify", inspection.labels[first], "--server", url,
                              "--token", inspection.token, "--json")  # fmt: skip
    assert offline.returncode == 0, offline.stdout + offline.stderr
    verdict = json.loads(offline.stdout)
    assert verdict["verdict"] == "genuine" and verdict["faults"] == []
    assert verdict["source"]["description"].startswith(
        f"verified offline from the site bundle of {SITE} downloaded at "
    )
    assert verdict["notes"][0].startswith("the network was not available")
    assert [step["type"] for step in verdict["steps"]] == ["commission", "use", "use", "use"]
    assert verdict["steps"][-1]["holder"] == "p-chem" and verdict["steps"][-1]["quantity"] == "37"

    server.start()
    online = inspection.scan("verify", second, "--server", url, "--token", inspection.token)
    assert online.returncode == 0, online.stdout + online.stderr
    assert online.stdout.startswith(f"GENUINE: cylinder {second} (a typed trace code)")
    assert f"source: verified online (network: {url})" in online.stdout

    # The rest in-process, through the same code the commands call.
    verifier = ScanVerifier(InspectorKit(inspection.folder / "kit"))
    online_access = OnlineAccess(url, inspection.token)

    # The third item is not in the fetched site bundle: found online by its GS1 key.
    inspection.world.actors["p-chem"].client.submit(inspection.world.commission("p-chem", late))
    inspection.wait_for_checkpoint(late, 1)
    resolved = verifier.verify(GS1_KEYS[2], online=online_access)
    assert (resolved.verdict, resolved.code, resolved.source.kind) == ("genuine", late, "network")
    assert [w.code for w in resolved.warnings] == ["label_not_scanned"]

    inspection.submit_uses(first, 2)
    inspection.wait_for_checkpoint(first, 6)
    moved = verifier.verify(inspection.labels[first], online=online_access)
    assert (moved.verdict, moved.source.kind, moved.state_advanced) == ("genuine", "network", True)
    assert len(moved.steps) == 6

    stale = verifier.verify(inspection.labels[second])  # offline: from the morning's site bundle
    assert stale.verdict == "stale" and stale.exit_code == 0
    assert any(
        w.code == "bundle_stale" and "than the one you verified today (stale)" in w.message
        for w in stale.warnings
    )
