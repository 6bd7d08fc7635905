"""C2SP transparency log checkpoints (https://c2sp.org/tlog-checkpoint).

A checkpoint is the body of a signed note (:mod:`ledger.note`)::

    <origin>
    <tree size, decimal, no leading zeros>
    <base64 RFC 9162 root hash>
    [<extension line>...]

Parsing is strict: a non-empty origin, a canonical decimal size below
``2**64``, a canonical base64 root of exactly 32 bytes and non-empty extension
lines. This module performs no I/O.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ledger.errors import NoteError
from ledger.merkle import HASH_SIZE
from ledger.note import NoteVerifier, check_note_chars, decode_base64, open_note, sign_note
from ledger.signing import Signer

MAX_TREE_SIZE: Final = 2**64 - 1
_SIZE_PATTERN: Final = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)


def _check_line(what: str, line: str) -> None:
    """A checkpoint line is non-empty note text without newlines (tlog-checkpoint §Note text)."""
    if not line:
        raise NoteError(f"checkpoint {what} must not be empty")
    if "\n" in line:
        raise NoteError(f"checkpoint {what} must be a single line")
    check_note_chars(line)


def parse_tree_size(line: str) -> int:
    """A tree size as C2SP writes it: ASCII decimal, no leading zeros, below ``2**64``.

    Raises:
        NoteError: the text is not such a size.
    """
    if not _SIZE_PATTERN.fullmatch(line):
        raise NoteError("checkpoint size must be decimal without leading zeros", size=line)
    return int(line)


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed tree head: origin, tree size, RFC 9162 root hash and extensions.

    Raises:
        NoteError: on construction, when a field is malformed.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError("checkpoint size must be in [0, 2**64)", size=self.size)
        if len(self.root_hash) != HASH_SIZE:
            raise NoteError("checkpoint root hash must be 32 bytes", length=len(self.root_hash))
        for extension in self.extensions:
            _check_line("extension line", extension)

    def to_text(self) -> str:
        """Return the note text: ``origin\\nsize\\nbase64(root)\\n`` plus extension lines."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "".join(f"{line}\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text strictly (C2SP tlog-checkpoint §Note text).

        Raises:
            NoteError: the text is not a well-formed checkpoint body.
        """
        if not text.endswith("\n"):
            raise NoteError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("checkpoint needs origin, size and root hash lines")
        origin, size_line, root_line, *extensions = lines
        size = parse_tree_size(size_line)
        root_hash = decode_base64(root_line, "checkpoint root hash")
        return cls(origin, size, root_hash, tuple(extensions))


def claimed_size(note: str) -> int:
    """The tree size a checkpoint note's second line claims, unverified.

    For choosing which keys may have signed it, or ordering notes before they are opened;
    never a substitute for :func:`open_checkpoint`.

    Raises:
        NoteError: the second line is not a canonical decimal size.
    """
    lines = note.split("\n", 2)
    if len(lines) < 3:
        raise NoteError("checkpoint needs origin, size and root hash lines")
    return parse_tree_size(lines[1])


def sign_checkpoint(
    checkpoint: Checkpoint, name: str, signer: Signer, also: Sequence[Signer] = ()
) -> str:
    """Return ``checkpoint`` as a signed note signed by ``signer`` under key ``name``.

    ``also`` adds signature lines from further keys of the same name: during a log-key
    rotation every checkpoint carries the old and the new key's signature, so verifiers
    pinning either accept it.

    Raises:
        NoteError: the name or a signer is unsuitable.
    """
    note = sign_note(checkpoint.to_text(), name, signer)
    for extra in also:
        line = sign_note(checkpoint.to_text(), name, extra).rsplit("\n\n", 1)[1]
        note += line
    return note


def open_checkpoint(
    note: str,
    verifier: NoteVerifier | Sequence[NoteVerifier],
    expected_origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint with ``verifier`` and parse its body.

    Args:
        note: the signed note.
        verifier: the log's trusted key (or keys, around a rotation: one must have signed,
            and every one that signed must verify); other signatures are ignored.
        expected_origin: when given, the origin line must equal it.

    Raises:
        NoteError: the note or checkpoint is malformed, the signature fails,
            or the origin differs from ``expected_origin``.
    """
    keys = [verifier] if isinstance(verifier, NoteVerifier) else list(verifier)
    checkpoint = Checkpoint.from_text(open_note(note, keys).text)
    if expected_origin is not None and checkpoint.origin != expected_origin:
        raise NoteError(
            "checkpoint origin differs from the expected log",
            expected=expected_origin,
            computed=checkpoint.origin,
        )
    return checkpoint
