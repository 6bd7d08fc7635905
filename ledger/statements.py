"""Log-signed statements other than checkpoints: receipts and item-head statements.

* A **receipt** is the log's signed promise on accepting an entry: its hash,
  leaf hash, index and log time. Inclusion in a checkpoint follows.
* An **item-head statement** says "as of checkpoint N (root R), item X's head is
  seq k with hash h". Inclusion proofs show an event is in the log; head
  statements show that nothing newer was left out of a bundle.

Both are JCS objects signed by the log key with their own domain prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ledger.canonical import (
    ITEM_HEAD,
    RECEIPT,
    JsonValue,
    b64decode,
    b64encode,
    canonical_string,
    format_hash,
    parse_hash,
    signing_input,
)
from ledger.errors import InvalidInputError
from ledger.signing import Signer, verify_signature


@dataclass(frozen=True, slots=True)
class Receipt:
    """The log's signed promise that an entry was appended."""

    origin: str
    entry_hash: bytes
    leaf_hash: bytes
    index: int
    log_time: str
    signature: bytes = b""

    def payload(self) -> dict[str, JsonValue]:
        """The signed fields, as JSON."""
        return {
            "entry_hash": format_hash(self.entry_hash),
            "index": self.index,
            "leaf_hash": format_hash(self.leaf_hash),
            "log_time": self.log_time,
            "origin": self.origin,
        }

    def signing_input(self) -> bytes:
        """``RECEIPT || JCS(payload)``, built from a template on the hot path.

        Every field but the origin is ASCII with nothing to escape; the origin's JCS
        encoding is computed once. A property test pins equality with the generic encoder.
        """
        return (
            RECEIPT
            + f'{{"entry_hash":"sha256:{self.entry_hash.hex()}","index":{self.index},'
            f'"leaf_hash":"sha256:{self.leaf_hash.hex()}","log_time":"{self.log_time}",'
            f'"origin":'.encode()
            + canonical_string(self.origin)
            + b"}"
        )

    def signed_by(self, signer: Signer) -> Receipt:
        """Return this receipt with the log's signature."""
        return replace(self, signature=signer.sign(self.signing_input()))

    def verify(self, algorithm: str, public_key: bytes) -> None:
        """Raises SignatureInvalidError unless the log key signed this receipt."""
        verify_signature(algorithm, public_key, self.signing_input(), self.signature)

    def to_json(self) -> dict[str, JsonValue]:
        """The receipt as API JSON."""
        return {**self.payload(), "signature": b64encode(self.signature)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Receipt:
        """The inverse of :meth:`to_json` (for receipts this system wrote; not a verifier).

        Raises:
            InvalidInputError: a field is missing or malformed.
        """
        try:
            return cls(
                origin=str(raw["origin"]), entry_hash=parse_hash(raw["entry_hash"]),
                leaf_hash=parse_hash(raw["leaf_hash"]), index=int(raw["index"]),
                log_time=str(raw["log_time"]), signature=b64decode(raw["signature"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"malformed receipt: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class ItemHeadStatement:
    """The log's signed word on an item's chain head at one checkpoint."""

    origin: str
    checkpoint_size: int
    root_hash: bytes
    item: str
    seq: int
    head_hash: bytes
    signature: bytes = b""

    def payload(self) -> dict[str, JsonValue]:
        """The signed fields, as JSON."""
        return {
            "checkpoint_size": self.checkpoint_size,
            "head": format_hash(self.head_hash),
            "item": self.item,
            "origin": self.origin,
            "root": b64encode(self.root_hash),
            "seq": self.seq,
        }

    def sign(self, signer: Signer) -> bytes:
        """Return the log's signature over this statement."""
        return signer.sign(signing_input(ITEM_HEAD, self.payload()))

    def verify(self, algorithm: str, public_key: bytes) -> None:
        """Raises SignatureInvalidError unless the log key signed this statement."""
        message = signing_input(ITEM_HEAD, self.payload())
        verify_signature(algorithm, public_key, message, self.signature)

    def to_json(self) -> dict[str, JsonValue]:
        """The statement as API/bundle JSON."""
        return {**self.payload(), "signature": b64encode(self.signature)}


def signature_from_json(value: JsonValue) -> bytes:
    """Decode a base64 signature field from API or bundle JSON."""
    if not isinstance(value, str):
        raise TypeError("signature must be a base64 string")
    return b64decode(value)
