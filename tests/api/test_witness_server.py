"""The witness over HTTP: in process (Starlette's TestClient, an injected clock) for every
status and content type, the monitoring checkpoint, timestamps, the state folder and its
refusals; then as real ``chemtrace witness serve`` processes for the lock and restarts."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.witness.app import MAX_BODY, create_app
from api.witness.state import (
    EVIDENCE_NAME,
    StateCorruptError,
    StateInUseError,
    Witness,
    origin_hash,
    read_evidence,
)
from ledger.checkpoint import Checkpoint
from ledger.cosignature import CosignerVerifier, cosign, parse_cosigner_vkey, verify_cosignature
from ledger.errors import InconsistentCheckpointError, OldSizeConflictError
from ledger.note import SIGNATURE_PREFIX, open_note, split_note
from ledger.signing import Ed25519Signer
from ledger.witness import request_body
from tests.api._cli import run_cli
from tests.api._witness import REPO, WITNESS_NAME, WitnessProcess, write_key_files
from tests.ledger._tlog import MemoryLog

ORIGIN = "example.com/log"
LOG_KEY = Ed25519Signer.from_seed(bytes(range(32)))
WITNESS_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
WITNESS = Ed25519Signer(WITNESS_KEY)
COSIGNER = CosignerVerifier.for_key(WITNESS_NAME, WITNESS.public_key)
SIZE_TYPE = "text/x.tlog.size"
TEXT_TYPE = "text/plain; charset=utf-8"


class Clock:
    def __init__(self, now: float = 1_800_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _open(state: Path, clock: Clock | None = None, log: MemoryLog | None = None) -> Witness:
    verifier = (log or MemoryLog(ORIGIN, LOG_KEY)).verifier
    return Witness.open(
        state, name=WITNESS_NAME, signer=WITNESS, trusted={verifier.name: [verifier]},
        clock=clock or Clock(),
    )  # fmt: skip


@pytest.fixture
def log() -> MemoryLog:
    return MemoryLog(ORIGIN, LOG_KEY)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def witness(tmp_path: Path, clock: Clock) -> Iterator[Witness]:
    opened = _open(tmp_path / "state", clock)
    yield opened
    opened.close()


class InProcess:
    """The app over httpx's ASGI transport, one event loop per request (Starlette's own
    TestClient is deprecated with plain httpx)."""

    def __init__(self, witness: Witness) -> None:
        self.app = create_app(witness)

    def request(
        self, method: str, path: str, content: bytes | AsyncIterator[bytes] | None = None
    ) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://w") as client:
                return await client.request(method, path, content=content)

        return asyncio.run(go())

    def post(self, path: str, content: bytes | AsyncIterator[bytes]) -> httpx.Response:
        return self.request("POST", path, content)

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)


@pytest.fixture
def client(witness: Witness) -> InProcess:
    return InProcess(witness)


def _verify_response(text: str, log: MemoryLog, size: int) -> int:
    """The body is exactly one cosignature line over the checkpoint; return its timestamp."""
    assert text.startswith(SIGNATURE_PREFIX) and text.endswith("\n") and text.count("\n") == 1
    body = log.checkpoint(size).to_text()
    _, lines = split_note(body + "\n" + text)
    return verify_cosignature(COSIGNER, body, lines[0]).timestamp


# --- add-checkpoint: every status ----------------------------------------------------


def test_200_is_a_cosignature_line_as_text_plain(client: InProcess, log: MemoryLog) -> None:
    response = client.post("/add-checkpoint", content=log.body(0, 5))
    assert response.status_code == 200
    assert response.headers["content-type"] == TEXT_TYPE
    assert _verify_response(response.text, log, 5) == 1_800_000_000
    extended = client.post("/add-checkpoint", content=log.body(5, 9))
    assert extended.status_code == 200
    _verify_response(extended.text, log, 9)


def test_409_is_the_size_as_text_x_tlog_size(client: InProcess, log: MemoryLog) -> None:
    assert client.post("/add-checkpoint", content=log.body(0, 5)).status_code == 200
    for old in (0, 3, 4):
        response = client.post("/add-checkpoint", content=log.body(old, 8))
        assert response.status_code == 409
        assert response.headers["content-type"] == SIZE_TYPE  # exactly: no charset
        assert response.content == b"5\n"


def test_409_without_state_says_zero(client: InProcess, log: MemoryLog) -> None:
    response = client.post("/add-checkpoint", content=log.body(3, 5))
    assert (response.status_code, response.content) == (409, b"0\n")


@pytest.mark.parametrize(
    ("case", "status"),
    [("malformed", 400), ("old_above_size", 400), ("impostor", 403), ("unknown", 404),
     ("bad_proof", 422), ("fork", 422), ("old_zero_with_proof", 422)],
)  # fmt: skip
def test_refusals_are_short_text(client: InProcess, log: MemoryLog, case: str, status: int) -> None:
    if case != "old_zero_with_proof":  # that one is 422 only while there is no state
        assert client.post("/add-checkpoint", content=log.body(0, 4)).status_code == 200
    proof = log.proof(4, 9)
    proof[0] = bytes(32)
    body = {
        "malformed": b"old 4\nnot base64\n\n" + log.note(9).encode(),
        "old_above_size": request_body(4, [], log.note(3)),
        "impostor": MemoryLog(ORIGIN, Ed25519Signer.from_seed(bytes(32))).body(4, 9),
        "unknown": MemoryLog("example.com/other", LOG_KEY).body(0, 9),
        "bad_proof": request_body(4, proof, log.note(9)),
        "fork": MemoryLog(ORIGIN, LOG_KEY, prefix="fork").body(4, 9),
        "old_zero_with_proof": request_body(0, log.proof(4, 9), log.note(9)),
    }[case]
    response = client.post("/add-checkpoint", content=body)
    assert response.status_code == status
    assert response.headers["content-type"] == TEXT_TYPE
    assert 0 < len(response.text) < 500 and response.text.endswith("\n")
    assert SIGNATURE_PREFIX not in response.text


def test_a_body_over_the_limit_is_413(client: InProcess, log: MemoryLog) -> None:
    huge = log.body(0, 5) + b"x" * MAX_BODY
    assert client.post("/add-checkpoint", content=huge).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the stream is counted
        for _ in range(MAX_BODY // 8192 + 2):
            yield b"y" * 8192

    assert client.post("/add-checkpoint", content=chunks()).status_code == 413
    assert client.post("/add-checkpoint", content=log.body(0, 5)).status_code == 200


def test_only_post_adds_a_checkpoint(client: InProcess) -> None:
    assert client.get("/add-checkpoint").status_code == 405


# --- monitoring and health -----------------------------------------------------------


def test_the_monitoring_checkpoint(client: InProcess, log: MemoryLog) -> None:
    path = f"/{origin_hash(ORIGIN)}/checkpoint"
    assert client.get(path).status_code == 404
    line = client.post("/add-checkpoint", content=log.body(0, 6)).text
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == TEXT_TYPE
    note = response.text
    assert note == log.note(6) + line  # the log's signature, then this witness's cosignature
    assert open_note(note, [log.verifier]).verified_by == (ORIGIN,)
    text, lines = split_note(note)
    assert Checkpoint.from_text(text) == log.checkpoint(6)
    assert [verify_cosignature(COSIGNER, text, lines[1]).name] == [WITNESS_NAME]


@pytest.mark.parametrize(
    "path",
    ["/" + origin_hash(ORIGIN).upper() + "/checkpoint", "/" + origin_hash("x") + "/checkpoint",
     "/abc/checkpoint", "/" + origin_hash(ORIGIN) + "0/checkpoint"],
)  # fmt: skip
def test_other_monitoring_paths_are_404(client: InProcess, log: MemoryLog, path: str) -> None:
    assert client.post("/add-checkpoint", content=log.body(0, 6)).status_code == 200
    assert client.get(path).status_code == 404


def test_healthz(client: InProcess) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok\n")


def test_a_failed_durable_write_stops_cosigning(
    client: InProcess, witness: Witness, log: MemoryLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.post("/add-checkpoint", content=log.body(0, 3)).status_code == 200

    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("api.witness.state.write_bytes_atomic", full_disk)
    failed = client.post("/add-checkpoint", content=log.body(3, 5))
    assert failed.status_code == 503 and SIGNATURE_PREFIX not in failed.text
    monkeypatch.undo()  # the disk is back, but the witness does not trust its state any more
    assert client.post("/add-checkpoint", content=log.body(3, 5)).status_code == 503
    assert client.get("/healthz").status_code == 503
    latest = witness.latest(ORIGIN)
    assert latest is not None and latest.checkpoint.size == 3


# --- what is stored ------------------------------------------------------------------


def test_the_stored_note_keeps_only_verified_log_lines_and_ours(
    tmp_path: Path, witness: Witness, log: MemoryLog, client: InProcess
) -> None:
    """Junk lines (an unverifiable "cosignature" claiming this witness's key, another
    witness's) are not stored: they would make the state fail its check on the next start."""
    text = log.checkpoint(4).to_text()
    blob = COSIGNER.key_id + (5).to_bytes(8, "big") + bytes(64)  # our key ID, no signature
    forged = f"— {WITNESS_NAME} {base64.b64encode(blob).decode()}\n"
    other = cosign(text, "other.example/w", Ed25519Signer.from_seed(bytes(range(7, 39))), 5)
    note = log.note(4) + forged + other
    assert client.post("/add-checkpoint", content=request_body(0, [], note)).status_code == 200
    stored = (witness.directory / origin_hash(ORIGIN)).read_text()
    assert forged not in stored and other not in stored
    assert stored.startswith(log.note(4)) and stored.count("\n— ") == 2
    witness.close()
    _open(witness.directory).close()  # it still verifies on start


def test_the_state_file_is_named_for_its_origin_and_private(
    witness: Witness, log: MemoryLog, client: InProcess
) -> None:
    client.post("/add-checkpoint", content=log.body(0, 2))
    names = sorted(p.name for p in witness.directory.iterdir())
    assert names == sorted([origin_hash(ORIGIN), "lock", EVIDENCE_NAME])
    assert (witness.directory / origin_hash(ORIGIN)).stat().st_mode & 0o077 == 0


# --- timestamps ----------------------------------------------------------------------


def test_timestamps_never_go_backwards_and_are_never_zero(
    tmp_path: Path, client: InProcess, clock: Clock, log: MemoryLog
) -> None:
    clock.now = 1_800_000_100.9
    assert (
        _verify_response(client.post("/add-checkpoint", content=log.body(0, 2)).text, log, 2)
        == 1_800_000_100
    )
    clock.now = 1_700_000_000  # the clock jumps back: the last timestamp is reused
    assert (
        _verify_response(client.post("/add-checkpoint", content=log.body(2, 3)).text, log, 3)
        == 1_800_000_100
    )
    clock.now = 1_800_000_200
    assert (
        _verify_response(client.post("/add-checkpoint", content=log.body(3, 4)).text, log, 4)
        == 1_800_000_200
    )
    # another log starts from its own history; a clock at 0 still gives a nonzero time
    other = MemoryLog("example.com/zero", LOG_KEY)
    zero = _open(tmp_path / "zero", Clock(0), other)
    try:
        line = zero.add_checkpoint(other.body(0, 1))
        assert _verify_response(line, other, 1) == 1
    finally:
        zero.close()


def test_the_timestamp_floor_survives_a_restart(tmp_path: Path, log: MemoryLog) -> None:
    first = _open(tmp_path / "s", Clock(1_900_000_000))
    first.add_checkpoint(log.body(0, 2))
    first.close()
    second = _open(tmp_path / "s", Clock(1_000))
    try:
        assert _verify_response(second.add_checkpoint(log.body(2, 3)), log, 3) == 1_900_000_000
    finally:
        second.close()


# --- evidence ------------------------------------------------------------------------


def test_refusals_that_smell_of_a_fork_are_kept_as_evidence(
    witness: Witness, client: InProcess, log: MemoryLog
) -> None:
    fork = MemoryLog(ORIGIN, LOG_KEY, prefix="fork")
    assert client.post("/add-checkpoint", content=log.body(0, 6)).status_code == 200
    sent = {
        "422 fork": (fork.body(6, 9), 422),  # recorded: inconsistent
        "422 same size": (fork.body(6, 6), 422),  # recorded: a fork
        "409 same size": (fork.body(0, 6), 409),  # recorded: a fork
        "409 smaller": (fork.body(0, 4), 409),  # recorded: a rollback
        "409 larger": (log.body(0, 9), 409),  # not: an ordinary stale old size
        "409 same root": (log.body(0, 6), 409),  # not: the same tree
        "403": (MemoryLog(ORIGIN, Ed25519Signer.from_seed(bytes(32))).body(6, 9), 403),
        "404": (MemoryLog("example.com/other", LOG_KEY).body(0, 9), 404),
        "400": (b"old x\n\n", 400),
    }
    for name, (body, status) in sent.items():
        assert client.post("/add-checkpoint", content=body).status_code == status, name
    records = read_evidence(witness.directory)
    assert [(r["status"], r["kind"], r["size"]) for r in records] == [
        (422, "inconsistent", 9), (422, "fork", 6), (409, "fork", 6), (409, "rollback", 4),
    ]  # fmt: skip
    for record in records:
        assert record["origin"] == ORIGIN and record["cosigned_size"] == 6
        opened = open_note(str(record["note"]), [log.verifier])  # the signed evidence itself
        assert opened.verified_by == (ORIGIN,)
        assert record["root"] == base64.b64encode(fork.root(int(str(record["size"])))).decode()
    lines = (witness.directory / EVIDENCE_NAME).read_text().splitlines()
    assert [json.loads(line) for line in lines] == records


def test_a_torn_evidence_line_does_not_swallow_the_next(tmp_path: Path, log: MemoryLog) -> None:
    state = tmp_path / "s"
    first = _open(state)
    first.add_checkpoint(log.body(0, 3))
    first.close()
    with (state / EVIDENCE_NAME).open("ab") as handle:
        handle.write(b'{"status": 422, "kind": "fo')  # a crash in the middle of an append
    second = _open(state)
    try:
        fork = MemoryLog(ORIGIN, LOG_KEY, prefix="fork")
        with pytest.raises(InconsistentCheckpointError, match="another root"):
            second.add_checkpoint(fork.body(3, 3))
    finally:
        second.close()
    assert [r["kind"] for r in read_evidence(state)] == ["fork"]


# --- the state folder: atomicity, lock, restart, refusals to start --------------------


def test_concurrent_submissions_never_roll_the_state_back(tmp_path: Path, log: MemoryLog) -> None:
    """The spec's race: requests checked against one state, the later write undoing the
    earlier. A slow clock (read between judge and the write) widens the window."""

    class SlowClock(Clock):
        def __call__(self) -> float:
            time.sleep(0.02)
            return self.now

    witness = _open(tmp_path / "s", SlowClock())
    try:
        witness.add_checkpoint(log.body(0, 4))
        results: dict[int, str] = {}

        def submit(size: int) -> None:
            try:
                witness.add_checkpoint(log.body(4, size))
                results[size] = "200"
            except Exception as exc:
                results[size] = type(exc).__name__

        threads = [threading.Thread(target=submit, args=(size,)) for size in range(5, 17)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [size for size, result in results.items() if result == "200"]
        assert len(winners) == 1, results
        assert set(results.values()) == {"200", "OldSizeConflictError"}
        latest = witness.latest(ORIGIN)
        assert latest is not None and latest.checkpoint.size == winners[0]
    finally:
        witness.close()


def test_a_second_witness_on_the_same_folder_refuses(witness: Witness) -> None:
    with pytest.raises(StateInUseError, match=f"pid {os.getpid()}"):
        _open(witness.directory)


def test_restart_keeps_the_state(tmp_path: Path, log: MemoryLog) -> None:
    first = _open(tmp_path / "s")
    first.add_checkpoint(log.body(0, 7))
    note = first.cosigned_note(origin_hash(ORIGIN))
    first.close()
    second = _open(tmp_path / "s")
    try:
        assert second.cosigned_note(origin_hash(ORIGIN)) == note
        with pytest.raises(OldSizeConflictError) as caught:
            second.add_checkpoint(log.body(0, 9))
        assert caught.value.latest == 7
    finally:
        second.close()


def test_a_crash_leftover_temp_file_is_cleared(tmp_path: Path, log: MemoryLog) -> None:
    first = _open(tmp_path / "s")
    first.add_checkpoint(log.body(0, 2))
    first.close()
    leftover = tmp_path / "s" / f".{origin_hash(ORIGIN)}.abc123"
    leftover.write_text("half a checkpoint")
    _open(tmp_path / "s").close()
    assert not leftover.exists()


def _stored(tmp_path: Path, log: MemoryLog) -> Path:
    first = _open(tmp_path / "s")
    first.add_checkpoint(log.body(0, 5))
    first.close()
    return tmp_path / "s" / origin_hash(ORIGIN)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda note: note.replace("\n5\n", "\n6\n", 1), "trusted log key"),
        (lambda note: note[: note.rindex("— ")], "no cosignature from this witness"),
        (lambda note: note[:-5] + "AAA=\n", "cosignature does not verify|canonical"),
        (lambda note: "garbage", "not a signed checkpoint"),
        (lambda note: note.replace(ORIGIN, "example.com/moved"), "another origin"),
    ],
)
def test_a_damaged_state_file_refuses_to_start(
    tmp_path: Path, log: MemoryLog, damage: Callable[[str], str], message: str
) -> None:
    path = _stored(tmp_path, log)
    path.write_text(damage(path.read_text()))
    with pytest.raises(StateCorruptError, match=message):
        _open(tmp_path / "s")
    _open(tmp_path / "t").close()  # and the refusal released the lock it took
    with pytest.raises(StateCorruptError):  # still refusing: nothing was reset
        _open(tmp_path / "s")


