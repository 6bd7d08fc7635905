"""The log's leaf input: a small public commitment record, never the event body.

The log is public; event bodies are not. A leaf commits to an entry by hash::

    {"hash": "sha256:…", "kind": "event", "log_time": "2026-…Z", "v": 1}

encoded with RFC 8785. The RFC 9162 leaf hash is ``SHA-256(0x00 || leaf input)``.
``log_time`` is set by the log inside the append transaction; signatures and
key validity are judged at that time, never at the signer's own clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final, Literal, cast, get_args

from ledger.canonical import parse_hash
from ledger.errors import InvalidInputError
from ledger.timefmt import parse_utc

LEAF_VERSION: Final = 1
EntryKind = Literal[
    "event", "certificate", "revocation", "code_batch", "licence", "record", "signed_capture"
]
ENTRY_KINDS: Final = frozenset(get_args(EntryKind))


@dataclass(frozen=True, slots=True)
class LeafRecord:
    """What one log entry commits to."""

    kind: EntryKind
    entry_hash: bytes
    log_time: str

    def __post_init__(self) -> None:
        # encode() relies on these being plain ASCII with nothing to escape.
        if self.kind not in ENTRY_KINDS or len(self.entry_hash) != 32:
            raise InvalidInputError("bad leaf kind or hash", kind=self.kind)
        parse_utc(self.log_time)

    def encode(self) -> bytes:
        """Return the leaf input bytes: exactly the RFC 8785 encoding of the record.

        Built from a template because every field is ASCII with nothing to escape (a hex
        digest, a literal kind, a validated RFC 3339 time); a property test pins the
        equality with ``canonical_bytes``.
        """
        return leaf_input(self.kind, self.entry_hash, self.log_time)


def leaf_input(kind: str, entry_hash: bytes, log_time: str) -> bytes:
    """The leaf input of a record with these fields, which must be valid (as
    :class:`LeafRecord` checks): the template :meth:`LeafRecord.encode` uses."""
    return (
        f'{{"hash":"sha256:{entry_hash.hex()}","kind":"{kind}",'
        f'"log_time":"{log_time}","v":{LEAF_VERSION}}}'
    ).encode()


def decode_leaf(data: bytes) -> LeafRecord:
    """Parse leaf input bytes strictly; they must re-encode to the same bytes.

    Raises:
        InvalidInputError: the bytes are not a canonical leaf record.
    """
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError("leaf input is not JSON") from exc
    if not isinstance(parsed, dict) or set(parsed) != {"hash", "kind", "log_time", "v"}:
        raise InvalidInputError("leaf input has the wrong fields")
    if (
        type(parsed["v"]) is not int
        or parsed["v"] != LEAF_VERSION
        or not isinstance(parsed["kind"], str)
        or parsed["kind"] not in ENTRY_KINDS
    ):
        raise InvalidInputError("unknown leaf version or kind", kind=parsed.get("kind"))
    if not isinstance(parsed["hash"], str) or not isinstance(parsed["log_time"], str):
        raise InvalidInputError("leaf fields have the wrong types")
    parse_utc(parsed["log_time"])
    record = LeafRecord(
        cast(EntryKind, parsed["kind"]), parse_hash(parsed["hash"]), parsed["log_time"]
    )
    if record.encode() != data:
        raise InvalidInputError("leaf input is not in canonical form")
    return record
