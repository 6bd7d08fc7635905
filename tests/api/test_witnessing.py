"""The log's witness client against witnesses that misbehave, over real HTTP on loopback.

The honest paths run against real witness processes in ``test_witnessing_e2e.py``; here a
small HTTP server answers what a broken or hostile witness would: a cosignature from another
key, a bad signature, junk, an endless 409, a size beyond the log. None of it may be stored.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from api.accel import LocalAccelerator
from api.deployment import Deployment
from api.witnessing import WitnessAnchor, WitnessEndpoint, Witnessing
from ledger.cosignature import CosignerVerifier, cosign
from ledger.errors import AnchorError
from ledger.note import split_note
from ledger.signing import Ed25519Signer
from ledger.store.witnessing import WitnessingStore
from ledger.timefmt import parse_utc
from ledger.witness import parse_request
from tests.ledger._tlog import MemoryLog

Answer = Callable[[bytes], tuple[int, str, str]]
"""request body -> (status, content type, body)"""

NAME = "hostile.example/w"


class Peer:
    """A loopback HTTP server whose add-checkpoint answer a test chooses."""

    def __init__(self) -> None:
        self.answer: Answer = lambda body: (500, "text/plain", "not set")
        self.requests: list[bytes] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                peer.requests.append(body)
                status, media, text = peer.answer(body)
                payload = text.encode()
                self.send_response(status)
                self.send_header("content-type", media)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer()
    yield server
    server.close()


@pytest.fixture
def log() -> MemoryLog:
    memory = MemoryLog("chemtrace.test/log", Ed25519Signer.generate())
    memory.grow(40)
    return memory


WITNESS = Ed25519Signer.generate()
WITNESS_VERIFIER = CosignerVerifier.for_key(NAME, WITNESS.public_key)


def _anchor(peer: Peer) -> WitnessAnchor:
    return WitnessAnchor(WitnessEndpoint(peer.url, WITNESS_VERIFIER), httpx.Client(timeout=5))


def _cosigned_by(signer: Ed25519Signer, name: str = NAME) -> Answer:
    def answer(body: bytes) -> tuple[int, str, str]:
        text, _ = split_note(parse_request(body).note)
        return 200, "text/plain", cosign(text, name, signer, int(time.time()))

    return answer


def _tampered(body: bytes) -> tuple[int, str, str]:
    """WITNESS's cosignature with one bit of the Ed25519 signature flipped."""
    _, _, line = _cosigned_by(WITNESS)(body)
    name, encoded = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 1
    return 200, "text/plain", f"{name} {base64.b64encode(bytes(raw)).decode()}\n"


def test_a_good_cosignature_is_returned_with_its_time(peer: Peer, log: MemoryLog) -> None:
    peer.answer = _cosigned_by(WITNESS)
    receipt = _anchor(peer).anchor(log.note(40), 0, log.proof)
    assert receipt.anchored_size == 40 and receipt.line is not None
    assert abs(receipt.timestamp - time.time()) < 5


def test_a_409_is_followed_by_a_request_from_the_witness_size(peer: Peer, log: MemoryLog) -> None:
    sizes = iter([(409, "text/x.tlog.size", "17\n")])

    def answer(body: bytes) -> tuple[int, str, str]:
        return next(sizes, None) or _cosigned_by(WITNESS)(body)

    peer.answer = answer
    _anchor(peer).anchor(log.note(40), 3, log.proof)
    first, second = (parse_request(body) for body in peer.requests)
    assert (first.old_size, second.old_size) == (3, 17)
    assert list(second.proof) == log.proof(17, 40)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_tampered, "does not verify"),
        (_cosigned_by(Ed25519Signer.generate()), "no cosignature from its configured key"),
        (_cosigned_by(WITNESS, name="someone.else/w"), "no cosignature from its configured key"),
        (lambda body: (200, "text/plain", "hello\n"), "no cosignature"),
        (lambda body: (409, "text/plain", "17\n"), "HTTP 409"),
        (lambda body: (409, "text/x.tlog.size", "017\n"), "409 without a size"),
        (lambda body: (409, "text/x.tlog.size", "17\n"), "keeps answering 409"),
        (lambda body: (422, "text/plain", "inconsistent"), "HTTP 422"),
    ],
    ids=[
        "bad-signature",
        "unknown-key",
        "other-name",
        "junk",
        "409-untyped",
        "409-zero-padded",
        "409-loop",
        "422",
    ],
)
def test_a_witness_answer_that_is_not_a_valid_cosignature_is_refused(
    peer: Peer, log: MemoryLog, answer: Answer, message: str
) -> None:
    peer.answer = answer
    with pytest.raises(AnchorError, match=message):
        _anchor(peer).anchor(log.note(40), 0, log.proof)


