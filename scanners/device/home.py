"""The device's home folder: its private keys, its profile and its outbox.

Layout (``./var/device`` under the working directory unless ``--home`` says otherwise)::

    var/device/            0700
      keys/<key_id>.pem    0600  Ed25519 PKCS#8, generated here and never sent anywhere
      profile.json         0600  server, organisation, operator, site, active key, pinned log key
      token                0600  the API token the device submits with
      outbox.sqlite              events signed on the device, waiting or sent (see outbox.py)

The private key is generated on the device; only its public half is sent, when the device is
enrolled (``POST /v1/devices``, certified by the organisation's key). Rotating creates a new
key and enrols it; old keys stay on disk so their events remain attributable, but only the
active key signs. Every file is written atomically (temporary file, fsync, rename), so a crash
leaves either the old or the new version.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from ledger.signing import Ed25519Signer
from ledger.store.files import write_bytes_atomic
from scanners.errors import ScannerError

DEFAULT_HOME = Path("var/device")


class DeviceError(ScannerError):
    """The device cannot do what was asked; ``code`` is stable, the message is for people."""

    code = "device_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotEnrolledError(DeviceError):
    code = "not_enrolled"


@dataclass(frozen=True, slots=True)
class Profile:
    """Who this device signs for, and where it sends its events."""

    server: str
    org: str
    actor: str
    key_id: str
    valid_until: str
    catalog_version: str
    log_vkey: str | None = None
    site: str | None = None

    def with_key(self, key_id: str, valid_until: str) -> Profile:
        return replace(self, key_id=key_id, valid_until=valid_until)


class DeviceHome:
    """One device's folder."""

    def __init__(self, root: Path = DEFAULT_HOME) -> None:
        self.root = root
        self.keys_dir = root / "keys"
        self.profile_path = root / "profile.json"
        self.token_path = root / "token"
        self.outbox_path = root / "outbox.sqlite"

    def prepare(self) -> None:
        """Create the home and its key folder, owner-only."""
        for directory in (self.root, self.keys_dir):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(directory, 0o700)

    # -- keys ----------------------------------------------------------------------------------

    def generate_key(self) -> Ed25519Signer:
        """A fresh key pair, stored here; the caller enrols its public half."""
        self.prepare()
        private = Ed25519PrivateKey.generate()
        signer = Ed25519Signer(private)
        pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        write_bytes_atomic(self.keys_dir / f"{signer.key_id}.pem", pem)
        return signer

    def signer(self, key_id: str) -> Ed25519Signer:
        path = self.keys_dir / f"{key_id}.pem"
        if not path.is_file():
            raise DeviceError(f"no private key {key_id} in {self.keys_dir}", code="key_missing")
        if path.stat().st_mode & 0o077:
            raise DeviceError(f"{path} is readable by others; chmod 600 it", code="key_exposed")
        private = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise DeviceError(f"{path} is not an Ed25519 key", code="key_corrupt")
        return Ed25519Signer(private)

    def active_signer(self) -> Ed25519Signer:
        return self.signer(self.profile().key_id)

    # -- profile and token ------------------------------------------------------------------

    def enrolled(self) -> bool:
        return self.profile_path.is_file()

    def profile(self) -> Profile:
        if not self.profile_path.is_file():
            raise NotEnrolledError(
                f"this device is not enrolled ({self.profile_path} is missing): "
                "run `chemtrace scan enrol` once while online"
            )
        try:
            return Profile(**json.loads(self.profile_path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise DeviceError(
                f"{self.profile_path} is unreadable: {exc}", code="profile_corrupt"
            ) from exc

    def save_profile(self, profile: Profile) -> None:
        self.prepare()
        text = json.dumps(asdict(profile), indent=2, sort_keys=True) + "\n"
        write_bytes_atomic(self.profile_path, text.encode())

    def token(self) -> str | None:
        from_env = os.environ.get("CHEMTRACE_TOKEN")
        if from_env:
            return from_env
        if self.token_path.is_file():
            return self.token_path.read_text(encoding="utf-8").strip() or None
        return None

    def save_token(self, token: str) -> None:
        write_bytes_atomic(self.token_path, token.encode() + b"\n")
