"""RFC 9421 request signatures: each refusal has its own code, naming what is missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.errors import SignatureInvalidError, UnknownKeyError
from ledger.http_signature import (
    ComponentsMissingError,
    ContentDigestMismatchError,
    HttpSignatureError,
    Request,
    SignatureExpiredError,
    SignatureMissingError,
    check_request,
    sign_request,
    verify_signature_base,
)
from ledger.signing import Ed25519Signer

URL = "https://ledger.example/epcis/capture/signed?actor=sha256%3Aab&catalog=2026.1"
BODY = b'{"type":"EPCISDocument"}'
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SIGNER = Ed25519Signer.from_seed(b"\x07" * 32)  # a throwaway test key


def signed(
    body: bytes = BODY, *, created: datetime = NOW, lifetime: timedelta = timedelta(minutes=5)
) -> Request:
    headers = sign_request(SIGNER, "POST", URL, body, nonce="n-0123456789", created=created,
                           lifetime=lifetime)  # fmt: skip
    return Request("POST", URL, tuple(headers.items()), body)


def key_of(key_id: str) -> bytes:
    if key_id != SIGNER.key_id:
        raise UnknownKeyError("no such key", key_id=key_id)
    return SIGNER.public_key


def test_a_signed_request_verifies_and_its_base_verifies_again_for_an_auditor() -> None:
    verified = check_request(signed(), key_of, NOW)
    assert (verified.key_id, verified.nonce) == (SIGNER.key_id, "n-0123456789")
    lines = verified.signature_base.decode().split("\n")
    assert [line.split(": ", 1)[0] for line in lines] == [
        '"@method"', '"@target-uri"', '"content-type"', '"content-digest"', '"@signature-params"'
    ]  # fmt: skip
    assert lines[1] == f'"@target-uri": {URL}'
    verify_signature_base(verified.signature_base, verified.signature, SIGNER.public_key)
    with pytest.raises(SignatureInvalidError):
        verify_signature_base(verified.signature_base + b" ", verified.signature,
                              SIGNER.public_key)  # fmt: skip


def without(request: Request, name: str) -> Request:
    lines = tuple((k, v) for k, v in request.headers if k.lower() != name.lower())
    return Request(request.method, request.url, lines, request.body)


def replaced(request: Request, name: str, value: str) -> Request:
    return Request(request.method, request.url, (*without(request, name).headers, (name, value)),
                   request.body)  # fmt: skip


def test_each_refusal_has_its_code() -> None:
    request = signed()
    with pytest.raises(SignatureMissingError):
        check_request(without(request, "Signature"), key_of, NOW)
    with pytest.raises(ComponentsMissingError) as missing:
        check_request(without(request, "Content-Digest"), key_of, NOW)
    assert missing.value.context["component"] == "content-digest"
    with pytest.raises(ContentDigestMismatchError):
        check_request(Request("POST", URL, request.headers, BODY + b" "), key_of, NOW)
    with pytest.raises(HttpSignatureError) as bad:  # another method: the base differs
        check_request(Request("PUT", URL, request.headers, BODY), key_of, NOW)
    assert bad.value.code == "signature_invalid"
    with pytest.raises(HttpSignatureError) as other_uri:
        check_request(Request("POST", URL + "x", request.headers, BODY), key_of, NOW)
    assert other_uri.value.code == "signature_invalid"
    with pytest.raises(SignatureExpiredError):
        check_request(request, key_of, NOW + timedelta(minutes=6))
    with pytest.raises(SignatureExpiredError):  # too long-lived for the nonce store
        check_request(signed(lifetime=timedelta(hours=1)), key_of, NOW)
    with pytest.raises(SignatureExpiredError):  # created in the future
        check_request(signed(created=NOW + timedelta(minutes=2)), key_of, NOW)
    stranger = Ed25519Signer.from_seed(b"\x08" * 32)
    headers = sign_request(stranger, "POST", URL, BODY, nonce="n-0123456789", created=NOW)
    with pytest.raises(UnknownKeyError):
        check_request(Request("POST", URL, tuple(headers.items()), BODY), key_of, NOW)


def test_a_signature_that_covers_too_little_names_the_component() -> None:
    request = signed()
    sig_input = dict(request.headers)["Signature-Input"]
    narrowed = sig_input.replace(' "content-type"', "")
    with pytest.raises(ComponentsMissingError) as missing:
        check_request(replaced(request, "Signature-Input", narrowed), key_of, NOW)
    assert missing.value.context["component"] == "content-type"
    no_nonce = sig_input.replace(';nonce="n-0123456789"', "")
    with pytest.raises(ComponentsMissingError) as param:
        check_request(replaced(request, "Signature-Input", no_nonce), key_of, NOW)
    assert param.value.context["component"] == "nonce"
