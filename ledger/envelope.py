"""Signed events: the envelope a device submits, its signature and its hash.

A signed event is ``{"body": {...}, "signature": {"alg": ..., "value": ...}}``.
The device signs ``EVENT_BODY || JCS(body)``. The event hash covers the body
*and* the signature: ``SHA-256(EVENT || JCS(envelope))``, so a re-signed body
is a different event.

The signature is verified against the raw JSON the device sent, never against
a re-serialisation of the parsed model: a parser quirk can then never make a
forged body verify.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.canonical import (
    EVENT,
    EVENT_BODY,
    JsonValue,
    b64decode,
    b64encode,
    canonical_bytes_of_validated,
    signing_input,
)
from ledger.errors import InvalidInputError, MalformedEventError
from ledger.events import EventBody, parse_body
from ledger.signing import SUPPORTED_ALGORITHMS, Signer, verify_signature

MAX_ENVELOPE_BYTES = 256 * 1024
CAPTURE_ALG = "rfc9421-capture"
"""A derived event's ``alg``: its ``value`` is the hash of the signed-capture entry it was
derived from (:mod:`ledger.signed_capture`), not a signature; :meth:`SignedEvent.verify`
refuses it, so only the signed-capture path can admit one."""


@dataclass(frozen=True, slots=True)
class SignedEvent:
    """A validated envelope, ready to be checked against a key and appended."""

    body: EventBody
    raw_body: Mapping[str, Any]
    body_bytes: bytes
    algorithm: str
    signature: bytes
    canonical: bytes
    event_hash: bytes

    @property
    def key_id(self) -> str:
        """The device key the body names as its signer."""
        return self.body.device_key

    def verify(self, public_key: bytes) -> None:
        """Check the device signature over the raw body.

        Raises:
            SignatureInvalidError: the signature does not verify.
        """
        verify_signature(self.algorithm, public_key, EVENT_BODY + self.body_bytes, self.signature)


def sign_body(raw_body: Mapping[str, JsonValue], signer: Signer) -> dict[str, JsonValue]:
    """Return the signed envelope for ``raw_body`` (SDKs and devices call this)."""
    signature = signer.sign(signing_input(EVENT_BODY, raw_body))
    return {
        "body": dict(raw_body),
        "signature": {"alg": signer.algorithm, "value": b64encode(signature)},
    }


def event_hash_of(canonical_envelope: bytes) -> bytes:
    """Hash the canonical bytes of a whole envelope."""
    return hashlib.sha256(EVENT + canonical_envelope).digest()


def open_envelope(raw: object) -> SignedEvent:
    """Validate an envelope's shape and body; compute its canonical bytes and hash.

    The signature itself is not checked here (that needs the key): call
    :meth:`SignedEvent.verify`.

    Raises:
        MalformedEventError: naming the field at fault.
    """
    if not isinstance(raw, Mapping) or set(raw) != {"body", "signature"}:
        raise MalformedEventError(
            "an event is an object with exactly 'body' and 'signature'", field="$"
        )
    signature = raw["signature"]
    if not isinstance(signature, Mapping) or set(signature) != {"alg", "value"}:
        raise MalformedEventError(
            "signature must have exactly 'alg' and 'value'", field="signature"
        )
    if not isinstance(signature["alg"], str) or not isinstance(signature["value"], str):
        raise MalformedEventError("signature fields must be strings", field="signature")
    try:
        signature_bytes = b64decode(signature["value"])
    except InvalidInputError as exc:
        raise MalformedEventError(exc.message, field="signature.value") from exc
    raw_body = raw["body"]
    if not isinstance(raw_body, Mapping):
        raise MalformedEventError("body must be an object", field="body")
    body = parse_body(raw_body)
    if signature["alg"] not in SUPPORTED_ALGORITHMS and signature["alg"] != CAPTURE_ALG:
        raise MalformedEventError("unsupported signature algorithm", field="signature.alg")
    if signature["alg"] == CAPTURE_ALG and len(signature_bytes) != 32:
        raise MalformedEventError("a derived event cites a 32-byte entry hash",
                                  field="signature.value")  # fmt: skip
    try:
        body_bytes = canonical_bytes_of_validated(raw_body)  # parse_body proved it float-free
    except InvalidInputError as exc:
        raise MalformedEventError(exc.message, field="body") from exc
    # JCS orders "body" before "signature" and "alg" before "value"; both signature strings are
    # ASCII with nothing to escape (a known algorithm name, canonical base64).
    canonical = (
        b'{"body":' + body_bytes + b',"signature":{"alg":"' + signature["alg"].encode()
        + b'","value":"' + signature["value"].encode() + b'"}}'
    )  # fmt: skip
    if len(canonical) > MAX_ENVELOPE_BYTES:
        raise MalformedEventError("event is too large", size=len(canonical))
    return SignedEvent(
        body=body,
        raw_body=raw_body,
        body_bytes=body_bytes,
        algorithm=signature["alg"],
        signature=signature_bytes,
        canonical=canonical,
        event_hash=event_hash_of(canonical),
    )
