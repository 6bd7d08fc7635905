"""RFC 9421 HTTP Message Signatures over a capture request: Ed25519, with RFC 9530 digests.

A system that cannot run the chemtrace client signs the whole request instead of each event.
The covered components must be ``@method``, ``@target-uri``, ``content-type`` and
``content-digest``, with the ``keyid`` (a registered device key id), ``created``,
``expires`` and ``nonce`` parameters. The library ``http-message-signatures`` rebuilds the
signature base and checks the Ed25519 signature and the digest; the checks before it exist
so that each refusal has its own code (the library raises one ``InvalidSignature`` for all).
Replays are the caller's: :attr:`VerifiedRequest.nonce` must be stored, once per key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import http_sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

from ledger.errors import SignatureInvalidError, VerificationError
from ledger.signing import Signer

COMPONENTS: Final = ("@method", "@target-uri", "content-type", "content-digest")
PARAMETERS: Final = ("keyid", "created", "expires", "nonce")
LABEL: Final = "chemtrace"
MAX_LIFETIME: Final = timedelta(minutes=10)
"""A longer-lived signature is refused: the nonce store need only remember this long."""
CLOCK_SKEW: Final = timedelta(seconds=30)


class HttpSignatureError(VerificationError):
    """A signed request the server refuses; ``code`` says why."""

    code = "signature_invalid"


class SignatureMissingError(HttpSignatureError):
    code = "signature_missing"


class ComponentsMissingError(HttpSignatureError):
    code = "components_missing"


class ContentDigestMismatchError(HttpSignatureError):
    code = "content_digest_mismatch"


class SignatureExpiredError(HttpSignatureError):
    code = "signature_expired"


class SignatureReplayedError(HttpSignatureError):
    code = "signature_replayed"


@dataclass(frozen=True, slots=True)
class Request:
    """The parts of an HTTP request a signature covers; ``headers`` keep their field lines."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    """A request whose signature verified: what the ledger entry records."""

    key_id: str
    created: int
    expires: int
    nonce: str
    signature_base: bytes
    signature: bytes
    content_digest: str


class _Headers:
    """The read-only header view the library's resolver takes."""

    def __init__(self, lines: tuple[tuple[str, str], ...]) -> None:
        self._lines = lines

    def items(self) -> Iterable[tuple[str, str]]:
        return self._lines

    def __iter__(self) -> Any:
        return iter(dict.fromkeys(k for k, _ in self._lines))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._lines)

    def __getitem__(self, name: str) -> str:
        values = [v for k, v in self._lines if k.lower() == name.lower()]
        if not values:
            raise KeyError(name)
        return ", ".join(values)


@dataclass(frozen=True, slots=True)
class _Message:
    method: str
    url: str
    headers: Any


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, public_key: bytes) -> None:
        self.key_id, self.public_key = key_id, Ed25519PublicKey.from_public_bytes(public_key)

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self.public_key if key_id == self.key_id else None


class _Verifier(HTTPMessageVerifier):
    """The library's verifier, with ``created``/``expires`` judged above at the caller's
    ``now`` (the library reads the wall clock itself, which a test or an audit cannot set)."""

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        return None


