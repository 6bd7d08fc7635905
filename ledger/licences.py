"""Licence records: what an organisation may do with which chemicals, and when.

A licence record is signed by the registry root and logged (leaf kind ``licence``), so none
can be backdated. Changes are new records with the same licence number: the history is the
log, never an overwrite. Whether an actor *held* a valid licence for an activity is a rule
question for the anomaly engine; this module only defines, signs and checks the record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ledger.canonical import LICENCE, JsonValue, b64decode, b64encode, domain_hash, signing_input
from ledger.errors import InvalidInputError
from ledger.signing import Signer, verify_signature
from ledger.timefmt import parse_utc

LICENCE_VERSION = 1
LICENCE_KINDS = frozenset(
    {"production", "business", "safe_use", "transport", "storage", "disposal", "purchase_permit"}
)
_TOKEN = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,39}$")
_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z/_.()-]{0,63}$")
_FIELDS = ("activities", "chemicals", "issuer", "kind", "licence_no", "org", "status", "v",
           "valid_from", "valid_until")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Licence:
    """One version of a licence: its scope, window and status."""

    licence_no: str
    org: str
    kind: str
    activities: tuple[str, ...]
    chemicals: tuple[str, ...]
    valid_from: str
    valid_until: str
    status: str
    issuer: str
    signature: bytes = b""

    def __post_init__(self) -> None:
        if not _NUMBER.fullmatch(self.licence_no) or self.kind not in LICENCE_KINDS:
            raise InvalidInputError("bad licence number or kind", licence_no=self.licence_no[:64])
        if self.status not in ("active", "suspended", "revoked"):
            raise InvalidInputError("licence status is active, suspended or revoked")
        if not all(_TOKEN.fullmatch(token) for token in (*self.activities, *self.chemicals)):
            raise InvalidInputError(
                "activities and chemicals are lowercase tokens (e.g. class:2.3)"
            )
        if parse_utc(self.valid_until) <= parse_utc(self.valid_from):
            raise InvalidInputError("licence window is empty", licence_no=self.licence_no)

    def payload(self) -> dict[str, JsonValue]:
        """The signed fields, as JSON."""
        return {
            "activities": list(self.activities), "chemicals": list(self.chemicals),
            "issuer": self.issuer, "kind": self.kind, "licence_no": self.licence_no,
            "org": self.org, "status": self.status, "v": LICENCE_VERSION,
            "valid_from": self.valid_from, "valid_until": self.valid_until,
        }  # fmt: skip

    def to_json(self) -> dict[str, JsonValue]:
        """The record with its signature, as stored."""
        return {"licence": self.payload(), "signature": b64encode(self.signature)}

    @property
    def entry_hash(self) -> bytes:
        """The hash the record's log leaf commits to."""
        return domain_hash(LICENCE, self.to_json())

    def covers(self, moment: datetime) -> bool:
        """Active and inside ``[valid_from, valid_until)`` at ``moment``."""
        return self.status == "active" and parse_utc(self.valid_from) <= moment < parse_utc(
            self.valid_until
        )

    def verify(self, algorithm: str, public_key: bytes) -> None:
        """Raises SignatureInvalidError unless the registry signed this record."""
        verify_signature(
            algorithm, public_key, signing_input(LICENCE, self.payload()), self.signature
        )


def issue_licence(registry: Signer, **fields: Any) -> Licence:
    """Create a licence record signed by the registry root."""
    unsigned = Licence(issuer=registry.key_id, **fields)
    return replace(unsigned, signature=registry.sign(signing_input(LICENCE, unsigned.payload())))


def licence_from_json(raw: Mapping[str, Any]) -> Licence:
    """Parse a stored licence record strictly.

    Raises:
        InvalidInputError: the JSON is not a well-formed licence record.
    """
    try:
        body = raw["licence"]
        if set(raw) != {"licence", "signature"} or set(body) != set(_FIELDS):
            raise InvalidInputError("licence record has missing or unexpected fields")
        if type(body["v"]) is not int or body["v"] != LICENCE_VERSION:
            raise InvalidInputError("unknown licence record version")
        lists = (body["activities"], body["chemicals"])
        if not all(
            isinstance(items, list) and all(isinstance(i, str) for i in items) for items in lists
        ):
            raise InvalidInputError("activities and chemicals must be lists of strings")
        strings = [body[name] for name in _FIELDS if name not in ("activities", "chemicals", "v")]
        if not all(isinstance(value, str) for value in [*strings, raw["signature"]]):
            raise InvalidInputError("licence fields have the wrong JSON types")
        return Licence(
            licence_no=body["licence_no"], org=body["org"], kind=body["kind"],
            activities=tuple(body["activities"]), chemicals=tuple(body["chemicals"]),
            valid_from=body["valid_from"], valid_until=body["valid_until"], status=body["status"],
            issuer=body["issuer"], signature=b64decode(raw["signature"]),
        )  # fmt: skip
    except (KeyError, TypeError) as exc:
        raise InvalidInputError(f"malformed licence record: {exc!r}") from exc
