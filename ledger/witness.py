"""What a C2SP witness decides (https://c2sp.org/tlog-witness), without I/O.

A witness follows logs by origin and their trusted keys. For each origin it remembers only
the latest checkpoint it cosigned. An ``add-checkpoint`` request carries the size of the
checkpoint the log believes the witness last cosigned, a consistency proof from it, and the
new checkpoint::

    old <size>
    <base64 proof hash>            (0 to 63 lines)

    <checkpoint signed note>

:func:`parse_request` reads that body strictly; :func:`judge` applies the spec's checks in
its order and returns the checkpoint to persist and cosign, or raises the refusal whose
HTTP status the spec names (see :data:`HTTP_STATUS`). The caller must hold its state lock
from :func:`judge` until the new state is durable, or two requests could roll it back
(tlog-witness §add-checkpoint). A witness never cosigns a checkpoint that does not extend
its state, so it never cosigns two different trees of one size.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ledger.checkpoint import Checkpoint, parse_tree_size
from ledger.errors import (
    InconsistentCheckpointError,
    LedgerError,
    LogSignatureError,
    NoteError,
    OldSizeConflictError,
    UnknownOriginError,
    WitnessRefusedError,
    WitnessRequestError,
)
from ledger.merkle import EMPTY_ROOT, verify_consistency
from ledger.note import NoteVerifier, decode_base64, open_note, split_note

MAX_PROOF_LINES: Final = 63

HTTP_STATUS: Final[Mapping[type[WitnessRefusedError], int]] = {
    WitnessRequestError: 400,
    LogSignatureError: 403,
    UnknownOriginError: 404,
    OldSizeConflictError: 409,
    InconsistentCheckpointError: 422,
}


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


@dataclass(frozen=True)
class Witnessed:
    """The latest checkpoint a witness cosigned for one origin, with the log's note."""

    checkpoint: Checkpoint
    note: str


def parse_request(body: bytes) -> AddCheckpoint:
    """Parse an add-checkpoint body.

    Raises:
        WitnessRequestError: the body is not old line, proof lines, blank line, note.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WitnessRequestError("request body is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise WitnessRequestError("request has no blank line before the checkpoint")
    lines = head.split("\n")
    keyword, _, old = lines[0].partition(" ")
    try:
        old_size = parse_tree_size(old) if keyword == "old" else -1
    except NoteError:
        old_size = -1
    if old_size < 0:
        raise WitnessRequestError("first line must be 'old <size>' without leading zeros")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessRequestError("more than 63 consistency proof lines", lines=len(lines) - 1)
    try:
        proof = tuple(decode_base64(line, "consistency proof line") for line in lines[1:])
    except NoteError as exc:
        raise WitnessRequestError(exc.message) from exc
    if any(len(node) != 32 for node in proof):
        raise WitnessRequestError("a consistency proof hash is not 32 bytes")
    return AddCheckpoint(old_size, proof, note)


def _open(request: AddCheckpoint, trusted: Mapping[str, Sequence[NoteVerifier]]) -> Checkpoint:
    try:
        text, _ = split_note(request.note)
        claimed = Checkpoint.from_text(text)
    except NoteError as exc:
        raise WitnessRequestError(f"checkpoint is malformed: {exc.message}") from exc
    keys = trusted.get(claimed.origin)
    if not keys:
        raise UnknownOriginError("this witness does not follow that log", origin=claimed.origin)
    try:
        open_note(request.note, list(keys))
    except NoteError as exc:
        raise LogSignatureError(exc.message, origin=claimed.origin) from exc
    return claimed


def judge(
    request: AddCheckpoint,
    trusted: Mapping[str, Sequence[NoteVerifier]],
    latest: Witnessed | None,
) -> Checkpoint:
    """Decide whether to cosign ``request`` given the latest cosigned checkpoint of its origin.

    Args:
        request: the parsed request.
        trusted: origin to the log keys the witness trusts for it.
        latest: the state for that origin, or ``None`` if it never cosigned one.

    Returns:
        The checkpoint to persist (as the new state) before cosigning it.

    Raises:
        WitnessRefusedError: the subclass names the refusal and its HTTP status.
    """
    checkpoint = _open(request, trusted)
    if request.old_size > checkpoint.size:
        raise WitnessRequestError(
            "old size exceeds the checkpoint size", old=request.old_size, size=checkpoint.size
        )
    known = 0 if latest is None else latest.checkpoint.size
    if request.old_size != known:
        raise OldSizeConflictError(latest=known, old=request.old_size)
    if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
        raise InconsistentCheckpointError("an empty tree must have the empty root")
    if request.old_size == 0:
        if request.proof:
            raise InconsistentCheckpointError("old size 0 needs an empty proof")
        return checkpoint
    assert latest is not None  # old_size == known > 0
    if checkpoint.size == known:
        if checkpoint.root_hash != latest.checkpoint.root_hash:
            raise InconsistentCheckpointError(
                "same size as the cosigned checkpoint but another root", size=known
            )
        if request.proof:  # RFC 6962 PROOF(m, D[m]) is empty; Go's tlog.CheckTree agrees
            raise InconsistentCheckpointError("equal sizes need an empty proof", size=known)
        return checkpoint
    try:
        verify_consistency(
            known,
            checkpoint.size,
            list(request.proof),
            latest.checkpoint.root_hash,
            checkpoint.root_hash,
        )
    except LedgerError as exc:
        raise InconsistentCheckpointError(
            f"consistency proof does not verify: {exc.message}", old=known, size=checkpoint.size
        ) from exc
    return checkpoint


def request_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """Encode an add-checkpoint request (the log's side)."""
    lines = [f"old {old_size}", *(base64.b64encode(node).decode("ascii") for node in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")
