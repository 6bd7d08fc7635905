"""Witnesses for tests: throwaway keys, cosignatures on a bundle's checkpoint, city policies,
and a small ledger whose item bundle they cosign (:func:`build_world`).

The server appends witness cosignature lines to a bundle's checkpoint note; tests do the
same with :func:`ledger.cosignature.attach`.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.bundle import BundleReport, VerifierState, verify_bundle
from ledger.cosignature import CosignerVerifier, attach, cosign
from ledger.note import NoteVerifier, split_note
from ledger.signing import ED25519, Ed25519Signer
from ledger.store import bundles
from ledger.witness_policy import WitnessPolicy, parse_policy
from tests.harness import ORIGIN, Harness

WITNESSES = ("police", "transport", "district")
"""This city's witnesses: the police bureau, the transport commission and a district."""
Bundle = dict[str, Any]


def rfc3339(posix: int) -> str:
    return datetime.fromtimestamp(posix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def witness_key_name(name: str) -> str:
    """A witness's key name (on its cosignature lines); the policy calls it ``name``."""
    return f"witness.{name}.example.cn"


def flip_bit(line: str) -> str:
    """The same signature line with one bit of its signature flipped."""
    prefix, encoded = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 0x01
    return f"{prefix} {base64.b64encode(bytes(raw)).decode('ascii')}\n"


def log_vkey(origin: str, signer: Ed25519Signer) -> str:
    return NoteVerifier.for_key(origin, signer.public_key).vkey()


@dataclass(frozen=True)
class Witnesses:
    """One throwaway Ed25519 key per witness."""

    signers: dict[str, Ed25519Signer]

    @classmethod
    def generate(cls, names: Iterable[str] = WITNESSES) -> Witnesses:
        return cls({name: Ed25519Signer.generate() for name in names})

    def vkey(self, name: str) -> str:
        key = self.signers[name].public_key
        return CosignerVerifier.for_key(witness_key_name(name), key).vkey()

    def cosign(self, note: str, name: str, timestamp: int) -> str:
        """``name``'s cosignature line over the checkpoint of ``note`` at ``timestamp``."""
        text, _ = split_note(note)
        return cosign(text, witness_key_name(name), self.signers[name], timestamp)

    def cosigned(self, bundle: Bundle, *lines: str) -> Bundle:
        """A copy of ``bundle`` whose checkpoint carries these signature lines too."""
        document: Bundle = copy.deepcopy(bundle)
        document["checkpoint"] = attach(document["checkpoint"], lines)
        return document

    def policy_text(self, logs: Iterable[str], quorum: str = "2", extra: Iterable[str] = ()) -> str:
        """``group city <quorum> police transport district`` over these witnesses."""
        lines = [f"log {vkey}" for vkey in logs]
        lines += [f"witness {name} {self.vkey(name)}" for name in self.signers]
        lines += [f"group city {quorum} {' '.join(self.signers)}", *extra, "quorum city"]
        return "\n".join(lines) + "\n"


BUILT = datetime(2026, 11, 17, 6, 0, tzinfo=UTC)
VERIFY_TIME = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
NOW = int(VERIFY_TIME.timestamp())


@dataclass(frozen=True)
class World:
    root: Ed25519Signer
    log: Ed25519Signer
    new_log: Ed25519Signer
    witnesses: Witnesses
    code: str
    bundle: Bundle

    def fresh(self) -> Bundle:
        document: Bundle = copy.deepcopy(self.bundle)
        return document

    def cosigned(self, *lines: str) -> Bundle:
        """A copy of the bundle with these signature lines appended to its checkpoint."""
        return self.witnesses.cosigned(self.bundle, *lines)

    def cosign(self, name: str, timestamp: int = NOW - 3600) -> str:
        return self.witnesses.cosign(self.bundle["checkpoint"], name, timestamp)

    def log_vkey(self, signer: Ed25519Signer | None = None) -> str:
        return log_vkey(ORIGIN, signer or self.log)

    def witness_vkey(self, name: str) -> str:
        return self.witnesses.vkey(name)

    def policy(self, quorum: str = "2", *, logs: Iterable[str] | None = None,
               extra: Iterable[str] = ()) -> WitnessPolicy:  # fmt: skip
        listed = logs if logs is not None else [self.log_vkey()]
        return parse_policy(self.witnesses.policy_text(listed, quorum, extra))

    def verify(
        self,
        bundle: Bundle,
        policy: WitnessPolicy | None = None,
        *,
        log_verifier: NoteVerifier | None = None,
        pinned: bool = True,
        state: VerifierState | None = None,
    ) -> BundleReport:
        pinned_key = log_verifier or NoteVerifier.for_key(ORIGIN, self.log.public_key)
        return verify_bundle(
            bundle,
            root_algorithm=ED25519,
            root_public_key=self.root.public_key,
            log_verifier=pinned_key if pinned else None,
            state=state,
            now=VERIFY_TIME,
            policy=policy,
        )


def build_world(folder: Path) -> World:
    """One item with three events, one checkpoint, and its bundle (no cosignature yet)."""
    h = Harness.create(f"sqlite:///{folder / 'ledger.db'}")
    device = h.device("org-a")
    code = "CT-WITNESS-1"
    h.submit([h.commission(device, code), h.use(device, code), h.use(device, code)])
    h.checkpoint()
    built = bundles.build_item_bundle(h.store, code, log_signer=h.log, now=BUILT)
    h.store.engine.dispose()
    return World(
        root=h.root,
        log=h.log,
        new_log=Ed25519Signer.generate(),
        witnesses=Witnesses.generate(),
        code=code,
        bundle=json.loads(json.dumps(built)),
    )
