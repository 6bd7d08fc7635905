"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures.

A signed note is a text ending in a newline, a blank line, then signature lines
``— <key name> base64(key ID || signature)`` (em dash U+2014). The key ID is
``SHA-256(key name || 0x0A || 0x01 || public key)[:4]`` for Ed25519 (signature
type 0x01). Verifier keys are written ``name+hex(key ID)+base64(0x01 || key)``,
as in Go's ``golang.org/x/mod/sumdb/note``.

Opening is strict: notes must be valid UTF-8 without ASCII control characters
other than newline, every line after the last blank line must be a well-formed
signature line, base64 must be canonical, at most :data:`MAX_SIGNATURES` lines
are read, signatures from unknown keys are ignored, and any signature from a
known key that fails to verify rejects the whole note. All private-key use goes
through :class:`ledger.signing.Signer`. This module performs no I/O.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ledger.errors import NoteError, VerificationError
from ledger.signing import ED25519, Signer, verify_signature

ALG_ED25519: Final = b"\x01"
KEY_ID_SIZE: Final = 4
ED25519_KEY_SIZE: Final = 32
ED25519_SIGNATURE_SIZE: Final = 64
MAX_SIGNATURES: Final = 100
SIGNATURE_PREFIX: Final = "\u2014 "
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


# --- small checks --------------------------------------------------------------------


def check_note_chars(text: str) -> None:
    """Require valid UTF-8 without ASCII control characters other than newline.

    Raises:
        NoteError: the text breaks the C2SP signed-note character rules.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError("note text is not valid UTF-8") from exc
    bad = next((ch for ch in text if ch < " " and ch != "\n"), None)
    if bad is not None:
        raise NoteError("note contains an ASCII control character", char=hex(ord(bad)))


def check_key_name(name: str) -> None:
    """Key names are non-empty, without Unicode spaces or '+' (C2SP signed-note §Format)."""
    if not name:
        raise NoteError("key name is empty")
    check_note_chars(name)
    if "+" in name or any(ch.isspace() for ch in name):
        raise NoteError("key name contains a space or '+'", name=name)


def _check_public_key(public_key: bytes) -> None:
    if len(public_key) != ED25519_KEY_SIZE:
        raise NoteError("Ed25519 public key must be 32 bytes", length=len(public_key))


def decode_base64(text: str, what: str) -> bytes:
    """Decode standard base64 (RFC 4648 §4), accepting only its canonical form.

    Raises:
        NoteError: ``text`` is not canonical standard base64.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise NoteError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _parse_key_id(text: str) -> bytes:
    if len(text) != 2 * KEY_ID_SIZE or not set(text) <= _HEX_DIGITS:
        raise NoteError("key id must be 8 hex digits", key_id=text)
    return bytes.fromhex(text)


# --- keys ----------------------------------------------------------------------------