def content_digest(body: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` field of ``body`` (SHA-256)."""
    return str(ContentDigest.create(body))


def _signature_input(request: Request) -> tuple[list[str], Mapping[str, Any]]:
    """The covered component names and parameters of the request's one signature."""
    raw_input, raw_signature = request.header("Signature-Input"), request.header("Signature")
    if raw_input is None or raw_signature is None:
        missing = "Signature-Input" if raw_input is None else "Signature"
        raise SignatureMissingError(f"the request has no {missing} field", component=missing)
    try:
        inputs, signatures = _dictionary(raw_input), _dictionary(raw_signature)
    except (ValueError, UnicodeEncodeError) as exc:
        raise HttpSignatureError(f"Signature-Input or Signature is malformed: {exc}") from exc
    if set(inputs) != set(signatures) or len(inputs) != 1:
        raise HttpSignatureError("the request carries exactly one signature, one label")
    (members, params), = inputs.values()  # fmt: skip
    if not isinstance(members, list):
        raise HttpSignatureError("Signature-Input is not an inner list of components")
    names = [str(item[0]) for item in members]
    return names, params


def check_request(
    request: Request,
    public_key_of: Callable[[str], bytes],
    now: datetime,
) -> VerifiedRequest:
    """Verify the request's RFC 9421 signature; the facts it signs.

    ``public_key_of`` answers the Ed25519 key of a key id, or raises (an unknown or revoked
    key's own error).

    Raises:
        SignatureMissingError, ComponentsMissingError (naming the component or parameter),
        SignatureExpiredError, ContentDigestMismatchError, HttpSignatureError (the
        signature does not verify), and whatever ``public_key_of`` raises.
    """
    names, params = _signature_input(request)
    for name in COMPONENTS:
        if name not in names:
            raise ComponentsMissingError(f"the signature does not cover {name}", component=name)
        if not name.startswith("@") and request.header(name) is None:
            raise ComponentsMissingError(f"the request has no {name} field", component=name)
    for name in PARAMETERS:
        if name not in params:
            raise ComponentsMissingError(f"the signature has no {name} parameter", component=name)
    created, expires, key_id, nonce = (params[p] for p in ("created", "expires", "keyid", "nonce"))
    if not (isinstance(created, int) and isinstance(expires, int)):
        raise HttpSignatureError("created and expires are integers")
    if not (isinstance(key_id, str) and isinstance(nonce, str) and 8 <= len(nonce) <= 128):
        raise HttpSignatureError("keyid is a string and nonce a string of 8-128 characters")
    moment = int(now.timestamp())
    if expires <= moment or expires - created > MAX_LIFETIME.total_seconds():
        raise SignatureExpiredError(
            "the signature has expired (or lives longer than "
            f"{int(MAX_LIFETIME.total_seconds())} s)", expires=expires, now=moment,
        )  # fmt: skip
    if created > moment + CLOCK_SKEW.total_seconds():
        raise SignatureExpiredError("the signature is created in the future", created=created)
    digest = request.header("content-digest") or ""
    try:
        ContentDigest.verify(digest, request.body)
    except InvalidSignature as exc:
        raise ContentDigestMismatchError(
            f"Content-Digest does not match the body: {exc}", component="content-digest"
        ) from exc
    public_key = public_key_of(key_id)
    verifier = _Verifier(
        signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(key_id, public_key)
    )
    message = _Message(request.method.upper(), request.url, _Headers(request.headers))
    try:
        (result,) = verifier.verify(message, require_components=COMPONENTS)
    except HTTPMessageSignaturesException as exc:
        raise HttpSignatureError(f"the signature does not verify: {exc}") from exc
    (signature,) = _dictionary(request.header("Signature") or "").values()
    base = _signature_base(result.covered_components)
    return VerifiedRequest(key_id, created, expires, nonce, base, bytes(signature[0]), digest)


def _dictionary(text: str) -> dict[str, Any]:
    """A structured-field Dictionary (RFC 8941): member name to ``(value, parameters)``."""
    parsed: Any = http_sf.parse(text.encode("ascii"), tltype="dictionary")
    return dict(parsed)


def _signature_base(covered: Mapping[str, str]) -> bytes:
    """The RFC 9421 §2.5 signature base from the verified components (``@signature-params``
    last, as the library returns it)."""
    return "\n".join(f"{name}: {value}" for name, value in covered.items()).encode("ascii")


def verify_signature_base(base: bytes, signature: bytes, public_key: bytes) -> None:
    """An auditor's check of a recorded request: the key signed exactly this base.

    Raises:
        SignatureInvalidError: it did not.
    """
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, base)
    except Exception as exc:  # cryptography raises InvalidSignature, or ValueError on a bad key
        raise SignatureInvalidError("the recorded request signature does not verify") from exc


def sign_request(
    signer: Signer,
    method: str,
    url: str,
    body: bytes,
    *,
    content_type: str = "application/ld+json",
    nonce: str,
    created: datetime,
    lifetime: timedelta = timedelta(minutes=5),
) -> dict[str, str]:
    """The headers that sign a request as :func:`check_request` expects (ERPs, auditors).

    ``signer`` never gives up its key: the library prepares the signature base, the signer
    signs it.
    """
    headers: dict[str, str] = {"Content-Type": content_type}
    message = _Message(method.upper(), url, headers)
    http_signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=None)
    prepared = http_signer.prepare(
        message, key_id=signer.key_id, created=created, expires=created + lifetime,
        nonce=nonce, label=LABEL, include_alg=False, covered_component_ids=COMPONENTS, body=body,
    )  # fmt: skip
    http_signer.apply(message, prepared, signer.sign(prepared.signature_base))
    return headers
