"""The kit's files: atomic writes, the saved verifier state, pinned keys and stored bundles."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ledger.note import NoteVerifier
from ledger.signing import Ed25519Signer
from scanners import files
from scanners.inspector import (
    InspectorKit,
    KitStateError,
    PinnedKey,
    TrustConflictError,
    TrustError,
    TrustNotPinnedError,
)
from scanners.inspector.trust import fingerprint, read_vkey_file
from tests.harness import ORIGIN
from tests.scanners.inspector.conftest import Kit, World


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


# -- atomic writes -----------------------------------------------------------------------------


def test_an_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    files.write_json_atomic(target, {"n": 1})
    files.write_json_atomic(target, {"n": 2})
    assert json.loads(target.read_text()) == {"n": 2}
    assert leftovers(tmp_path) == []


def test_a_write_that_fails_before_the_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    files.write_json_atomic(target, {"n": 1})

    def power_cut(source: str, destination: Path) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(files.os, "replace", power_cut)
    with pytest.raises(OSError, match="power cut"):
        files.write_json_atomic(target, {"n": 2})
    assert json.loads(target.read_text()) == {"n": 1}
    assert leftovers(tmp_path) == []


def test_a_folder_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "bundles" / "one"

    def interrupted_download() -> None:
        with files.new_folder(target) as building:
            files.write_new_file(building / "a.json", b"{}")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted_download()
    assert not target.exists()
    assert leftovers(target.parent) == []
    with files.new_folder(target) as building:
        files.write_new_file(building / "items" / "b.json", b"{}")
    assert (target / "items" / "b.json").read_bytes() == b"{}"
    files.remove_folder(target)
    assert list(target.parent.iterdir()) == []


# -- pinned keys -------------------------------------------------------------------------------


def vkey_file(folder: Path, name: str, verifier: NoteVerifier) -> Path:
    path = folder / name
    path.write_text(verifier.vkey() + "\n")
    return path


def test_keys_pinned_from_files_are_read_back_with_where_they_came_from(tmp_path: Path) -> None:
    root = NoteVerifier.for_key("registry", Ed25519Signer.generate().public_key)
    log = NoteVerifier.for_key(ORIGIN, Ed25519Signer.generate().public_key)
    kit = InspectorKit(tmp_path / "kit")
    kit.trust_folder.pin(
        root=PinnedKey(read_vkey_file(vkey_file(tmp_path, "root.vkey", root)), "file root.vkey",
                       "2026-11-20T07:00:00Z"),
        log=PinnedKey(log, "server http://x (trust on first use)"),
    )  # fmt: skip
    trust = InspectorKit(tmp_path / "kit").trust()
    assert (trust.root.verifier, trust.log.verifier, trust.origin) == (root, log, ORIGIN)
    assert trust.root.source == "file root.vkey"
    assert trust.root.pinned_at == "2026-11-20T07:00:00Z"
    assert trust.log.source == "server http://x (trust on first use)"
    assert (tmp_path / "kit/trust/log.vkey").read_text() == log.vkey() + "\n"
    assert len(fingerprint(log).split()) == 16


def test_a_different_key_is_refused_unless_replaced(tmp_path: Path) -> None:
    first = NoteVerifier.for_key(ORIGIN, Ed25519Signer.generate().public_key)
    second = NoteVerifier.for_key(ORIGIN, Ed25519Signer.generate().public_key)
    root = NoteVerifier.for_key("registry", Ed25519Signer.generate().public_key)
    folder = InspectorKit(tmp_path).trust_folder
    folder.pin(root=PinnedKey(root, "file"), log=PinnedKey(first, "file"))
    folder.pin(root=None, log=PinnedKey(first, "again"))  # the same key: nothing to do
    with pytest.raises(TrustConflictError, match="a different log key is already pinned"):
        folder.pin(root=None, log=PinnedKey(second, "server"))
    assert folder.load().log.verifier == first
    assert folder.pin(root=None, log=PinnedKey(second, "file"), replace=True).log.verifier == second


def test_an_unpinned_kit_cannot_verify(tmp_path: Path) -> None:
    kit = InspectorKit(tmp_path)
    with pytest.raises(TrustNotPinnedError, match="no keys are pinned"):
        kit.trust()
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust/root.vkey").write_text("not a key\n")
    (tmp_path / "trust/log.vkey").write_text("not a key\n")
    with pytest.raises(TrustError, match="is not a C2SP verifier key"):
        kit.trust()


# -- the verifier state ------------------------------------------------------------------------


def test_the_state_is_saved_when_a_bundle_advances_it_and_read_by_a_new_kit(
    kit: Kit, world: World
) -> None:
    assert kit.kit.state() is None
    outcome = kit.accept(world.bundle("old_site_b"))
    assert outcome.verified and outcome.report.state_advanced
    view = InspectorKit(kit.home).state()
    assert view is not None
    saved = view.view(ORIGIN)
    assert saved is not None and saved.size == outcome.report.checkpoint_size
    assert saved.as_of == world.old_site_b["created_at"]


def test_an_unreadable_state_stops_the_kit_rather_than_starting_over(
    kit: Kit, world: World
) -> None:
    kit.accept(world.bundle("new_site_b"))
    kit.kit.state_path.write_text('{"format": "chemtrace-verifier-state/v1", "logs": 3}')
    with pytest.raises(KitStateError, match="is unreadable"):
        kit.scan(world.main)


# -- stored bundles ----------------------------------------------------------------------------


def test_a_download_is_cut_per_item_and_described(kit: Kit, world: World) -> None:
    outcome = kit.accept(world.bundle("new_site_b"))
    assert outcome.stored is not None and outcome.stored.stored is not None
    download = outcome.stored.stored
    assert sorted(path.name for path in download.folder.iterdir()) == [
        "bundle.json", "download.json", "items"]  # fmt: skip
    assert sorted(p.stem for p in (download.folder / "items").iterdir()) == sorted(
        [world.main, world.resident]
    )
    sub = json.loads(download.item_file(world.main).read_text())
    assert [item["code"] for item in sub["items"]] == [world.main]
    assert sub["checkpoint"] == world.new_site_b["checkpoint"]
    assert len(sub["events"]) == world.main_events
    assert {e["certificate"]["cert"]["role"] for e in sub["certificates"]} == {"org", "device"}
    resident = json.loads(download.item_file(world.resident).read_text())
    assert resident["revocations"] == []  # only org-a's key was revoked; resident is org-b's
    assert len(sub["revocations"]) == 1
    meta = json.loads((download.folder / "download.json").read_text())
    assert meta["subject"] == "site-b" and meta["downloaded_at"] == "2026-11-20T07:00:00Z"
    assert meta["items"][world.resident]["gs1_key"] == "(01)09506000134352(21)ABC"
    bundle_bytes = (download.folder / "bundle.json").read_bytes()
    assert meta["bundle_sha256"] == hashlib.sha256(bundle_bytes).hexdigest()


def test_a_newer_download_replaces_the_older_and_an_older_one_never_replaces_it(
    kit: Kit, world: World
) -> None:
    first = kit.accept(world.bundle("old_site_b")).stored
    second = kit.accept(world.bundle("new_site_b")).stored
    assert first is not None and first.stored is not None
    assert second is not None and second.replaced == (first.stored,)
    assert not first.stored.folder.exists()
    again = kit.accept(world.bundle("old_site_b"))
    assert again.verified and again.report.warning_codes() == ["bundle_stale"]
    assert again.stored is not None and again.stored.stored is None
    assert again.stored.kept == second.stored
    assert [d.subject for d in kit.kit.bundles.downloads()] == ["site-b"]


def test_a_faulty_download_is_refused_and_changes_nothing(kit: Kit, world: World) -> None:
    kit.accept(world.bundle("old_site_b"))
    state_before = kit.kit.state_path.read_bytes()
    bundle = world.bundle("new_site_b")
    bundle["events"][0]["envelope"]["body"]["time"] = "2026-10-01T08:00:00Z"
    outcome = kit.accept(bundle)
    assert not outcome.verified and outcome.stored is None
    assert outcome.report.fault_codes() == ["event_altered"]
    assert outcome.report.faults[0].message.startswith("event 0 of cylinder CT-")
    assert kit.kit.state_path.read_bytes() == state_before
    assert [d.created_at for d in kit.kit.bundles.downloads()] == [world.old_site_b["created_at"]]


def test_a_bundle_about_another_subject_than_asked_is_refused(kit: Kit, world: World) -> None:
    outcome = kit.accept(world.bundle("new_site_b"), subject="site-a")
    assert outcome.report.fault_codes() == ["bundle_subject_mismatch"]
    assert outcome.stored is None and not kit.kit.state_path.exists()


def test_an_unreadable_download_record_is_skipped(kit: Kit, world: World) -> None:
    outcome = kit.accept(world.bundle("new_site_b")).stored
    assert outcome is not None and outcome.stored is not None
    (outcome.stored.folder / "download.json").write_text("{")
    assert kit.kit.bundles.downloads() == []
    assert os.path.exists(outcome.stored.item_file(world.main))
