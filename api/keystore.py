"""The development file keystore under ``./var/keys`` (never in git).

Private keys are PKCS#8 PEM files readable only by their owner; the folder is
0700. Each key is reached only as a :class:`ledger.signing.Signer`. Public
halves are also written as C2SP vkeys (``root.vkey``, ``log.vkey``) so that
auditors can pin them with ``--root-key`` / ``--log-key``.

A production deployment replaces this with an HSM or KMS signer.
"""

from __future__ import annotations

import json
import os
import re
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
    return TrustedKeys(log=log, root_algorithm=ED25519, root_public_key=root.public_key)


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

    def log_signer(self) -> Ed25519Signer:
        """The log key: checkpoints, receipts, item-head statements."""
        return self._published("log", "log.vkey", self.origin)

    def log_vkey(self) -> str:
        """The log key's published vkey (what auditors and webhook receivers pin)."""
        return NoteVerifier.for_key(self.origin, self.log_signer().public_key).vkey()

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
