"""Go sumdb signer keys, parsed for the public signed-note test vector only.

Production keys live behind :class:`ledger.signing.Signer`; nothing outside the tests
parses private key strings.
"""

from __future__ import annotations

from ledger.errors import NoteError
from ledger.note import ED25519_KEY_SIZE, _parse_key_material, _require_key_id
from ledger.signing import Ed25519Signer


def parse_go_signer_key(text: str) -> tuple[str, Ed25519Signer]:
    """Parse a Go ``PRIVATE+KEY+name+hexid+base64(0x01 || seed)`` signer key.

    Only a parser for test vectors and tooling; keys in production live behind
    a :class:`ledger.signing.Signer`. Error messages never include key bytes.

    Returns:
        The key name and an in-memory Ed25519 signer.

    Raises:
        NoteError: the key is malformed, not Ed25519, or its ID does not match.
    """
    parts = text.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("signer key must be PRIVATE+KEY+name+hexid+base64key")
    name, key_id_text, key_text = parts[2:]
    seed = _parse_key_material(name, key_id_text, key_text, ED25519_KEY_SIZE)
    signer = Ed25519Signer.from_seed(seed)
    _require_key_id(name, key_id_text, signer.public_key)
    return name, signer
