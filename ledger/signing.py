"""The one seam through which private keys are used, and signature checks.

Every private-key operation in chemtrace goes through :class:`Signer`. The
file keystore, a future HSM or a KMS each provide a ``Signer``; nothing else
ever touches private key bytes. Verification needs only public bytes and an
algorithm identifier, which travels with every key so that SM2 can be added
without a format change.

This module does not load keys from disk; ``api/keystore.py`` does.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import SignatureInvalidError, VerificationError

ED25519 = "ed25519"
SUPPORTED_ALGORITHMS = frozenset({ED25519})

_KEY_ID_DOMAIN = b"chemtrace:key-id:v1\x00"


def key_id_for(algorithm: str, public_key: bytes) -> str:
    """Return the stable id of a public key: 32 hex digits of a domain-separated SHA-256."""
    digest = hashlib.sha256(_KEY_ID_DOMAIN + algorithm.encode() + b"\x00" + public_key).digest()
    return digest[:16].hex()


@runtime_checkable
class Signer(Protocol):
    """Signs messages with a private key it never reveals."""

    @property
    def algorithm(self) -> str:
        """The signature algorithm identifier, e.g. ``"ed25519"``."""
        ...

    @property
    def public_key(self) -> bytes:
        """The raw public key bytes."""
        ...

    @property
    def key_id(self) -> str:
        """The key id derived with :func:`key_id_for`."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Return a signature over ``message``."""
        ...


class Ed25519Signer:
    """An in-memory Ed25519 signer (development keystore, tests, devices)."""

    algorithm = ED25519

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._key_id = key_id_for(ED25519, self._public_key)

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """Create a signer with a fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Signer:
        """Create a signer from a 32-byte RFC 8032 private key (seed)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> bytes:
        return self._public_key

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)


def verify_signature(algorithm: str, public_key: bytes, message: bytes, signature: bytes) -> None:
    """Check ``signature`` over ``message``.

    Raises:
        SignatureInvalidError: the signature does not verify.
        VerificationError: the algorithm is unknown or the key is malformed.
    """
    if algorithm != ED25519:
        raise VerificationError("unsupported signature algorithm", algorithm=algorithm)
    try:
        key = Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise VerificationError("malformed Ed25519 public key", length=len(public_key)) from exc
    try:
        key.verify(signature, message)
    except InvalidSignature as exc:
        raise SignatureInvalidError("signature does not verify") from exc