def note_key_id(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte key ID ``SHA-256(name || 0x0A || 0x01 || public_key)[:4]``.

    Raises:
        NoteError: the name or the public key is malformed.
    """
    check_key_name(name)
    _check_public_key(public_key)
    material = name.encode("utf-8") + b"\n" + ALG_ED25519 + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted Ed25519 note key: its name, 4-byte key ID and public key.

    Raises:
        NoteError: on construction, when the fields are inconsistent.
    """

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        computed = note_key_id(self.name, self.public_key)
        if computed != self.key_id:
            raise NoteError(
                "key id does not match the name and public key",
                expected=computed.hex(),
                computed=self.key_id.hex(),
            )

    @classmethod
    def for_key(cls, name: str, public_key: bytes) -> NoteVerifier:
        """Return the verifier for ``name`` and an Ed25519 ``public_key``."""
        return cls(name, note_key_id(name, public_key), public_key)

    def vkey(self) -> str:
        """Return the verifier key text, see :func:`format_vkey`."""
        return format_vkey(self.name, self.public_key)


def format_vkey(name: str, public_key: bytes) -> str:
    """Return the verifier key ``name+hex(key ID)+base64(0x01 || public_key)``.

    Raises:
        NoteError: the name or the public key is malformed.
    """
    key_id = note_key_id(name, public_key)
    encoded = base64.b64encode(ALG_ED25519 + public_key).decode("ascii")
    return f"{name}+{key_id.hex()}+{encoded}"


def _parse_key_material(name: str, key_id_text: str, key_text: str, size: int) -> bytes:
    """Check the name and key ID, decode ``0x01 || key`` and return the ``size``-byte key."""
    check_key_name(name)
    _parse_key_id(key_id_text)
    raw = decode_base64(key_text, "key")
    if raw[:1] != ALG_ED25519:
        raise NoteError("unsupported note signature type; only Ed25519 (0x01) is supported")
    if len(raw) != 1 + size:
        raise NoteError(f"Ed25519 key must be {size} bytes", length=len(raw) - 1)
    return raw[1:]


def _require_key_id(name: str, key_id_text: str, public_key: bytes) -> None:
    computed = note_key_id(name, public_key)
    if computed != _parse_key_id(key_id_text):
        raise NoteError(
            "key id does not match the name and key",
            name=name,
            expected=key_id_text.lower(),
            computed=computed.hex(),
        )


def parse_vkey(text: str) -> NoteVerifier:
    """Parse a verifier key ``name+hexid+base64(0x01 || public key)``.

    Raises:
        NoteError: the key is malformed, not Ed25519, or its ID does not match.
    """
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key must be name+hexid+base64key")
    name, key_id_text, key_text = parts
    public_key = _parse_key_material(name, key_id_text, key_text, ED25519_KEY_SIZE)
    _require_key_id(name, key_id_text, public_key)
    return NoteVerifier.for_key(name, public_key)


# --- signing -------------------------------------------------------------------------


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    check_note_chars(text)


def sign_note(text: str, name: str, signer: Signer) -> str:
    """Sign ``text`` and return the signed note with one signature line.

    Args:
        text: the note text, ending in a newline (it may contain blank lines).
        name: the key name written on the signature line.
        signer: an Ed25519 :class:`~ledger.signing.Signer`.

    Raises:
        NoteError: the text, the name or the signer is unsuitable.
    """
    _check_text(text)
    if signer.algorithm != ED25519:
        raise NoteError("signed notes here support Ed25519 only", algorithm=signer.algorithm)
    key_id = note_key_id(name, signer.public_key)
    signature = signer.sign(text.encode("utf-8"))
    if len(signature) != ED25519_SIGNATURE_SIZE:
        raise NoteError("signer returned a malformed Ed25519 signature", length=len(signature))
    encoded = base64.b64encode(key_id + signature).decode("ascii")
    return f"{text}\n{SIGNATURE_PREFIX}{name} {encoded}\n"


# --- opening -------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedNote:
    """A note text and the names of the known keys whose signatures verified."""

    text: str
    verified_by: tuple[str, ...]


@dataclass(frozen=True)
class SignatureLine:
    """One parsed signature line: key name, 4-byte key ID and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes


def _split_note(note: str) -> tuple[str, list[str]]:
    """Split at the last blank line into the text and the signature lines."""
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("note has too many signature lines", count=len(lines))
    return text, lines


def _parse_line(line: str) -> SignatureLine:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError("signature line must start with an em dash and a space")
    name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    check_key_name(name)
    if not encoded:
        raise NoteError("signature line has no signature", name=name)
    raw = decode_base64(encoded, "signature")
    if len(raw) <= KEY_ID_SIZE:
        raise NoteError("signature is shorter than a key id and one byte", name=name)
    return SignatureLine(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def _index_verifiers(verifiers: Sequence[NoteVerifier]) -> dict[tuple[str, bytes], NoteVerifier]:
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for verifier in verifiers:
        key = (verifier.name, verifier.key_id)
        if known.setdefault(key, verifier) != verifier:
            raise NoteError("two verifier keys share a name and key id", name=verifier.name)
    return known


def _verify_line(verifier: NoteVerifier, message: bytes, line: SignatureLine) -> None:
    context = {"name": line.name, "key_id": line.key_id.hex()}
    if len(line.signature) != ED25519_SIGNATURE_SIZE:
        raise NoteError("signature from a known key is not 64 bytes", **context)
    try:
        verify_signature(ED25519, verifier.public_key, message, line.signature)
    except VerificationError as exc:
        raise NoteError("signature from a known key does not verify", **context) from exc


def split_note(note: str) -> tuple[str, list[SignatureLine]]:
    """Split a signed note into its text and parsed signature lines, verifying nothing.

    For signature types this module does not verify (cosignatures, :mod:`ledger.cosignature`).

    Raises:
        NoteError: the note is malformed.
    """
    check_note_chars(note)
    text, lines = _split_note(note)
    return text, [_parse_line(line) for line in lines]


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> OpenedNote:
    """Parse a signed note and verify every signature from a known key.

    Signatures whose (name, key ID) matches no verifier are ignored, as C2SP
    signed-note §Signatures requires.

    Raises:
        NoteError: the note is malformed, a known key's signature fails, or no
            known key signed it.
    """
    text, parsed = split_note(note)
    known = _index_verifiers(verifiers)
    message = text.encode("utf-8")
    verified: list[str] = []
    for line in parsed:
        verifier = known.get((line.name, line.key_id))
        if verifier is None:
            continue
        _verify_line(verifier, message, line)
        if line.name not in verified:
            verified.append(line.name)
    if not verified:
        names = sorted({line.name for line in parsed})
        raise NoteError("note has no signature from a known key", signers=names)
    return OpenedNote(text, tuple(verified))