def test_a_state_for_an_unfollowed_log_or_rotated_away_key_refuses_to_start(
    tmp_path: Path, log: MemoryLog
) -> None:
    _stored(tmp_path, log)
    other = MemoryLog(ORIGIN, Ed25519Signer.from_seed(bytes(32)))  # the old key dropped
    with pytest.raises(StateCorruptError, match="trusted log key"):
        _open(tmp_path / "s", log=other)
    with pytest.raises(StateCorruptError, match="no --log-key"):
        Witness.open(tmp_path / "s", name=WITNESS_NAME, signer=WITNESS,
                     trusted={"example.com/other": [log.verifier]})  # fmt: skip
    with pytest.raises(StateCorruptError, match="no cosignature from this witness"):
        Witness.open(tmp_path / "s", name=WITNESS_NAME, signer=LOG_KEY,
                     trusted={ORIGIN: [log.verifier]})  # fmt: skip
    both = Witness.open(tmp_path / "s", name=WITNESS_NAME, signer=WITNESS,
                        trusted={ORIGIN: [other.verifier, log.verifier]})  # fmt: skip
    both.close()  # rotation: old and new key both listed


# --- real processes ------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_key_files(tmp_path, WITNESS_KEY, [MemoryLog(ORIGIN, LOG_KEY).verifier])
    return tmp_path


