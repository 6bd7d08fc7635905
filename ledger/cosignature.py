"""C2SP tlog-cosignature/v1 with Ed25519 (signature type 0x04, https://c2sp.org/tlog-cosignature).

A cosignature is a note signature line on a checkpoint::

    — <cosigner name> base64(key ID || u64 big-endian timestamp || Ed25519 signature)

with ``key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4]``. The signed message is::

    cosignature/v1
    time <timestamp>
    <the checkpoint's note text, with its final newline, without signature lines>

It states that, at ``timestamp``, this is the largest consistent tree the cosigner has seen
for the origin. The Ed25519 message does not commit to the cosigner's name, so one key must
never serve two cosigners. The ML-DSA-44 type (0x06) is not implemented: every verifier in
this city speaks Ed25519. (The installed ``cryptography``, 51.0.1, does have ML-DSA-44 in
``cryptography.hazmat.primitives.asymmetric.mldsa``; ``pyproject.toml`` still allows older
releases without it, so adding the type means raising that floor.)

Cosigner vkeys are ``name+hex(key ID)+base64(0x04 || public key)``. This module performs no
I/O; all private-key use goes through :class:`ledger.signing.Signer`.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ledger.errors import NoteError, VerificationError
from ledger.note import (
    ED25519_KEY_SIZE,
    ED25519_SIGNATURE_SIZE,
    KEY_ID_SIZE,
    SIGNATURE_PREFIX,
    SignatureLine,
    check_key_name,
    check_note_chars,
    decode_base64,
    split_note,
)
from ledger.signing import ED25519, Signer, verify_signature

ALG_COSIGNATURE_V1: Final = b"\x04"
HEADER: Final = "cosignature/v1\n"
TIMESTAMP_SIZE: Final = 8
MAX_TIMESTAMP: Final = 2**63 - 1
COSIGNATURE_SIZE: Final = TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """Return ``SHA-256(name || 0x0A || 0x04 || public_key)[:4]``.

    Raises:
        NoteError: the name or the key is malformed.
    """
    check_key_name(name)
    if len(public_key) != ED25519_KEY_SIZE:
        raise NoteError("Ed25519 public key must be 32 bytes", length=len(public_key))
    material = name.encode("utf-8") + b"\n" + ALG_COSIGNATURE_V1 + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


@dataclass(frozen=True)
class CosignerVerifier:
    """A trusted cosigner (witness) key: name, 4-byte key ID and Ed25519 public key.

    Raises:
        NoteError: on construction, when the key ID does not match the name and key.
    """

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        computed = cosigner_key_id(self.name, self.public_key)
        if computed != self.key_id:
            raise NoteError(
                "cosigner key id does not match the name and key",
                expected=computed.hex(),
                computed=self.key_id.hex(),
            )

    @classmethod
    def for_key(cls, name: str, public_key: bytes) -> CosignerVerifier:
        """Return the verifier of cosigner ``name`` with an Ed25519 ``public_key``."""
        return cls(name, cosigner_key_id(name, public_key), public_key)

    def vkey(self) -> str:
        """Return ``name+hex(key ID)+base64(0x04 || public key)``."""
        encoded = base64.b64encode(ALG_COSIGNATURE_V1 + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


def parse_cosigner_vkey(text: str) -> CosignerVerifier:
    """Parse a cosigner vkey ``name+hexid+base64(0x04 || key)``.

    Raises:
        NoteError: the text is malformed, not a cosignature/v1 key, or its ID does not match.
    """
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise NoteError("cosigner vkey must be name+hexid+base64key")
    name, key_id_text, key_text = parts
    check_key_name(name)
    raw = decode_base64(key_text, "cosigner key")
    if raw[:1] != ALG_COSIGNATURE_V1:
        raise NoteError(
            "not a cosignature/v1 key: the key type must be 0x04", name=name, type=raw[:1].hex()
        )
    if len(raw) != 1 + ED25519_KEY_SIZE:
        raise NoteError("Ed25519 cosigner key must be 32 bytes", length=len(raw) - 1)
    verifier = CosignerVerifier.for_key(name, raw[1:])
    if verifier.key_id.hex() != key_id_text.lower() or len(key_id_text) != 2 * KEY_ID_SIZE:
        raise NoteError(
            "cosigner key id does not match the name and key",
            name=name,
            expected=key_id_text,
            computed=verifier.key_id.hex(),
        )
    return verifier


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError("cosignature timestamp must be in [0, 2**63)", timestamp=timestamp)


def signed_message(checkpoint_text: str, timestamp: int) -> bytes:
    """Return the bytes a cosignature/v1 signs over ``checkpoint_text`` at ``timestamp``.

    Raises:
        NoteError: the text does not end in a newline, or the timestamp is out of range.
    """
    _check_timestamp(timestamp)
    if not checkpoint_text.endswith("\n"):
        raise NoteError("checkpoint text must end with a newline")
    check_note_chars(checkpoint_text)
    return f"{HEADER}time {timestamp}\n{checkpoint_text}".encode()


def cosign(checkpoint_text: str, name: str, signer: Signer, timestamp: int) -> str:
    """Return the cosignature line (ending in a newline) of ``name`` over ``checkpoint_text``.

    Raises:
        NoteError: the signer is not Ed25519, the timestamp is zero or out of range, or the
            text is malformed.
    """
    if signer.algorithm != ED25519:
        raise NoteError("cosignatures here are Ed25519 only", algorithm=signer.algorithm)
    if timestamp == 0:
        raise NoteError("a witness cosignature must carry a timestamp (tlog-witness)")
    message = signed_message(checkpoint_text, timestamp)
    signature = signer.sign(message)
    if len(signature) != ED25519_SIGNATURE_SIZE:
        raise NoteError("signer returned a malformed Ed25519 signature", length=len(signature))
    key_id = cosigner_key_id(name, signer.public_key)
    blob = key_id + struct.pack(">Q", timestamp) + signature
    return f"{SIGNATURE_PREFIX}{name} {base64.b64encode(blob).decode('ascii')}\n"


@dataclass(frozen=True)
class Cosignature:
    """A cosignature line that verified: who, and the time it states."""

    name: str
    key_id: bytes
    timestamp: int


def verify_cosignature(
    verifier: CosignerVerifier, checkpoint_text: str, line: SignatureLine
) -> Cosignature:
    """Verify one signature line as ``verifier``'s cosignature over ``checkpoint_text``.

    Raises:
        NoteError: the line is not this cosigner's, is malformed, or does not verify.
    """
    context = {"name": line.name, "key_id": line.key_id.hex()}
    if (line.name, line.key_id) != (verifier.name, verifier.key_id):
        raise NoteError("signature line is from another key", **context)
    if len(line.signature) != COSIGNATURE_SIZE:
        raise NoteError("cosignature must be an 8-byte time and a 64-byte signature", **context)
    (timestamp,) = struct.unpack(">Q", line.signature[:TIMESTAMP_SIZE])
    if timestamp > MAX_TIMESTAMP:
        raise NoteError("cosignature timestamp exceeds 2**63 - 1", **context)
    message = signed_message(checkpoint_text, timestamp)
    try:
        verify_signature(ED25519, verifier.public_key, message, line.signature[TIMESTAMP_SIZE:])
    except VerificationError as exc:
        raise NoteError("cosignature does not verify", **context) from exc
    return Cosignature(verifier.name, verifier.key_id, timestamp)


def attach(note: str, lines: Iterable[str]) -> str:
    """Append signature ``lines`` to a signed ``note``, skipping lines it already carries.

    This is how a log adds witness cosignatures to its own view of a checkpoint (tlog-witness
    §add-checkpoint). Nothing is verified here; callers verify each line first.

    Raises:
        NoteError: the note or a line is malformed.
    """
    split_note(note)  # malformed notes are refused before anything is added
    present = set(note[note.rfind("\n\n") + 2 :].splitlines())
    added = [line.rstrip("\n") for line in lines]
    for line in added:
        if not line.startswith(SIGNATURE_PREFIX) or "\n" in line:
            raise NoteError("not a single signature line")
    fresh = [line for line in dict.fromkeys(added) if line not in present]
    result = note + "".join(f"{line}\n" for line in fresh)
    split_note(result)
    return result
