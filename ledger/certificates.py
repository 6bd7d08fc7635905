"""The key hierarchy: the registry root certifies organisation keys, which certify device keys.

A certificate is a JCS object signed by its issuer. Certificates are log
entries (leaf kind ``certificate``), so none can be backdated, and a key
swapped in the database no longer matches the hash its leaf commits to.

Validity is judged at a **log time**: an event is acceptable only if, at the
log time the log assigns it, its device certificate and that certificate's
organisation certificate are both inside their windows and chain to the
pinned root key. Rotation issues a new certificate; old events keep verifying
against the certificate that was valid at their log time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from ledger.canonical import (
    CERTIFICATE,
    JsonValue,
    b64decode,
    b64encode,
    domain_hash,
    signing_input,
)
from ledger.errors import (
    InvalidInputError,
    KeyNotValidAtLogTimeError,
    KeyRevokedError,
    SignatureInvalidError,
    UnknownKeyError,
    VerificationError,
)
from ledger.revocations import Revocation
from ledger.signing import SUPPORTED_ALGORITHMS, Signer, key_id_for, verify_signature
from ledger.timefmt import parse_utc

CertRole = Literal["org", "device"]
CERT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Certificate:
    """A signed statement binding a public key to an organisation and a time window."""

    role: CertRole
    algorithm: str
    public_key: bytes
    org: str
    valid_from: str
    valid_until: str
    issuer: str
    signature: bytes = b""

    @property
    def key_id(self) -> str:
        """The id of the certified key."""
        return key_id_for(self.algorithm, self.public_key)

    def payload(self) -> dict[str, JsonValue]:
        """The signed fields, as JSON."""
        return {
            "issuer": self.issuer,
            "org": self.org,
            "role": self.role,
            "subject": {
                "alg": self.algorithm,
                "key_id": self.key_id,
                "public_key": b64encode(self.public_key),
            },
            "v": CERT_VERSION,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
        }

    def to_json(self) -> dict[str, JsonValue]:
        """The certificate with its signature, as stored and bundled."""
        return {"cert": self.payload(), "signature": b64encode(self.signature)}

    @property
    def entry_hash(self) -> bytes:
        """The hash the certificate's log leaf commits to."""
        return domain_hash(CERTIFICATE, self.to_json())

    def covers(self, moment: datetime) -> bool:
        """Tell whether ``moment`` is inside ``[valid_from, valid_until)``."""
        return parse_utc(self.valid_from) <= moment < parse_utc(self.valid_until)


def issue_certificate(
    issuer: Signer,
    *,
    role: CertRole,
    subject_algorithm: str,
    subject_public_key: bytes,
    org: str,
    valid_from: str,
    valid_until: str,
) -> Certificate:
    """Create a certificate signed by ``issuer``."""
    unsigned = Certificate(
        role=role,
        algorithm=subject_algorithm,
        public_key=subject_public_key,
        org=org,
        valid_from=valid_from,
        valid_until=valid_until,
        issuer=issuer.key_id,
    )
    signature = issuer.sign(signing_input(CERTIFICATE, unsigned.payload()))
    return replace(unsigned, signature=signature)


def certificate_from_json(raw: Mapping[str, Any]) -> Certificate:
    """Parse a certificate strictly; the embedded key id must match the key.

    Raises:
        InvalidInputError: the JSON is not a well-formed certificate.
    """
    try:
        cert, subject = raw["cert"], raw["cert"]["subject"]
        strings = [
            cert["role"],
            cert["org"],
            cert["valid_from"],
            cert["valid_until"],
            cert["issuer"],
            subject["alg"],
            subject["key_id"],
            subject["public_key"],
            raw["signature"],
        ]
        if not all(isinstance(value, str) for value in strings) or type(cert["v"]) is not int:
            raise InvalidInputError("certificate fields have the wrong JSON types")
        parsed = Certificate(
            role=cert["role"],
            algorithm=subject["alg"],
            public_key=b64decode(subject["public_key"]),
            org=cert["org"],
            valid_from=cert["valid_from"],
            valid_until=cert["valid_until"],
            issuer=cert["issuer"],
            signature=b64decode(raw["signature"]),
        )
    except (KeyError, TypeError) as exc:
        raise InvalidInputError(f"malformed certificate: {exc!r}") from exc
    if parsed.role not in ("org", "device") or parsed.algorithm not in SUPPORTED_ALGORITHMS:
        raise InvalidInputError("unknown certificate role or algorithm")
    if parsed.to_json() != dict(raw):
        raise InvalidInputError("certificate has unexpected fields or a wrong key id")
    parse_utc(parsed.valid_from)
    parse_utc(parsed.valid_until)
    return parsed


