"""``chemtrace tiles export`` and ``chemtrace verify-log --tiles``, as real subprocesses."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.deployment import Deployment
from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.note import NoteVerifier, parse_vkey
from ledger.tiles import decode_bundle, tiles_for_size
from scanners.tiles_audit import verify_log_tiles
from tests._tiles import append_synthetic
from tests.api._cli import run_cli
from tests.api.live import LiveServer

SUMMARY = re.compile(
    r"exported the log of size ([\d,]+) to .*: ([\d,]+) tiles written \(([\d,]+) bytes\), "
    r"([\d,]+) unchanged, ([\d,]+) skipped \(--since\), ([\d,]+) stale partial removed, "
    r"in [\d.]+ s"
)


@dataclass
class Ledger:
    """A deployment (database and keystore) with synthetic leaves, and an export folder."""

    home: Path
    deployment: Deployment

    @property
    def db(self) -> str:
        return f"sqlite:///{self.home}/chemtrace.db"

    @property
    def keys(self) -> Path:
        return self.home / "keys"

    @property
    def out(self) -> Path:
        return self.home / "tiles"

    def grow(self, count: int) -> str:
        append_synthetic(self.deployment.store, count)
        note = self.deployment.checkpoint()
        assert note is not None
        return note

    def export(self, *extra: str) -> tuple[int, ...]:
        """Run the export; ``(size, written, bytes, unchanged, skipped, removed)``."""
        done = run_cli("tiles", "export", str(self.out), "--db", self.db, "--keys", str(self.keys),
                       *extra, cwd=self.home)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        match = SUMMARY.search(done.stdout)
        assert match, done.stdout
        return tuple(int(group.replace(",", "")) for group in match.groups())

    def export_bytes(self, *paths: str) -> int:
        return sum((self.out / path).stat().st_size for path in paths)

    def verify(self, location: str | None = None, *extra: str) -> tuple[int, str]:
        done = run_cli("verify-log", "--tiles", location or str(self.out), "--keys",
                       str(self.keys), *extra, cwd=self.home)  # fmt: skip
        return done.returncode, done.stdout + done.stderr


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    home = tmp_path / "home"
    home.mkdir()
    deployment = Deployment.open(f"sqlite:///{home}/chemtrace.db", home / "keys")
    made = Ledger(home, deployment)
    made.grow(600)
    yield made
    deployment.store.engine.dispose()


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_an_export_is_the_checkpoint_and_every_tile_it_needs(ledger: Ledger) -> None:
    size, written, size_bytes, unchanged, skipped, removed = ledger.export()
    expected = {t.path for t in tiles_for_size(600)} | {
        t.path for t in tiles_for_size(600, entries=True)
    }
    assert expected == {
        "tile/0/000", "tile/0/001", "tile/0/002.p/88", "tile/1/000.p/2",
        "tile/entries/000", "tile/entries/001", "tile/entries/002.p/88",
    }  # fmt: skip
    assert _files(ledger.out) == expected | {"checkpoint"}
    assert (size, written, unchanged, skipped, removed) == (600, 7, 0, 0, 0)
    on_disk = sum((ledger.out / path).stat().st_size for path in expected)
    assert size_bytes == on_disk
    note = (ledger.out / "checkpoint").read_text()
    latest = ledger.deployment.store.latest_checkpoint()
    assert latest is not None and note == latest[1]
    for path in expected | {"checkpoint"}:
        assert stat.S_IMODE((ledger.out / path).stat().st_mode) == 0o644, path  # public
    assert (ledger.out / "tile/0/001").read_bytes() == b"".join(
        ledger.deployment.store.tile_hashes(0, 256, 256)
    )
    assert decode_bundle((ledger.out / "tile/entries/002.p/88").read_bytes(), 88) == (
        ledger.deployment.store.leaf_inputs(512, 600)
    )
    assert ledger.export() == (600, 0, 0, 7, 0, 0)  # nothing changed: nothing rewritten


def test_incremental_exports_skip_old_tiles_and_drop_replaced_partials(ledger: Ledger) -> None:
    ledger.export()
    ledger.grow(100)  # 700: the level-0 partials grow from 88 to 188
    size, written, size_bytes, unchanged, skipped, removed = ledger.export("--since", "512")
    new = ["tile/0/002.p/188", "tile/entries/002.p/188"]
    assert (size, written, unchanged, skipped, removed) == (700, 2, 1, 4, 0)
    assert size_bytes == sum((ledger.out / path).stat().st_size for path in new)
    assert (ledger.out / "tile/0/002.p/88").is_file()  # a client of checkpoint 600 may want it
    ledger.grow(100)  # 800: level-0 tile 2 is full, level 1 has 3 hashes
    assert ledger.export("--since", "512")[1:] == (5, ledger.export_bytes(
        "tile/0/002", "tile/0/003.p/32", "tile/1/000.p/3", "tile/entries/002",
        "tile/entries/003.p/32"), 0, 4, 2)  # fmt: skip
    assert not (ledger.out / "tile/0/002.p").exists()  # replaced by its full tile
    assert not (ledger.out / "tile/entries/002.p").exists()
    assert (ledger.out / "tile/1/000.p/2").is_file()  # tile/1/000 is not full yet: kept
    code, report = ledger.verify()
    assert code == 0, report
    assert "INTACT" in report


def test_an_export_refuses_to_change_an_exported_full_tile(ledger: Ledger) -> None:
    ledger.export()
    tile = ledger.out / "tile/0/001"
    forged = bytearray(tile.read_bytes())
    forged[100] ^= 0xFF
    tile.write_bytes(bytes(forged))
    done = run_cli("tiles", "export", str(ledger.out), "--db", ledger.db, "--keys",
                   str(ledger.keys), cwd=ledger.home)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FORK" in done.stderr and "tile/0/001" in done.stderr
    assert tile.read_bytes() == bytes(forged)  # left as found, for the investigation
    # --since past it does not even look at it
    assert ledger.export("--since", "512")[1:] == (0, 0, 3, 4, 0)


def test_an_export_that_cannot_run_says_so(ledger: Ledger, tmp_path: Path) -> None:
    nowhere = run_cli("tiles", "export", str(tmp_path / "t"), "--db",
                      f"sqlite:///{tmp_path}/none.db", "--keys", str(ledger.keys), cwd=tmp_path)  # fmt: skip
    assert nowhere.returncode == 2, nowhere.stdout + nowhere.stderr
    empty_home = tmp_path / "empty"
    Deployment.open(f"sqlite:///{empty_home}/db.db", empty_home / "keys").store.engine.dispose()
    unsigned = run_cli("tiles", "export", str(tmp_path / "t"), "--db",
                       f"sqlite:///{empty_home}/db.db", "--keys", str(empty_home / "keys"),
                       cwd=tmp_path)  # fmt: skip
    assert unsigned.returncode == 2, unsigned.stdout + unsigned.stderr
    assert "no checkpoint" in unsigned.stderr


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_log_from_the_folder_finds_each_damage(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger.export()
    code, report = ledger.verify()
    assert code == 0, report
    assert "INTACT" in report and "600" in report
    assert ledger.verify(ledger.out.as_uri())[0] == 0  # a file:// URL alike
    pristine = {p: (ledger.out / p).read_bytes() for p in _files(ledger.out)}

    def faults(path: str, at: int) -> list[tuple[str, str | None, int | None]]:
        """Flip one bit of ``path`` and audit in-process (the exit codes are run below)."""
        for name, data in pristine.items():
            (ledger.out / name).write_bytes(data)
        _flip(ledger.out / path, at)
        capsys.readouterr()
        code = verify_log_tiles(str(ledger.out), keys=ledger.keys, log_key=None,
                                trusted_checkpoint=None, as_json=True)  # fmt: skip
        result = json.loads(capsys.readouterr().out)
        assert (code, result["intact"]) == (1, False), result
        return [(f["code"], f.get("tile"), f.get("index")) for f in result["faults"]]

    # leaf hash 44 of the second level-0 tile: it no longer matches entry 300, and the tile
    # no longer folds to hash 1 of the level-1 tile
    assert faults("tile/0/001", 32 * 44 + 3) == [
        ("entry_mismatch", "tile/0/001", 300), ("tile_mismatch", "tile/1/000.p/2", 1)
    ]  # fmt: skip
    # inside the first entry of the partial bundle
    assert faults("tile/entries/002.p/88", 2 + 20) == [("entry_mismatch", "tile/0/002.p/88", 512)]
    assert faults("tile/1/000.p/2", 40) == [
        ("tile_mismatch", "tile/1/000.p/2", 1), ("root_mismatch", None, None)
    ]  # fmt: skip
    assert faults("checkpoint", 5) == [("checkpoint_invalid", "checkpoint", None)]  # the origin
    # and as a real command: exit 1, naming the tile and the index
    for name, data in pristine.items():
        (ledger.out / name).write_bytes(data)
    _flip(ledger.out / "tile/entries/001", 2 + 30)
    code, report = ledger.verify()
    assert code == 1, report
    assert "DAMAGED" in report and "entry_mismatch" in report
    assert "tile/entries/001" in report and "index=256" in report
    (ledger.out / "tile/entries/000").unlink()
    code, report = ledger.verify()
    assert code == 1 and "tile_missing" in report and "tile/entries/000" in report


def test_verify_log_tiles_checks_the_trusted_checkpoint(ledger: Ledger, tmp_path: Path) -> None:
    earlier = ledger.deployment.store.latest_checkpoint()
    assert earlier is not None
    saved = tmp_path / "trusted.note"
    saved.write_text(earlier[1])
    ledger.grow(1000)
    ledger.export()
    code, report = ledger.verify(None, "--trusted-checkpoint", str(saved), "--json")
    assert code == 0, report
    result = json.loads(report[report.index("{") :])
    assert (result["intact"], result["size"], result["trusted_size"]) == (True, 1600, 600)
    assert result["hash_tiles"] == 7 + 1 and result["entry_bundles"] == 7  # 6 full, 64, 6
    signer = ledger.deployment.keys.log_signer()
    origin = ledger.deployment.keys.origin
    fork = Checkpoint(origin, 600, bytes(32))  # the log key signed another tree of 600
    saved.write_text(sign_checkpoint(fork, origin, signer))
    code, report = ledger.verify(None, "--trusted-checkpoint", str(saved))
    assert code == 1 and "checkpoint_inconsistent" in report, report
    newer = Checkpoint(origin, 5000, bytes(32))
    saved.write_text(sign_checkpoint(newer, origin, signer))
    code, report = ledger.verify(None, "--trusted-checkpoint", str(saved))
    assert code == 1 and "checkpoint_rollback" in report, report
    saved.write_text("not a checkpoint\n")
    assert ledger.verify(None, "--trusted-checkpoint", str(saved))[0] == 2


def test_verify_log_tiles_cannot_run_without_key_or_log(ledger: Ledger, tmp_path: Path) -> None:
    ledger.export()
    code, report = ledger.verify(str(tmp_path / "nothing-here"))
    assert code == 2, report
    done = run_cli("verify-log", "--tiles", str(ledger.out), "--keys", str(tmp_path / "nokeys"),
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and "log.vkey" in done.stderr, done.stderr
    other = tmp_path / "other.vkey"  # a key of the same name that did not sign the log
    other.write_text(NoteVerifier.for_key(ledger.deployment.keys.origin, bytes(32)).vkey() + "\n")
    code, report = ledger.verify(None, "--log-key", str(other))
    assert code == 1 and "checkpoint_invalid" in report, report
    (ledger.out / "checkpoint").unlink()
    assert ledger.verify()[0] == 2  # no checkpoint: nothing to verify against


def test_verify_log_tiles_over_http_from_a_live_server(tmp_path: Path) -> None:
    home = tmp_path / "live"
    server = LiveServer(home, f"sqlite:///{home}/var/chemtrace.db")
    deployment = Deployment.open(server.db_url, server.keys)
    append_synthetic(deployment.store, 700)
    note = deployment.checkpoint()
    assert note is not None
    deployment.store.engine.dispose()
    server.start()
    try:
        # the server logs its admin user and signs on: the checkpoint may be newer than ours
        served = httpx.get(f"{server.base_url}/tlog/checkpoint", timeout=10).text
        verifier = parse_vkey((server.keys / "log.vkey").read_text().strip())
        assert open_checkpoint(served, verifier).size >= open_checkpoint(note, verifier).size
        done = run_cli("verify-log", "--tiles", f"{server.base_url}/tlog", "--keys",
                       str(server.keys), "--json", cwd=home)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout)
        assert result["intact"] is True and result["entries"] == result["size"] >= 700
    finally:
        server.close()
