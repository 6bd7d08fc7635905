"""The keys an inspector kit trusts: the registry root key and the log key, pinned once.

Both are C2SP verifier keys (``name+hexid+base64``) in ``trust/root.vkey`` and
``trust/log.vkey`` under the kit home, with ``trust/pinned.json`` recording where each
came from and when (for people; it is not trusted). Keys are pinned from files the
registry published, or the log key is taken from a server on first use, and only
with an explicit flag (see :mod:`scanners.cli_inspect`). Once pinned, a different key
is refused unless the caller asks to replace it: a kit never changes trust silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ledger.errors import LedgerError
from ledger.note import NoteVerifier, parse_vkey
from scanners.errors import ScannerError
from scanners.files import KitFileError, read_json, write_json_atomic, write_text_atomic

ROOT_FILE: Final = "root.vkey"
LOG_FILE: Final = "log.vkey"
PROVENANCE_FILE: Final = "pinned.json"


class TrustError(ScannerError):
    """The kit's trusted keys are missing, malformed or would change."""


class TrustNotPinnedError(TrustError):
    """No key is pinned yet: the kit cannot verify anything."""


class TrustConflictError(TrustError):
    """Pinning would replace a different key that is already trusted."""


def fingerprint(verifier: NoteVerifier) -> str:
    """SHA-256 of the public key, in groups of four hex digits, for reading aloud."""
    digest = hashlib.sha256(verifier.public_key).hexdigest()
    return " ".join(digest[start : start + 4] for start in range(0, len(digest), 4))


def parse_vkey_text(text: str, where: str) -> NoteVerifier:
    """A verifier key from its text.

    Raises:
        TrustError: the text is not an Ed25519 C2SP vkey.
    """
    try:
        return parse_vkey(text.strip())
    except LedgerError as exc:
        raise TrustError(f"{where} is not a C2SP verifier key: {exc.message}") from exc


def read_vkey_file(path: Path) -> NoteVerifier:
    """Read a vkey file.

    Raises:
        TrustError: the file is missing, unreadable or malformed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustError(f"cannot read the key file {path} ({exc})") from exc
    return parse_vkey_text(text, str(path))


@dataclass(frozen=True, slots=True)
class PinnedKey:
    """One pinned key and where it came from."""

    verifier: NoteVerifier
    source: str
    pinned_at: str | None = None


@dataclass(frozen=True, slots=True)
class PinnedTrust:
    """The registry root key (labels and certificates) and the log key (checkpoints)."""

    root: PinnedKey
    log: PinnedKey

    @property
    def root_public_key(self) -> bytes:
        return self.root.verifier.public_key

    @property
    def log_verifier(self) -> NoteVerifier:
        return self.log.verifier

    @property
    def origin(self) -> str:
        """The log this kit follows: the log key's name is the checkpoint origin."""
        return self.log.verifier.name


class TrustFolder:
    """``trust/`` under the kit home."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def pinned(self) -> bool:
        return (self.folder / ROOT_FILE).exists() and (self.folder / LOG_FILE).exists()

    def load(self) -> PinnedTrust:
        """The pinned keys.

        Raises:
            TrustNotPinnedError: a key is not pinned yet.
            TrustError: a pinned key file is malformed.
        """
        if not self.pinned():
            raise TrustNotPinnedError(
                f"no keys are pinned in {self.folder}: run `chemtrace scan trust --root-key FILE "
                "--log-key FILE` (or --server URL --trust-on-first-use for the log key)"
            )
        provenance = self._provenance()
        return PinnedTrust(
            root=self._key(ROOT_FILE, "root", provenance),
            log=self._key(LOG_FILE, "log", provenance),
        )

    def pin(
        self, *, root: PinnedKey | None, log: PinnedKey | None, replace: bool = False
    ) -> PinnedTrust:
        """Pin either key or both; keys already pinned stay unless ``replace``.

        Raises:
            TrustConflictError: a different key is pinned and ``replace`` is false.
            TrustNotPinnedError: after this call a key would still be missing.
        """
        provenance = self._provenance()
        for name, filename, key in (("root", ROOT_FILE, root), ("log", LOG_FILE, log)):
            if key is None:
                continue
            path = self.folder / filename
            if path.exists() and not replace:
                current = read_vkey_file(path)
                if current != key.verifier:
                    raise TrustConflictError(
                        f"a different {name} key is already pinned ({current.vkey()}); "
                        "pass --replace to trust the new one instead"
                    )
                continue
            write_text_atomic(path, key.verifier.vkey() + "\n")
            provenance[name] = {"source": key.source, "pinned_at": key.pinned_at}
        write_json_atomic(self.folder / PROVENANCE_FILE, provenance)
        return self.load()

    def _key(
        self, filename: str, name: str, provenance: dict[str, dict[str, str | None]]
    ) -> PinnedKey:
        recorded = provenance.get(name, {})
        return PinnedKey(
            read_vkey_file(self.folder / filename),
            source=recorded.get("source") or "unknown",
            pinned_at=recorded.get("pinned_at"),
        )

    def _provenance(self) -> dict[str, dict[str, str | None]]:
        path = self.folder / PROVENANCE_FILE
        if not path.exists():
            return {}
        try:
            document = read_json(path, "key provenance")
        except KitFileError:
            return {}  # provenance is for people; the keys themselves are what count
        if not isinstance(document, dict):
            return {}
        return {
            str(name): {str(k): v if isinstance(v, str) else None for k, v in entry.items()}
            for name, entry in document.items()
            if isinstance(entry, dict)
        }