@dataclass(slots=True)
class TrustStore:
    """The certificates known so far, anchored on a pinned root key.

    Verifiers build one from log entries in index order, so that only
    certificates logged *before* an event can vouch for it.
    """

    root_algorithm: str
    root_public_key: bytes
    _by_key: dict[str, list[Certificate]] = field(default_factory=dict)
    _revoked: dict[str, Revocation] = field(default_factory=dict)

    root_key_id: str = field(init=False)
    """The id of the pinned registry root key."""

    def __post_init__(self) -> None:
        self.root_key_id = key_id_for(self.root_algorithm, self.root_public_key)

    def add(self, cert: Certificate) -> None:
        """Check ``cert``'s signature against its issuer and remember it (idempotent).

        Raises:
            SignatureInvalidError: the issuer's signature does not verify.
            UnknownKeyError: the issuer is neither the root nor a known org key.
            VerificationError: the certificate's window is empty.
        """
        if cert in self._by_key.get(cert.key_id, []):
            return
        require_valid_window(cert)
        issuer_key = self._issuer_key(cert)
        message = signing_input(CERTIFICATE, cert.payload())
        try:
            verify_signature(issuer_key[0], issuer_key[1], message, cert.signature)
        except SignatureInvalidError as exc:
            raise SignatureInvalidError(
                "certificate signature does not verify", key_id=cert.key_id
            ) from exc
        self._by_key.setdefault(cert.key_id, []).append(cert)

    def device_certificate(self, key_id: str, org: str, moment: datetime) -> Certificate:
        """Return the device certificate that makes ``key_id`` valid for ``org`` at ``moment``.

        Raises:
            UnknownKeyError: no device certificate for this key and organisation.
            KeyNotValidAtLogTimeError: certificates exist, but none covers ``moment``.
            KeyRevokedError: the key or its organisation key was revoked by ``moment``.
        """
        candidates = [
            c for c in self._by_key.get(key_id, []) if c.role == "device" and c.org == org
        ]
        if not candidates:
            raise UnknownKeyError("no device certificate for this key", key_id=key_id, org=org)
        revoked: KeyRevokedError | None = None
        for cert in candidates:
            if not (cert.covers(moment) and self._org_key_covers(cert.issuer, org, moment)):
                continue
            # A device re-certified under a new organisation key stays usable.
            revocation = self._revoked_by(key_id, moment) or self._revoked_by(cert.issuer, moment)
            if revocation is None:
                return cert
            revoked = revoked or KeyRevokedError(
                "the key was revoked before the event's log time",
                key_id=revocation.key_id, effective_from=revocation.effective_from,
            )  # fmt: skip
        if revoked is not None:
            raise revoked
        raise KeyNotValidAtLogTimeError(
            "the device key was not valid at the event's log time", key_id=key_id
        )

    def add_revocation(self, revocation: Revocation) -> None:
        """Check a revocation's signature and remember it (the earliest effective time wins).

        The root may revoke any key; an organisation key may revoke its own organisation's
        device keys while it is not revoked itself.

        Raises:
            UnknownKeyError: the issuer may not revoke this key.
            SignatureInvalidError: the signature does not verify.
        """
        if revocation.issuer == self.root_key_id:
            algorithm, public_key = self.root_algorithm, self.root_public_key
        else:
            algorithm, public_key = self._organisation_revoker(revocation)
        revocation.verify(algorithm, public_key)
        known = self._revoked.get(revocation.key_id)
        if known is None or revocation.effective < known.effective:
            self._revoked[revocation.key_id] = revocation

    def _organisation_revoker(self, revocation: Revocation) -> tuple[str, bytes]:
        """An org key may revoke its own devices only, and only while it is not revoked itself."""
        issuers = [
            c for c in self._by_key.get(revocation.issuer, [])
            if c.role == "org" and c.org == revocation.org
        ]  # fmt: skip
        own_device = any(
            c.role == "device" and c.org == revocation.org
            for c in self._by_key.get(revocation.key_id, [])
        )
        if (
            not issuers
            or not own_device
            or self._revoked_by(revocation.issuer, revocation.effective)
        ):
            raise UnknownKeyError(
                "revocation issuer may not revoke this key", key_id=revocation.key_id
            )
        return issuers[0].algorithm, issuers[0].public_key

    def _revoked_by(self, key_id: str, moment: datetime) -> Revocation | None:
        revocation = self._revoked.get(key_id)
        return revocation if revocation is not None and revocation.effective <= moment else None

    def certificates_for(self, key_id: str) -> list[Certificate]:
        """All known certificates of one key."""
        return list(self._by_key.get(key_id, []))

    def _org_key_covers(self, key_id: str, org: str, moment: datetime) -> bool:
        return any(
            c.role == "org" and c.org == org and c.issuer == self.root_key_id and c.covers(moment)
            for c in self._by_key.get(key_id, [])
        )

    def _issuer_key(self, cert: Certificate) -> tuple[str, bytes]:
        if cert.role == "org":
            if cert.issuer != self.root_key_id:
                raise UnknownKeyError(
                    "org certificates must be issued by the root", key_id=cert.key_id
                )
            return self.root_algorithm, self.root_public_key
        issuers = [
            c for c in self._by_key.get(cert.issuer, []) if c.role == "org" and c.org == cert.org
        ]
        if not issuers:
            raise UnknownKeyError(
                "device certificate issuer is not a known org key", key_id=cert.key_id
            )
        return issuers[0].algorithm, issuers[0].public_key


def require_valid_window(cert: Certificate) -> None:
    """Reject a certificate whose window is empty or reversed.

    Raises:
        VerificationError: valid_until is not after valid_from.
    """
    if parse_utc(cert.valid_until) <= parse_utc(cert.valid_from):
        raise VerificationError("certificate window is empty", key_id=cert.key_id)