def _process(home: Path, state: Path | None = None) -> WitnessProcess:
    return WitnessProcess(home, key=home / "witness.pem", log_keys=[home / "log0.vkey"],
                          state=state or home / "state")  # fmt: skip


def test_serve_as_a_real_process(home: Path, log: MemoryLog) -> None:
    process = _process(home).start()
    try:
        assert process.get(f"/{origin_hash(ORIGIN)}/checkpoint").status_code == 404
        ok = process.post(log.body(0, 5))
        assert (ok.status_code, ok.headers["content-type"]) == (200, TEXT_TYPE)
        assert _verify_response(ok.text, log, 5) > 1_600_000_000  # the real clock
        conflict = process.post(log.body(0, 8))
        assert (conflict.status_code, conflict.headers["content-type"], conflict.content) == (
            409,
            SIZE_TYPE,
            b"5\n",
        )
        statuses = [
            process.post(b"old 5\n").status_code,
            process.post(
                MemoryLog(ORIGIN, Ed25519Signer.from_seed(bytes(32))).body(5, 8)
            ).status_code,
            process.post(MemoryLog("example.com/other", LOG_KEY).body(0, 8)).status_code,
            process.post(MemoryLog(ORIGIN, LOG_KEY, prefix="fork").body(5, 8)).status_code,
            process.post(b"x" * (MAX_BODY + 1)).status_code,
        ]
        assert statuses == [400, 403, 404, 422, 413]
        monitored = process.get(f"/{origin_hash(ORIGIN)}/checkpoint")
        assert monitored.status_code == 200 and monitored.text == log.note(5) + ok.text
    finally:
        process.close()


