"""``chemtrace scan trust|verify|fetch`` as a user runs them (subprocesses): output and exit codes.

0 genuine (warnings allowed), 1 fault or forged label, 2 unknown item or could not run.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ledger.note import NoteVerifier
from tests.api._cli import run_cli
from tests.harness import ORIGIN
from tests.scanners.inspector.conftest import Kit, World
from tests.servers import pick_free_port


def scan(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("scan", *args, "--home", str(home), cwd=home.parent)


def test_trust_pins_key_files_and_shows_them(tmp_path: Path, world: World) -> None:
    root = tmp_path / "root.vkey"
    log = tmp_path / "log.vkey"
    root.write_text(NoteVerifier.for_key("registry", world.root.public_key).vkey() + "\n")
    log.write_text(NoteVerifier.for_key(ORIGIN, world.log.public_key).vkey() + "\n")
    home = tmp_path / "kit"
    unpinned = scan(home, "verify", world.main)
    assert unpinned.returncode == 2
    assert "could not verify: no keys are pinned" in unpinned.stderr

    pinned = scan(home, "trust", "--root-key", str(root), "--log-key", str(log))
    assert pinned.returncode == 0, pinned.stderr
    assert f"log key: {log.read_text().strip()}" in pinned.stdout
    assert f"from: file {log}" in pinned.stdout
    assert (home / "trust/root.vkey").read_text() == root.read_text()

    other = tmp_path / "other.vkey"
    other.write_text(NoteVerifier.for_key(ORIGIN, world.root.public_key).vkey() + "\n")
    refused = scan(home, "trust", "--log-key", str(other))
    assert refused.returncode == 2
    assert "a different log key is already pinned" in refused.stderr


def test_verify_offline_prints_the_verdict_source_and_chain(kit: Kit, world: World) -> None:
    assert kit.accept(world.bundle("new_site_b")).verified
    result = scan(kit.home, "verify", world.label_url(world.main))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"GENUINE: cylinder {world.main} (a chemtrace label (QR))"
    assert lines[1].startswith(
        "source: verified offline from the site bundle of site-b downloaded at "
        "2026-11-20T07:00:00Z (age "
    )
    assert "custody chain" in result.stdout
    assert "receive" in result.stdout and "org-c" in result.stdout


def test_verify_exits_1_on_a_fault_and_names_it(kit: Kit, world: World) -> None:
    kit.accept(world.bundle("new_site_b"))
    kit.tamper(world.main, lambda b: b["events"][4]["envelope"]["body"]["data"]["quantity"]
               .update(value="0.1"))  # fmt: skip
    result = scan(kit.home, "verify", world.label_url(world.main))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith(f"FAULT: cylinder {world.main}")
    assert "FAULT event 4 of this cylinder was altered" in result.stdout
    assert "AS THE BUNDLE CLAIMS IT (not verified" in result.stdout
    marked = [
        line.split() for line in result.stdout.splitlines() if line.strip().startswith("FAULT")
    ]
    assert ["FAULT", "4", "use"] in [row[:3] for row in marked]  # the altered step is marked


def test_a_forged_label_exits_1_in_json(kit: Kit, world: World) -> None:
    url = world.label_url(world.main)
    signature = url.rsplit("/", 1)[1]
    forged = url[: -len(signature)] + ("A" if signature[0] != "A" else "B") + signature[1:]
    result = scan(kit.home, "verify", forged, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    verdict = json.loads(result.stdout)
    assert (verdict["verdict"], verdict["source"]["kind"]) == ("fault", "label")
    assert verdict["faults"][0]["message"].startswith("this label was not issued by the registry")


def test_an_unknown_item_and_an_unreadable_scan_exit_2(kit: Kit, world: World) -> None:
    unknown = scan(kit.home, "verify", world.elsewhere, "--json")
    assert unknown.returncode == 2, unknown.stdout + unknown.stderr
    assert json.loads(unknown.stdout)["verdict"] == "unknown_item"
    unreadable = scan(kit.home, "verify", "not a label", "--json")
    assert unreadable.returncode == 2
    assert json.loads(unreadable.stdout)["verdict"] is None
    assert "cannot read this scan" in unreadable.stderr


def test_fetch_without_a_server_exits_2(kit: Kit) -> None:
    url = f"http://127.0.0.1:{pick_free_port()}"
    result = scan(kit.home, "fetch", "--site", "site-b", "--server", url, "--token", "t")
    assert result.returncode == 2
    assert f"could not reach {url}" in result.stderr
    assert not (kit.home / "bundles").exists()
