"""Salted hash commitments: how personal data enters signed events.

Names, ID numbers and phone numbers of drivers, escorts, inspectors and
individual buyers never enter a signed body. The body holds
``sha256:<hex>`` of ``COMMITMENT || JCS({"kind", "salt", "value"})``; the
plaintext and salt live in a separate, erasable table. Erasing both leaves
every chain and proof verifiable, and without the salt a phone number cannot
be recovered by guessing.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from ledger.canonical import COMMITMENT, b64encode, domain_hash, format_hash

SALT_BYTES = 16


@dataclass(frozen=True, slots=True)
class Disclosure:
    """The secret half of a commitment: kept apart, erasable."""

    kind: str
    value: str
    salt: bytes

    @property
    def commitment(self) -> str:
        """The public half that goes into signed bodies."""
        return commit(self.kind, self.value, self.salt)


def commit(kind: str, value: str, salt: bytes) -> str:
    """Return the commitment to ``value`` of ``kind`` (e.g. ``"person"``) under ``salt``."""
    digest = domain_hash(COMMITMENT, {"kind": kind, "salt": b64encode(salt), "value": value})
    return format_hash(digest)


def disclose(kind: str, value: str) -> Disclosure:
    """Create a fresh commitment for ``value`` with a random salt."""
    return Disclosure(kind=kind, value=value, salt=secrets.token_bytes(SALT_BYTES))


def opens(commitment: str, disclosure: Disclosure) -> bool:
    """Tell whether ``disclosure`` is the plaintext behind ``commitment``."""
    return hmac.compare_digest(commitment, disclosure.commitment)
