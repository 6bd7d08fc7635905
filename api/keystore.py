"""The development file keystore under ``./var/keys`` (never in git).

Private keys are PKCS#8 PEM files readable only by their owner; the folder is
0700. Each key is reached only as a :class:`ledger.signing.Signer`. Public
halves are also written as C2SP vkeys (``root.vkey``, ``log.vkey``) so that
auditors can pin them with ``--root-key`` / ``--log-key``.

A production deployment replaces this with an HSM or KMS signer.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from ledger.note import NoteVerifier, parse_vkey
from ledger.signing import ED25519, Ed25519Signer
from ledger.store.files import fsync_folder, write_bytes_atomic
from ledger.verify import TrustedKeys

DEFAULT_KEYS_DIR = Path("var/keys")
DEFAULT_ORIGIN = "chemtrace.dev/ledger"
ROOT_NAME = "chemtrace.dev/registry-root"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class KeystoreError(Exception):
    """The keystore is unusable (bad permissions, corrupt key, bad name)."""


def pinned_trust(
    keys_dir: Path, *, root_key: Path | None = None, log_key: Path | None = None
) -> TrustedKeys:
    """The public keys an auditor pins: the flag files, else the keystore's published vkeys.

    Never reads or creates a private key.

    Raises:
        KeystoreError: a key file is missing.
    """
    root_path = root_key or keys_dir / "root.vkey"
    log_path = log_key or keys_dir / "log.vkey"
    for path, flag in ((root_path, "--root-key"), (log_path, "--log-key")):
        if not path.is_file():
            raise KeystoreError(f"no trusted key at {path}: pass {flag} FILE (a C2SP vkey)")
    root = parse_vkey(root_path.read_text(encoding="utf-8").strip())
    log = parse_vkey(log_path.read_text(encoding="utf-8").strip())
    retired = retired_log_keys(log_path.parent) if log_key is None else ()
    return TrustedKeys(
        log=log, root_algorithm=ED25519, root_public_key=root.public_key, retired_logs=retired
    )


def retired_log_keys(keys_dir: Path) -> tuple[tuple[NoteVerifier, int], ...]:
    """Earlier log keys published beside ``log.vkey``, each with the last size it signed for.

    Raises:
        KeystoreError: a retired key's vkey or size file is missing or malformed.
    """
    retired = []
    for vkey_path in sorted(keys_dir.glob("log-retired-*.vkey")):
        meta_path = vkey_path.with_suffix(".json")
        try:
            last = int(json.loads(meta_path.read_text())["last_size"])
            retired.append((parse_vkey(vkey_path.read_text(encoding="utf-8").strip()), last))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeystoreError(f"retired log key {vkey_path} is unusable: {exc}") from exc
    return tuple(retired)


class FileKeystore:
    """Named Ed25519 keys in a private folder, created on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        self._meta_path = self.directory / "keystore.json"
        if not self._meta_path.exists():
            self._write_private(self._meta_path, json.dumps({"origin": DEFAULT_ORIGIN}).encode())
        self._origin = str(json.loads(self._meta_path.read_text())["origin"])
        self._loaded: dict[str, Ed25519Signer] = {}
        self._checked: set[str] = set()

    @property
    def origin(self) -> str:
        """The log origin this keystore signs for."""
        return self._origin

    def signer(self, name: str) -> Ed25519Signer:
        """Load (or create on first use) the key called ``name``; loaded once per keystore."""
        if name in self._loaded:
            return self._loaded[name]
        if not _NAME.fullmatch(name):
            raise KeystoreError(f"bad key name {name!r}")
        path = self.directory / f"{name}.pem"
        if not path.exists():
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            self._write_private(path, pem)
        if path.stat().st_mode & 0o077:
            raise KeystoreError(f"{path} is readable by others; chmod 600 it")
        loaded = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise KeystoreError(f"{path} is not an Ed25519 key")
        self._loaded[name] = Ed25519Signer(loaded)
        return self._loaded[name]

    def secret(self, name: str, size: int = 32) -> bytes:
        """A symmetric key called ``name`` (created on first use), e.g. the findings worker's
        snapshot MAC key: only this deployment's processes can read it."""
        if not _NAME.fullmatch(name):
            raise KeystoreError(f"bad key name {name!r}")
        path = self.directory / f"{name}.key"
        if not path.exists():
            with contextlib.suppress(FileExistsError):  # another process made it first
                self._write_private(path, secrets.token_bytes(size))
        if path.stat().st_mode & 0o077:
            raise KeystoreError(f"{path} is readable by others; chmod 600 it")
        data = path.read_bytes()
        if len(data) < size:
            raise KeystoreError(f"{path} holds {len(data)} bytes, not {size}")
        return data

    def log_signer(self) -> Ed25519Signer:
        """The log key: checkpoints, receipts, item-head statements.

        Created on first use, but never once a rotation has begun: a missing ``log.pem``
        beside ``log-next.pem`` or a retired key is a handover cut short, and a fresh key
        would sign a history nobody can trust.

        Raises:
            KeystoreError: the log key is missing in the middle of a rotation.
        """
        if not (self.directory / "log.pem").exists() and self._rotation_files():
            raise KeystoreError(
                f"the log key is missing from {self.directory} in the middle of a rotation: "
                "run 'chemtrace log-key finish' again to complete it"
            )
        return self._published("log", "log.vkey", self.origin)

    def _rotation_files(self) -> list[Path]:
        return [*self.directory.glob("log-next.*"), *self.directory.glob("log-retired-*")]

    def log_vkey(self) -> str:
        """The log key's published vkey (what auditors and webhook receivers pin)."""
        return NoteVerifier.for_key(self.origin, self.log_signer().public_key).vkey()

    def next_log_signer(self) -> Ed25519Signer | None:
        """The incoming log key while a rotation is under way (``log-next.pem``), else None."""
        if not (self.directory / "log-next.pem").exists():
            return None
        return self._published("log-next", "log-next.vkey", self.origin)

    def begin_log_rotation(self) -> str:
        """Create the incoming log key; from now on checkpoints carry both signatures.

        Returns the new key's vkey, for witnesses and verifiers to add to their policies.

        Raises:
            KeystoreError: a rotation is already under way.
        """
        if self.next_log_signer() is not None:
            raise KeystoreError("a log key rotation is already under way (log-next.pem)")
        self.log_signer()  # the outgoing key must exist and be published
        signer = self._published("log-next", "log-next.vkey", self.origin)
        return NoteVerifier.for_key(self.origin, signer.public_key).vkey()

    def finish_log_rotation(self, last_size: int) -> str:
        """Make the incoming key the log key; the outgoing one is kept as ``log-retired-N``.

        ``last_size`` is the last tree size the outgoing key signed for (a checkpoint of that
        size must carry both signatures). Run with the service stopped: it loads keys once.

        Every step is one rename after the size file is durable, and
        :meth:`resume_log_rotation` completes a handover a crash cut short.

        Raises:
            KeystoreError: no rotation is under way.
        """
        if self.next_log_signer() is None:
            raise KeystoreError("no log key rotation is under way: begin one first")
        number = 1 + len(list(self.directory.glob("log-retired-*.json")))
        meta = self.directory / f"log-retired-{number}.json"
        write_bytes_atomic(meta, json.dumps({"last_size": last_size}).encode())
        return self._complete_rotation(number)

    def resume_log_rotation(self) -> str | None:
        """Complete a handover that a crash cut short (its size file is written); the new
        log vkey, or ``None`` when none is pending."""
        number = len(list(self.directory.glob("log-retired-*.json")))
        retired = f"log-retired-{number}"
        pending = number > 0 and (
            not (self.directory / f"{retired}.pem").exists()
            or (self.directory / "log-next.pem").exists()
        )
        return self._complete_rotation(number) if pending else None

    def _complete_rotation(self, number: int) -> str:
        folder, retired = self.directory, f"log-retired-{number}"
        for suffix in (".pem", ".vkey"):
            if (folder / f"log{suffix}").exists() and not (folder / f"{retired}{suffix}").exists():
                os.replace(folder / f"log{suffix}", folder / f"{retired}{suffix}")
        fsync_folder(folder)
        for suffix in (".pem", ".vkey"):
            if (folder / f"log-next{suffix}").exists():
                os.replace(folder / f"log-next{suffix}", folder / f"log{suffix}")
        fsync_folder(folder)
        self._loaded.clear()
        self._checked.clear()
        return self.log_vkey()

    def root_signer(self) -> Ed25519Signer:
        """The registry root key: certifies organisation keys."""
        return self._published("root", "root.vkey", ROOT_NAME)

    def _published(self, name: str, vkey_file: str, vkey_name: str) -> Ed25519Signer:
        """A signer whose public half auditors pin: publish its vkey on first load."""
        signer = self.signer(name)
        if vkey_file not in self._checked:
            self._publish(vkey_file, NoteVerifier.for_key(vkey_name, signer.public_key).vkey())
            self._checked.add(vkey_file)
        return signer

    def _publish(self, filename: str, text: str) -> None:
        path = self.directory / filename
        if not path.exists():
            path.write_text(text + "\n")
        elif path.read_text().strip() != text:
            # Auditors pin this file: a different key here means the private key was replaced.
            raise KeystoreError(f"{path} names another key than the keystore holds; refusing")

    @staticmethod
    def _write_private(path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
