"""The witness's own state: one folder of files, sharing nothing with the ledger's database.

::

    DIR/lock                 exclusive fcntl lock (and the holder's pid): one process per DIR
    DIR/<sha256(origin)>     per log, the latest checkpoint this witness cosigned, as a note:
                             the checkpoint text, the log signatures it verified, its cosignature
    DIR/evidence.jsonl       append-only: refused submissions that carried a valid log
                             signature but did not extend the state (possible forks)

Why files: a witness run by another party must not depend on the log operator's database,
and its state is tiny (one checkpoint per log). Each cosignature costs exactly one durable
write (:func:`ledger.store.files.write_bytes_atomic`: temp file, fsync, rename, fsync of the
folder), done *before* the cosignature is returned, so a crash at any moment leaves either
the old state or the new, and never a returned cosignature the state does not cover.

The spec's atomicity race (tlog-witness §add-checkpoint: two requests checked against the
same state, the later write rolling the earlier back) is closed by :attr:`Witness._lock`,
held from reading the state through :func:`ledger.witness.judge` to the durable write. The
fcntl lock makes that lock process-wide for the folder: a second process (or a second
:class:`Witness` in this one) on the same folder refuses to start.

On start every state file is read and verified: it must parse, be named for its origin, verify
with a trusted log key and carry a valid cosignature from this witness's key. If one does
not, the witness refuses to start; it never silently resets what it has vouched for.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ledger.checkpoint import Checkpoint
from ledger.cosignature import CosignerVerifier, attach, cosign, verify_cosignature
from ledger.errors import (
    InconsistentCheckpointError,
    LedgerError,
    OldSizeConflictError,
    WitnessRefusedError,
)
from ledger.note import NoteVerifier, open_note, split_note
from ledger.signing import Signer
from ledger.store.files import fsync_folder, write_bytes_atomic
from ledger.witness import AddCheckpoint, Witnessed, judge, parse_request

LOCK_NAME: Final = "lock"
EVIDENCE_NAME: Final = "evidence.jsonl"
_STATE_NAME: Final = re.compile(r"[0-9a-f]{64}")
_LEFTOVER: Final = re.compile(r"\.[0-9a-f]{64}\..+")
"""What ``write_bytes_atomic`` names its temp file: a crash before the rename leaves one."""
_log = logging.getLogger("chemtrace.witness")


class WitnessStateError(Exception):
    """The witness cannot start or cannot go on; the message says why and what to do."""


class StateInUseError(WitnessStateError):
    """Another process holds the state folder's lock."""


class StateCorruptError(WitnessStateError):
    """A state file does not verify; the witness refuses to start rather than reset."""


class WitnessUnavailableError(WitnessStateError):
    """A durable write failed: the witness stops cosigning until it is restarted."""


def origin_hash(origin: str) -> str:
    """Return ``hex(SHA-256(origin))``: the state file's name and the monitoring URL's path."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Cosigned:
    """The latest checkpoint this witness cosigned for one log."""

    checkpoint: Checkpoint
    note: str
    """The checkpoint text, the log signatures that verified, and this witness's cosignature."""
    timestamp: int
    """The cosignature's timestamp: later ones for this log never go below it."""

    def witnessed(self) -> Witnessed:
        return Witnessed(self.checkpoint, self.note)


# --- the folder lock -----------------------------------------------------------------


