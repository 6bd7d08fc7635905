"""A real witness process killed with SIGKILL at random moments while a log submits.

The client behaves as a log does: it submits its growing tree's checkpoints with a
consistency proof from the size it believes the witness has, and on 409 takes the size from
the body and tries again. Now and then it also tries a fork (a second tree, other leaves from
the first one, same key) at sizes around the witness's. Between kills the witness restarts on
the same state folder. Whatever the timing:

* after each restart the witness's state is at least every cosignature returned before the kill;
* no two cosignatures ever returned name one size with two roots, and none is for the fork;
* each fork attempt the witness answered is in its evidence file;
* timestamps never go backwards.
"""

from __future__ import annotations

import base64
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.witness.state import origin_hash, read_evidence
from ledger.checkpoint import Checkpoint
from ledger.cosignature import CosignerVerifier, verify_cosignature
from ledger.note import open_note, split_note
from ledger.signing import Ed25519Signer
from ledger.witness import request_body
from tests.api._witness import WITNESS_NAME, WitnessProcess, write_key_files
from tests.ledger._tlog import MemoryLog

ORIGIN = "crash.example/log"
ROUNDS = 20
SEED = int(os.environ.get("WITNESS_CRASH_SEED", time.time_ns() % 2**32))


@dataclass
class Returned:
    """A 200 the client received: what it submitted and the line it got back."""

    size: int
    root: bytes
    text: str
    line: str
    fork: bool


@dataclass
class Client:
    """A log in a thread: honest submissions, fork attempts, and what came back."""

    base_url: str
    log: MemoryLog
    fork: MemoryLog
    rng: random.Random
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    returned: list[Returned] = field(default_factory=list)
    answered_forks: set[tuple[int, str]] = field(default_factory=set)
    unexpected: list[str] = field(default_factory=list)
    known: int = 0
    """The size the log believes the witness has (from a 200 or a 409 body)."""

    def post(self, http: httpx.Client, body: bytes) -> httpx.Response | None:
        try:
            return http.post(self.base_url + "/add-checkpoint", content=body)
        except httpx.HTTPError:
            time.sleep(0.01)  # the witness is down (killed, or restarting)
            return None

    def accept(self, tree: MemoryLog, size: int, response: httpx.Response) -> None:
        checkpoint = tree.checkpoint(size)
        with self.lock:
            self.returned.append(Returned(size, checkpoint.root_hash, checkpoint.to_text(),
                                          response.text, tree is self.fork))  # fmt: skip

    def honest(self, http: httpx.Client) -> None:
        size = self.known + self.rng.choice([0, 1, 1, 2, 3, 5])
        response = self.post(http, self.log.body(self.known, size))
        if response is None:
            return
        if response.status_code == 200:
            self.accept(self.log, size, response)
            self.known = size
        elif response.status_code == 409:
            self.known = int(response.text)
        else:
            self.unexpected.append(f"honest {self.known}->{size}: {response.status_code}")

    def attempt_fork(self, http: httpx.Client) -> None:
        size = max(1, self.known + self.rng.randint(-3, 4))
        old = self.known if size >= self.known else 0
        for _ in range(3):
            body = request_body(old, self.fork.proof(old, size), self.fork.note(size))
            response = self.post(http, body)
            if response is None:
                return
            status = response.status_code
            if status == 200:
                self.accept(self.fork, size, response)
                return
            key = (size, base64.b64encode(self.fork.root(size)).decode())
            if status == 422:
                self.answered_forks.add(key)
                return
            if status != 409:
                self.unexpected.append(f"fork {old}->{size}: {status} {response.text}")
                return
            latest = int(response.text)
            if size <= latest:  # a same-size fork or a rollback: evidence as it stands
                self.answered_forks.add(key)
                return
            old = latest  # a stale old size: retry from the witness's size, as a log would

    def run(self) -> None:
        with httpx.Client(timeout=3) as http:
            while not self.stop.is_set():
                if self.known >= 1 and self.rng.random() < 0.3:
                    self.attempt_fork(http)
                else:
                    self.honest(http)


def _state_size(process: WitnessProcess, cosigner: CosignerVerifier, log: MemoryLog) -> int:
    response = process.get(f"/{origin_hash(ORIGIN)}/checkpoint")
    if response.status_code == 404:
        return 0
    note = response.text
    text, lines = split_note(note)
    open_note(note, [log.verifier])
    checkpoint = Checkpoint.from_text(text)
    assert checkpoint.root_hash == log.root(checkpoint.size), "the state holds a fork"
    ours = [line for line in lines if line.name == cosigner.name]
    assert ours
    assert verify_cosignature(cosigner, text, ours[0]).name == cosigner.name
    return checkpoint.size


def test_sigkill_at_random_moments_never_loses_or_forks_a_cosignature(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    log_key = Ed25519Signer.generate()
    witness_key = Ed25519PrivateKey.generate()
    cosigner = CosignerVerifier.for_key(WITNESS_NAME, Ed25519Signer(witness_key).public_key)
    honest = MemoryLog(ORIGIN, log_key)
    key, log_keys = write_key_files(tmp_path, witness_key, [honest.verifier])
    process = WitnessProcess(tmp_path, key=key, log_keys=log_keys, state=tmp_path / "state",
                             module="api.witness")  # fmt: skip
    client = Client(process.base_url, MemoryLog(ORIGIN, log_key),
                    MemoryLog(ORIGIN, log_key, prefix="fork"), random.Random(rng.random()))  # fmt: skip
    worker = threading.Thread(target=client.run, daemon=True)
    context = f"(WITNESS_CRASH_SEED={SEED})"
    try:
        process.start()
        worker.start()
        for round_ in range(ROUNDS):
            time.sleep(rng.uniform(0.03, 0.6))
            process.kill()
            with client.lock:
                before = max((r.size for r in client.returned), default=0)
            process.start()
            client.base_url = process.base_url  # a new port only if the old one was taken
            size = _state_size(process, cosigner, honest)
            assert size >= before, f"round {round_}: state {size} < cosigned {before} {context}"
        time.sleep(0.3)
    finally:
        client.stop.set()
        worker.join(10)
        process.close()

    assert not client.unexpected, f"{client.unexpected[:5]} {context}"
    assert len(client.returned) >= ROUNDS, f"too few cosignatures to mean much {context}"
    roots: dict[int, bytes] = {}
    stamps: list[int] = []
    for returned in client.returned:
        text = returned.text
        _, lines = split_note(text + "\n" + returned.line)
        assert len(lines) == 1
        stamps.append(verify_cosignature(cosigner, text, lines[0]).timestamp)
        assert roots.setdefault(returned.size, returned.root) == returned.root, context
        assert not returned.fork, f"the witness cosigned a fork at {returned.size} {context}"
    assert stamps == sorted(stamps), f"timestamps went backwards {context}"
    assert client.answered_forks, f"no fork attempt was answered {context}"
    evidence = {(int(str(r["size"])), str(r["root"])) for r in read_evidence(tmp_path / "state")}
    missing = client.answered_forks - evidence
    assert not missing, (
        f"{len(missing)} fork attempts not in the evidence, e.g. {sorted(missing)[:5]} {context}"
    )
