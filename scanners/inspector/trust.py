"""What an inspector kit trusts: the registry root key, the log key and a witness policy.

The keys are C2SP verifier keys (``name+hexid+base64``) in ``trust/root.vkey`` and
``trust/log.vkey`` under the kit home, with ``trust/pinned.json`` recording where each
came from and when (for people; it is not trusted). Keys are pinned from files the
registry published, or the log key is taken from a server on first use, and only
with an explicit flag (see :mod:`scanners.cli_inspect`). Once pinned, a different key
is refused unless the caller asks to replace it: a kit never changes trust silently.

Optionally ``trust/witness-policy`` pins a C2SP tlog-policy file (``docs/witness-policy.md``)
under the same discipline. With it, a checkpoint counts only when the policy's quorum of
witnesses cosigned it, and the policy's ``log`` keys (old and new during a rotation)
decide which log keys may have signed; without ``log`` lines the pinned log key does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ledger.errors import LedgerError
from ledger.note import NoteVerifier, parse_vkey
from ledger.witness_policy import WitnessPolicy, parse_policy
from scanners.errors import ScannerError
from scanners.files import KitFileError, read_json, write_json_atomic, write_text_atomic

ROOT_FILE: Final = "root.vkey"
LOG_FILE: Final = "log.vkey"
POLICY_FILE: Final = "witness-policy"
PROVENANCE_FILE: Final = "pinned.json"
_POLICY: Final = "witness-policy"
"""The policy's name in ``pinned.json``."""


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
class PinnedPolicy:
    """A pinned witness policy: its exact text (what is compared), parsed, and its source."""

    text: str
    policy: WitnessPolicy
    source: str
    pinned_at: str | None = None

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the file, like a key's, so two people can compare what they pinned."""
        digest = hashlib.sha256(self.text.encode("utf-8")).hexdigest()
        return " ".join(digest[start : start + 4] for start in range(0, len(digest), 4))


def parse_policy_text(text: str, where: str) -> WitnessPolicy:
    """A witness policy from its text.

    Raises:
        TrustError: the text is not a valid policy (the error names the line).
    """
    try:
        return parse_policy(text)
    except LedgerError as exc:
        raise TrustError(f"{where} is not a valid witness policy: {exc.message}") from exc


def read_policy_file(path: Path, source: str, pinned_at: str | None = None) -> PinnedPolicy:
    """Read and parse a witness policy file.

    Raises:
        TrustError: the file is missing, unreadable or malformed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustError(f"cannot read the witness policy {path} ({exc})") from exc
    return PinnedPolicy(text, parse_policy_text(text, str(path)), source, pinned_at)


@dataclass(frozen=True, slots=True)
class PinnedTrust:
    """The registry root key (labels and certificates), the log key (checkpoints) and,
    when pinned, the witness policy checkpoints must also satisfy."""

    root: PinnedKey
    log: PinnedKey
    witness_policy: PinnedPolicy | None = None

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

    @property
    def policy(self) -> WitnessPolicy | None:
        return None if self.witness_policy is None else self.witness_policy.policy

    @property
    def log_verifiers(self) -> list[NoteVerifier]:
        """The keys a checkpoint of this log may be signed with: the policy's ``log`` keys
        for the origin (old and new during a rotation), else the pinned log key."""
        policy = self.policy
        listed = (
            []
            if policy is None
            else [log.verifier for log in policy.logs if log.verifier.name == self.origin]
        )
        return listed or [self.log_verifier]


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
            witness_policy=self._policy(provenance),
        )

    def pin(
        self,
        *,
        root: PinnedKey | None,
        log: PinnedKey | None,
        policy: PinnedPolicy | None = None,
        replace: bool = False,
    ) -> PinnedTrust:
        """Pin either key or both, and a witness policy if given; what is already pinned
        stays unless ``replace``. Every conflict is checked before anything is written.

        Raises:
            TrustConflictError: a different key or policy is pinned and ``replace`` is false.
            TrustError: the policy lists log keys, but none for the log this kit follows.
            TrustNotPinnedError: after this call a key would still be missing.
        """
        provenance = self._provenance()
        fresh: list[tuple[str, str, PinnedKey]] = []
        for name, filename, key in (("root", ROOT_FILE, root), ("log", LOG_FILE, log)):
            if key is not None and self._new_key(name, filename, key, replace):
                fresh.append((name, filename, key))
        if policy is not None:
            self._check_policy_covers(policy, log)
        if policy is not None and self._new_policy(policy, replace):
            write_text_atomic(self.folder / POLICY_FILE, policy.text)
            provenance[_POLICY] = {"source": policy.source, "pinned_at": policy.pinned_at}
        for name, filename, key in fresh:
            write_text_atomic(self.folder / filename, key.verifier.vkey() + "\n")
            provenance[name] = {"source": key.source, "pinned_at": key.pinned_at}
        write_json_atomic(self.folder / PROVENANCE_FILE, provenance)
        return self.load()

    def _new_key(self, name: str, filename: str, key: PinnedKey, replace: bool) -> bool:
        """Whether ``key`` is to be written: not pinned yet, or replacing (conflicts raise)."""
        path = self.folder / filename
        if not path.exists() or replace:
            return True
        current = read_vkey_file(path)
        if current != key.verifier:
            raise TrustConflictError(
                f"a different {name} key is already pinned ({current.vkey()}); "
                "pass --replace to trust the new one instead"
            )
        return False

    def _new_policy(self, policy: PinnedPolicy, replace: bool) -> bool:
        path = self.folder / POLICY_FILE
        if not path.exists() or replace:
            return True
        current = read_policy_file(path, "pinned")
        if current.text != policy.text:
            raise TrustConflictError(
                f"a different witness policy is already pinned (fingerprint "
                f"{current.fingerprint}); pass --replace to trust the new one instead"
            )
        return False

    def _check_policy_covers(self, policy: PinnedPolicy, log: PinnedKey | None) -> None:
        """A policy that lists logs must list the kit's, or it would refuse every bundle."""
        if log is None and not (self.folder / LOG_FILE).exists():
            return  # the log key comes later; verification will say so if it never matches
        origin = (log or self._key(LOG_FILE, "log", {})).verifier.name
        logs = policy.policy.logs
        if logs and all(entry.verifier.name != origin for entry in logs):
            raise TrustError(
                f"the witness policy lists no key for the log this kit follows ({origin}); "
                "pin the policy your registry published for it"
            )

    def _policy(self, provenance: dict[str, dict[str, str | None]]) -> PinnedPolicy | None:
        """The pinned policy, or ``None``; a malformed one is an error, never ignored."""
        path = self.folder / POLICY_FILE
        if not path.exists():
            return None
        recorded = provenance.get(_POLICY, {})
        return read_policy_file(
            path, recorded.get("source") or "unknown", recorded.get("pinned_at")
        )

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