class _FolderLock:
    """An exclusive, non-blocking ``flock`` on ``DIR/lock``, held until :meth:`release`."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor: int | None = descriptor

    @classmethod
    def acquire(cls, directory: Path) -> _FolderLock:
        path = directory / LOCK_NAME
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(descriptor)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise StateInUseError(
                f"the witness state folder {directory} is in use by another witness process "
                f"(pid {holder}); two witnesses must never share a state folder"
            ) from exc
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        return cls(descriptor)

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the descriptor drops the flock
            self._descriptor = None


# --- the evidence file ---------------------------------------------------------------


class _EvidenceFile:
    """JSON lines, each appended with one ``write`` and fsynced before the refusal is sent."""

    def __init__(self, path: Path) -> None:
        existed = path.exists()
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._descriptor: int | None = descriptor
        if not existed:
            fsync_folder(path.parent)
        elif _ends_torn(path):  # a crash mid-append: start the next record on its own line
            os.write(descriptor, b"\n")
            os.fsync(descriptor)

    def append(self, entry: Mapping[str, object]) -> None:
        if self._descriptor is None:
            raise OSError(errno.EBADF, "the evidence file is closed")
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
        os.write(self._descriptor, line.encode("utf-8"))
        os.fsync(self._descriptor)

    def close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def read_evidence(directory: Path) -> list[dict[str, object]]:
    """Return the evidence records in ``directory``, skipping a line torn by a crash."""
    path = directory / EVIDENCE_NAME
    if not path.exists():
        return []
    records: list[dict[str, object]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                records.append(value)
    return records


# --- loading -------------------------------------------------------------------------


def _corrupt(path: Path, why: str) -> StateCorruptError:
    return StateCorruptError(
        f"{path}: {why}; refusing to start (a witness never silently resets its state: "
        "fix the configuration, or move the file away knowingly)"
    )


def _load(
    path: Path, trusted: Mapping[str, Sequence[NoteVerifier]], cosigner: CosignerVerifier
) -> Cosigned:
    try:
        note = path.read_text(encoding="utf-8")
        text, lines = split_note(note)
        checkpoint = Checkpoint.from_text(text)
    except (UnicodeDecodeError, LedgerError) as exc:
        raise _corrupt(path, f"not a signed checkpoint ({exc})") from exc
    if origin_hash(checkpoint.origin) != path.name:
        raise _corrupt(path, f"holds the checkpoint of another origin, {checkpoint.origin!r}")
    keys = trusted.get(checkpoint.origin)
    if not keys:
        raise _corrupt(path, f"no --log-key is configured for its origin {checkpoint.origin!r}")
    try:
        open_note(note, list(keys))
    except LedgerError as exc:
        raise _corrupt(path, f"does not verify with a trusted log key ({exc})") from exc
    ours = [line for line in lines if (line.name, line.key_id) == (cosigner.name, cosigner.key_id)]
    if not ours:
        raise _corrupt(path, f"carries no cosignature from this witness key ({cosigner.vkey()})")
    try:
        stamps = [verify_cosignature(cosigner, text, line).timestamp for line in ours]
    except LedgerError as exc:
        raise _corrupt(path, f"its cosignature does not verify ({exc})") from exc
    return Cosigned(checkpoint, note, max(stamps))


def _load_folder(
    directory: Path, trusted: Mapping[str, Sequence[NoteVerifier]], cosigner: CosignerVerifier
) -> dict[str, Cosigned]:
    records: dict[str, Cosigned] = {}
    for path in sorted(directory.iterdir()):
        if _LEFTOVER.fullmatch(path.name):  # a temp file a crash left before its rename
            path.unlink()
        elif _STATE_NAME.fullmatch(path.name):
            record = _load(path, trusted, cosigner)
            records[record.checkpoint.origin] = record
    return records


def _stored_note(note: str, keys: Sequence[NoteVerifier], cosignature: str) -> str:
    """Keep the checkpoint text and the log signatures that verified, and add ours.

    Other lines (other witnesses' cosignatures, anything appended on the way) are dropped:
    nothing vouches for them, and a junk line claiming this witness's key would make the
    stored state unverifiable on the next start.
    """
    text, parsed = split_note(note)
    sent = note[len(text) + 1 :].split("\n")[:-1]
    known = {(key.name, key.key_id) for key in keys}
    kept = [
        raw for raw, line in zip(sent, parsed, strict=True) if (line.name, line.key_id) in known
    ]
    return attach(text + "\n" + "".join(f"{raw}\n" for raw in kept), [cosignature])


# --- the witness ---------------------------------------------------------------------


class Witness:
    """One witness process: its key, the logs it follows, and its state folder.

    Open it with :meth:`open`; :meth:`close` drops the folder lock.
    """

    def __init__(
        self,
        directory: Path,
        lock: _FolderLock,
        evidence: _EvidenceFile,
        records: dict[str, Cosigned],
        trusted: Mapping[str, Sequence[NoteVerifier]],
        name: str,
        signer: Signer,
        clock: Callable[[], float],
    ) -> None:
        self.directory = directory
        self._folder_lock = lock
        self._evidence = evidence
        self._records = records
        self._trusted = trusted
        self._name = name
        self._signer = signer
        self._clock = clock
        self._lock = threading.Lock()
        self._failure: str | None = None
        self.cosigner = CosignerVerifier.for_key(name, signer.public_key)

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        name: str,
        signer: Signer,
        trusted: Mapping[str, Sequence[NoteVerifier]],
        clock: Callable[[], float] = time.time,
    ) -> Witness:
        """Lock ``directory`` (creating it, 0700), then load and verify its state.

        Raises:
            StateInUseError: another process holds the folder.
            StateCorruptError: a state file does not verify.
            ledger.errors.NoteError: ``name`` is not a valid key name, or the key not Ed25519.
        """
        cosigner = CosignerVerifier.for_key(name, signer.public_key)
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
            fsync_folder(directory.parent)
        lock = _FolderLock.acquire(directory)
        try:
            records = _load_folder(directory, trusted, cosigner)
            evidence = _EvidenceFile(directory / EVIDENCE_NAME)
        except BaseException:
            lock.release()
            raise
        return cls(directory, lock, evidence, records, dict(trusted), name, signer, clock)

    def close(self) -> None:
        """Release the folder (the next process may open it)."""
        with self._lock:
            self._evidence.close()
            self._folder_lock.release()

    @property
    def healthy(self) -> bool:
        """False once a durable write failed: the witness then refuses to cosign."""
        return self._failure is None

    def latest(self, origin: str) -> Cosigned | None:
        """The latest checkpoint cosigned for ``origin``, if any."""
        with self._lock:
            return self._records.get(origin)

    def cosigned_note(self, hashed_origin: str) -> str | None:
        """The latest cosigned checkpoint of the log whose origin hashes to ``hashed_origin``."""
        with self._lock:
            for origin, record in self._records.items():
                if origin_hash(origin) == hashed_origin:
                    return record.note
        return None

    def add_checkpoint(self, body: bytes) -> str:
        """Judge an add-checkpoint body; on success persist the new state, then return the
        cosignature line (ending in a newline).

        Raises:
            WitnessRefusedError: the refusal, whose type gives the HTTP status
                (``ledger.witness.HTTP_STATUS``).
            WitnessUnavailableError: an earlier or this durable write failed.
        """
        request = parse_request(body)
        origin = request.note.partition("\n")[0]
        with self._lock:
            if self._failure is not None:
                raise WitnessUnavailableError(self._failure)
            latest = self._records.get(origin)
            try:
                checkpoint = judge(
                    request, self._trusted, None if latest is None else latest.witnessed()
                )
            except (OldSizeConflictError, InconsistentCheckpointError) as exc:
                self._keep_evidence(exc, request, latest)
                raise
            text, _ = split_note(request.note)
            timestamp = max(int(self._clock()), 0 if latest is None else latest.timestamp, 1)
            line = cosign(text, self._name, self._signer, timestamp)
            record = Cosigned(
                checkpoint, _stored_note(request.note, self._trusted[origin], line), timestamp
            )
            self._durably(lambda: write_bytes_atomic(self._path(origin), record.note.encode()))
            self._records[origin] = record
            return line

    def _path(self, origin: str) -> Path:
        return self.directory / origin_hash(origin)

    def _durably(self, write: Callable[[], None]) -> None:
        try:
            write()
        except OSError as exc:
            self._failure = f"a durable write failed ({exc}); restart the witness"
            _log.error("witness storage failed: %s", exc)
            raise WitnessUnavailableError(self._failure) from exc

    def _keep_evidence(
        self, refusal: WitnessRefusedError, request: AddCheckpoint, latest: Cosigned | None
    ) -> None:
        """Append a refusal whose log signature verified but which does not extend the state.

        409s count only when the checkpoint is not larger than the state (a same-size other
        root is a fork; a smaller one is a rollback whose root cannot be checked here); a
        stale old size for a larger checkpoint is an ordinary race, not evidence.
        """
        checkpoint = Checkpoint.from_text(split_note(request.note)[0])  # judge verified it
        stored = None if latest is None else latest.checkpoint
        if stored is not None and checkpoint.size == stored.size:
            kind = "fork" if checkpoint.root_hash != stored.root_hash else "inconsistent"
        elif stored is not None and checkpoint.size < stored.size:
            kind = "rollback"
        else:
            kind = "inconsistent"
        status = 409 if isinstance(refusal, OldSizeConflictError) else 422
        if status == 409 and kind not in ("fork", "rollback"):
            return
        entry: dict[str, object] = {
            "recorded_at": int(self._clock()),
            "status": status,
            "kind": kind,
            "reason": refusal.message,
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": _b64(checkpoint.root_hash),
            "old": request.old_size,
            "cosigned_size": None if stored is None else stored.size,
            "cosigned_root": None if stored is None else _b64(stored.root_hash),
            "note": request.note,
            "proof": [_b64(node) for node in request.proof],
        }
        self._durably(lambda: self._evidence.append(entry))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