def test_a_witness_ahead_of_the_log_is_a_rollback_not_a_retry(peer: Peer, log: MemoryLog) -> None:
    peer.answer = lambda body: (409, "text/x.tlog.size", "99\n")
    with pytest.raises(AnchorError, match="rolled back or forked") as raised:
        _anchor(peer).anchor(log.note(40), 0, log.proof)
    assert raised.value.anchored_size == 99
    assert len(peer.requests) == 1


def test_an_unreachable_witness_is_an_anchor_error(log: MemoryLog) -> None:
    dead = WitnessAnchor(
        WitnessEndpoint("http://127.0.0.1:9", WITNESS_VERIFIER), httpx.Client(timeout=1)
    )
    with pytest.raises(AnchorError, match="unreachable"):
        dead.anchor(log.note(40), 0, log.proof)


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_failures_back_off_and_nothing_is_stored(tmp_path: Path, peer: Peer) -> None:
    deployment = Deployment.open(f"sqlite:///{tmp_path}/l.db", tmp_path / "keys")
    deployment.certify_org("org-a")
    assert deployment.checkpoint() is not None
    clock = _Clock()
    store = WitnessingStore(deployment.store.engine)
    witnessing = Witnessing(
        deployment.store,
        store,
        [WitnessEndpoint(peer.url, WITNESS_VERIFIER)],
        LocalAccelerator(),
        quorum=1,
        lock_held=lambda: True,
        backoff_s=1.0,
        clock=clock,
    )
    try:
        peer.answer = _tampered
        assert witnessing.step() == 0
        (status,) = store.statuses()
        assert status.failures == 1 and "does not verify" in (status.last_error or "")
        assert witnessing.step() == 0 and len(peer.requests) == 1  # not due yet
        peer.answer = _cosigned_by(WITNESS)
        clock.now = clock.now.replace(second=3)
        assert witnessing.step() == 1
        size = deployment.store.latest_checkpoint()[0]  # type: ignore[index]
        assert [c.witness for c in store.cosignatures(size)] == [NAME]
        assert store.statuses()[0].failures == 0
        assert witnessing.report()["newest_has_quorum"] is True
        assert witnessing.step() == 0  # already cosigned: not asked again
        assert len(peer.requests) == 2
    finally:
        witnessing.close()
        deployment.store.engine.dispose()


def test_only_the_lock_holder_submits(tmp_path: Path, peer: Peer) -> None:
    deployment = Deployment.open(f"sqlite:///{tmp_path}/l.db", tmp_path / "keys")
    deployment.certify_org("org-a")
    deployment.checkpoint()
    witnessing = Witnessing(
        deployment.store,
        WitnessingStore(deployment.store.engine),
        [WitnessEndpoint(peer.url, WITNESS_VERIFIER)],
        LocalAccelerator(),
        quorum=1,
        lock_held=lambda: False,
    )
    try:
        assert witnessing.step() == 0 and peer.requests == []
    finally:
        witnessing.close()
        deployment.store.engine.dispose()