def test_a_second_process_on_the_same_state_refuses_to_start(home: Path, log: MemoryLog) -> None:
    first = _process(home).start()
    try:
        second = _process(home)
        done = subprocess.run(second.command(), cwd=REPO, capture_output=True, text=True,
                              timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "in use by another witness process" in done.stderr
        assert first.process is not None
        assert f"pid {first.process.pid}" in done.stderr
        assert first.post(log.body(0, 3)).status_code == 200  # the first one is unharmed
    finally:
        first.close()


def test_restart_keeps_state_across_processes(home: Path, log: MemoryLog) -> None:
    process = _process(home).start()
    try:
        line = process.post(log.body(0, 6)).text
        process.kill()
        process.start()
        assert process.get(f"/{origin_hash(ORIGIN)}/checkpoint").text == log.note(6) + line
        assert process.post(log.body(0, 9)).content == b"6\n"
        assert process.post(log.body(6, 9)).status_code == 200
        process.stop()  # a clean stop releases the lock too
        process.start()
        assert process.post(log.body(0, 9)).content == b"9\n"
    finally:
        process.close()


def test_serve_refuses_a_damaged_state(home: Path, log: MemoryLog) -> None:
    process = _process(home).start()
    process.post(log.body(0, 4))
    process.close()
    path = home / "state" / origin_hash(ORIGIN)
    path.write_text(path.read_text().replace("\n4\n", "\n5\n"))
    done = subprocess.run(_process(home).command(), cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)  # fmt: skip
    assert done.returncode == 2 and "refusing to start" in done.stderr


def _witness_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The same Typer app as ``chemtrace witness``, without the service CLI's slow imports."""
    return subprocess.run([sys.executable, "-m", "api.witness", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip


def test_keygen_and_vkey(tmp_path: Path) -> None:
    made = run_cli("witness", "keygen", "--out", "w.pem", "--name", WITNESS_NAME, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    vkey = made.stdout.strip()
    assert parse_cosigner_vkey(vkey).name == WITNESS_NAME
    assert (tmp_path / "w.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "w.pem.vkey").read_text() == vkey + "\n"
    shown = run_cli("witness", "vkey", "--key", "w.pem", "--name", WITNESS_NAME, cwd=tmp_path)
    assert shown.stdout.strip() == vkey
    pem = (tmp_path / "w.pem").read_bytes()
    again = _witness_cli("keygen", "--out", "w.pem", "--name", WITNESS_NAME, cwd=tmp_path)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    assert (tmp_path / "w.pem").read_bytes() == pem
    (tmp_path / "w.pem.vkey").rename(tmp_path / "v.pem.vkey")
    stale = _witness_cli("keygen", "--out", "v.pem", "--name", WITNESS_NAME, cwd=tmp_path)
    assert stale.returncode == 2 and not (tmp_path / "v.pem").exists()  # its vkey file exists
    bad = _witness_cli("keygen", "--out", "x.pem", "--name", "has space", cwd=tmp_path)
    assert bad.returncode == 2 and not (tmp_path / "x.pem").exists()
    os.chmod(tmp_path / "w.pem", 0o644)
    loose = _witness_cli("vkey", "--key", "w.pem", "--name", WITNESS_NAME, cwd=tmp_path)
    assert loose.returncode == 2 and "chmod 600" in loose.stderr


def test_serve_needs_a_log_key_that_parses(home: Path) -> None:
    (home / "bad.vkey").write_text(COSIGNER.vkey() + "\n")  # a cosigner key is not a log key
    done = subprocess.run(
        [sys.executable, "-m", "api.witness", "serve", "--key", str(home / "witness.pem"),
         "--name", WITNESS_NAME, "--log-key", str(home / "bad.vkey"), "--state", str(home / "s")],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 2 and "not a C2SP Ed25519 log vkey" in done.stderr
