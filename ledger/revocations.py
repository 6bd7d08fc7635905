"""Key revocations: signed, logged, and judged by log order.

A revocation says "key K is not to be trusted from time T", signed by the registry root
(any key) or by an organisation key (that organisation's device keys). Revocations are
log entries (leaf kind ``revocation``): an event is judged against the revocations logged
*before* it. A revocation logged later with an earlier effective time (a compromise found
after the fact) does not make accepted events damaged; the anomaly engine reports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ledger.canonical import REVOCATION, JsonValue, b64decode, b64encode, domain_hash, signing_input
from ledger.errors import InvalidInputError
from ledger.signing import Signer, verify_signature
from ledger.timefmt import parse_utc

REVOCATION_VERSION = 1
_FIELDS = ("effective_from", "issuer", "key_id", "org", "reason", "v")


@dataclass(frozen=True, slots=True)
class Revocation:
    """A signed statement that a key is untrusted from ``effective_from`` on."""

    key_id: str
    org: str
    effective_from: str
    reason: str
    issuer: str
    signature: bytes = b""

    def payload(self) -> dict[str, JsonValue]:
        """The signed fields, as JSON."""
        return {
            "effective_from": self.effective_from,
            "issuer": self.issuer,
            "key_id": self.key_id,
            "org": self.org,
            "reason": self.reason,
            "v": REVOCATION_VERSION,
        }

    def to_json(self) -> dict[str, JsonValue]:
        """The revocation with its signature, as stored and bundled."""
        return {"revocation": self.payload(), "signature": b64encode(self.signature)}

    @property
    def entry_hash(self) -> bytes:
        """The hash the revocation's log leaf commits to."""
        return domain_hash(REVOCATION, self.to_json())

    @property
    def effective(self) -> datetime:
        """When the key stops being trusted."""
        return parse_utc(self.effective_from)

    def verify(self, algorithm: str, public_key: bytes) -> None:
        """Raises SignatureInvalidError unless ``public_key`` signed this revocation."""
        verify_signature(
            algorithm, public_key, signing_input(REVOCATION, self.payload()), self.signature
        )


def issue_revocation(
    issuer: Signer, *, key_id: str, org: str, effective_from: str, reason: str
) -> Revocation:
    """Create a revocation signed by ``issuer`` (the root, or the key's organisation key)."""
    parse_utc(effective_from)
    unsigned = Revocation(key_id=key_id, org=org, effective_from=effective_from, reason=reason,
                          issuer=issuer.key_id)  # fmt: skip
    return replace(unsigned, signature=issuer.sign(signing_input(REVOCATION, unsigned.payload())))


def revocation_from_json(raw: Mapping[str, Any]) -> Revocation:
    """Parse a revocation strictly.

    Raises:
        InvalidInputError: the JSON is not a well-formed revocation.
    """
    try:
        body = raw["revocation"]
        if set(raw) != {"revocation", "signature"} or set(body) != set(_FIELDS):
            raise InvalidInputError("revocation has missing or unexpected fields")
        strings = [body[name] for name in _FIELDS if name != "v"] + [raw["signature"]]
        if not all(isinstance(value, str) for value in strings) or type(body["v"]) is not int:
            raise InvalidInputError("revocation fields have the wrong JSON types")
        parsed = Revocation(
            key_id=body["key_id"], org=body["org"], effective_from=body["effective_from"],
            reason=body["reason"], issuer=body["issuer"], signature=b64decode(raw["signature"]),
        )  # fmt: skip
    except (KeyError, TypeError) as exc:
        raise InvalidInputError(f"malformed revocation: {exc!r}") from exc
    if body["v"] != REVOCATION_VERSION:
        raise InvalidInputError("unknown revocation version")
    parse_utc(parsed.effective_from)
    return parsed