def test_a_slow_witness_delays_only_itself(tmp_path: Path, peer: Peer, log: MemoryLog) -> None:
    """The worker's rounds do not wait: a witness that takes its time is still busy while a
    fast one cosigns checkpoint after checkpoint."""
    fast, slow = Peer(), peer
    fast_signer = Ed25519Signer.generate()
    fast.answer = _cosigned_by(fast_signer, name="fast.example/w")
    release = threading.Event()

    def stalled(body: bytes) -> tuple[int, str, str]:
        release.wait(10)
        return _cosigned_by(WITNESS)(body)

    slow.answer = stalled
    deployment = Deployment.open(f"sqlite:///{tmp_path}/l.db", tmp_path / "keys")
    store = WitnessingStore(deployment.store.engine)
    endpoints = [
        WitnessEndpoint(slow.url, WITNESS_VERIFIER),
        WitnessEndpoint(
            fast.url, CosignerVerifier.for_key("fast.example/w", fast_signer.public_key)
        ),
    ]
    witnessing = Witnessing(
        deployment.store, store, endpoints, LocalAccelerator(), quorum=1, lock_held=lambda: True
    )
    try:
        for n in range(3):
            deployment.certify_org(f"org-{n}")
            deployment.checkpoint()
            size = deployment.store.latest_checkpoint()[0]  # type: ignore[index]
            started = time.monotonic()
            witnessing.step(wait=False)
            deadline = started + 5
            while "fast.example/w" not in {c.witness for c in store.cosignatures(size)}:
                assert time.monotonic() < deadline, "the fast witness was held up"
                time.sleep(0.01)
        assert len(slow.requests) == 1  # still busy with the first checkpoint: not asked again
    finally:
        release.set()
        witnessing.close()
        fast.close()
        deployment.store.engine.dispose()


def test_a_size_that_is_not_ascii_digits_is_refused(peer: Peer, log: MemoryLog) -> None:
    peer.answer = lambda body: (409, "text/x.tlog.size", "\u00b2\n")  # '²'.isdigit() is True
    with pytest.raises(AnchorError, match="409 without a size"):
        _anchor(peer).anchor(log.note(40), 0, log.proof)


class _Broken:
    """An anchor whose exchange fails with something other than an AnchorError (a bug, a
    database error): the kind of fault no honest or hostile peer can provoke on purpose."""

    name, location = "broken.example/w", "http://127.0.0.1:9"

    def anchor(self, note: str, known_size: int, prove: object) -> object:
        raise RuntimeError("the database went away")


def test_an_unexpected_failure_backs_off_like_any_other(tmp_path: Path) -> None:
    deployment = Deployment.open(f"sqlite:///{tmp_path}/l.db", tmp_path / "keys")
    deployment.certify_org("org-a")
    deployment.checkpoint()
    clock = _Clock()
    store = WitnessingStore(deployment.store.engine)
    witnessing = Witnessing(
        deployment.store,
        store,
        [],
        LocalAccelerator(),
        quorum=1,
        lock_held=lambda: True,
        clock=clock,
    )
    witnessing.anchors = [_Broken()]  # type: ignore[list-item]
    try:
        assert witnessing.step() == 0
        (status,) = store.statuses()
        assert status.failures == 1 and "the database went away" in (status.last_error or "")
        assert parse_utc(status.next_attempt_at) > clock.now  # not asked again at once
    finally:
        witnessing.close()
        deployment.store.engine.dispose()


def test_the_integrator_holds_its_lock_with_nothing_new_to_sign(tmp_path: Path) -> None:
    """After a restart on a checkpointed log, the lock is what lets witnessing run."""
    from api.background import Integrator, SingletonLock
    from ledger.store.service import ServiceStore

    db = f"sqlite:///{tmp_path}/l.db"
    deployment = Deployment.open(db, tmp_path / "keys")
    deployment.certify_org("org-a")
    deployment.checkpoint()
    engine = deployment.store.engine
    lock = SingletonLock(db, engine)
    integrator = Integrator(ServiceStore(engine), deployment.checkpoint, lock, LocalAccelerator())
    try:
        integrator.step()
        assert lock.held
    finally:
        integrator.close()
        engine.dispose()
