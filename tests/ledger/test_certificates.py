"""Certificates and the trust store: root -> org -> device, judged at log time."""

from __future__ import annotations

import base64
import copy
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ledger.canonical import CERTIFICATE, domain_hash, signing_input
from ledger.certificates import (
    Certificate,
    TrustStore,
    certificate_from_json,
    issue_certificate,
    require_valid_window,
)
from ledger.errors import (
    InvalidInputError,
    KeyNotValidAtLogTimeError,
    SignatureInvalidError,
    UnknownKeyError,
    VerificationError,
)
from ledger.signing import ED25519, Ed25519Signer, key_id_for, verify_signature

ROOT = Ed25519Signer.from_seed(b"\x01" * 32)
ORG = Ed25519Signer.from_seed(b"\x02" * 32)
ORG2 = Ed25519Signer.from_seed(b"\x03" * 32)  # the same org's next key
OTHER_ORG = Ed25519Signer.from_seed(b"\x04" * 32)
DEVICE = Ed25519Signer.from_seed(b"\x05" * 32)
DEVICE2 = Ed25519Signer.from_seed(b"\x06" * 32)
ATTACKER = Ed25519Signer.from_seed(b"\x07" * 32)

ORG_FROM, ORG_UNTIL = "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"
DEV_FROM, DEV_UNTIL = "2026-02-01T00:00:00Z", "2026-08-01T00:00:00Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cert(
    issuer: Ed25519Signer,
    subject: Ed25519Signer,
    *,
    role: Any = "device",
    org: str = "acme-chem",
    valid_from: str = DEV_FROM,
    valid_until: str = DEV_UNTIL,
) -> Certificate:
    return issue_certificate(
        issuer,
        role=role,
        subject_algorithm=ED25519,
        subject_public_key=subject.public_key,
        org=org,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def org_cert(
    subject: Ed25519Signer = ORG,
    *,
    org: str = "acme-chem",
    valid_from: str = ORG_FROM,
    valid_until: str = ORG_UNTIL,
) -> Certificate:
    return cert(ROOT, subject, role="org", org=org, valid_from=valid_from, valid_until=valid_until)


def store(*certs: Certificate) -> TrustStore:
    trust = TrustStore(root_algorithm=ED25519, root_public_key=ROOT.public_key)
    for one in certs:
        trust.add(one)
    return trust


def standard() -> TrustStore:
    return store(org_cert(), cert(ORG, DEVICE))


# --- issuing --------------------------------------------------------------------------


def test_issued_certificate_fields() -> None:
    device = cert(ORG, DEVICE)
    assert device.issuer == ORG.key_id
    assert device.key_id == DEVICE.key_id == key_id_for(ED25519, DEVICE.public_key)
    assert device.payload() == {
        "issuer": ORG.key_id,
        "org": "acme-chem",
        "role": "device",
        "subject": {
            "alg": "ed25519",
            "key_id": DEVICE.key_id,
            "public_key": base64.b64encode(DEVICE.public_key).decode(),
        },
        "v": 1,
        "valid_from": DEV_FROM,
        "valid_until": DEV_UNTIL,
    }
    assert device.entry_hash == domain_hash(CERTIFICATE, device.to_json())
    verify_signature(
        ED25519, ORG.public_key, signing_input(CERTIFICATE, device.payload()), device.signature
    )


def test_covers_is_half_open() -> None:
    device = cert(ORG, DEVICE)
    assert device.covers(at(DEV_FROM))
    assert device.covers(at(DEV_UNTIL) - timedelta(microseconds=1))
    assert not device.covers(at(DEV_UNTIL))
    assert not device.covers(at(DEV_FROM) - timedelta(microseconds=1))


@pytest.mark.parametrize(
    ("valid_from", "valid_until"),
    [(DEV_FROM, DEV_FROM), (DEV_UNTIL, DEV_FROM)],
)
def test_require_valid_window_rejects_empty_windows(valid_from: str, valid_until: str) -> None:
    with pytest.raises(VerificationError):
        require_valid_window(cert(ORG, DEVICE, valid_from=valid_from, valid_until=valid_until))


def test_require_valid_window_accepts_one_microsecond() -> None:
    require_valid_window(
        cert(ORG, DEVICE, valid_from=DEV_FROM, valid_until="2026-02-01T00:00:00.000001Z")
    )


# --- adding certificates --------------------------------------------------------------


def test_org_certificate_must_be_root_issued() -> None:
    trust = store(org_cert())
    with pytest.raises(UnknownKeyError) as info:
        trust.add(cert(ORG, OTHER_ORG, role="org", org="other-co"))
    assert info.value.code == "unknown_key"
    assert info.value.context["key_id"] == OTHER_ORG.key_id
    with pytest.raises(UnknownKeyError):
        store().add(cert(ATTACKER, ORG, role="org"))
    assert trust.certificates_for(OTHER_ORG.key_id) == []


def test_device_certificate_needs_a_known_org_key_of_the_same_org() -> None:
    trust = store(org_cert(), org_cert(OTHER_ORG, org="other-co"))
    trust.add(cert(ORG, DEVICE))  # same org: fine
    with pytest.raises(UnknownKeyError):
        trust.add(cert(OTHER_ORG, DEVICE2, org="acme-chem"))  # other org's key
    with pytest.raises(UnknownKeyError):
        trust.add(cert(ORG, DEVICE2, org="other-co"))  # acme's key signing for other-co
    with pytest.raises(UnknownKeyError):
        trust.add(cert(ORG2, DEVICE2))  # never certified
    with pytest.raises(UnknownKeyError):
        trust.add(cert(ROOT, DEVICE2))  # the root does not certify devices directly
    with pytest.raises(UnknownKeyError):
        trust.add(cert(DEVICE, DEVICE2))  # a device key is not an org key
    assert [c.key_id for c in trust.certificates_for(DEVICE.key_id)] == [DEVICE.key_id]
    assert trust.certificates_for(DEVICE2.key_id) == []


def test_forged_org_certificate_claiming_the_root_is_rejected() -> None:
    forged = cert(ATTACKER, ATTACKER, role="org")
    forged = replace(forged, issuer=ROOT.key_id)
    forged = replace(forged, signature=ATTACKER.sign(signing_input(CERTIFICATE, forged.payload())))
    trust = store()
    with pytest.raises(SignatureInvalidError) as info:
        trust.add(forged)
    assert info.value.context["key_id"] == ATTACKER.key_id
    assert trust.certificates_for(ATTACKER.key_id) == []


def test_forged_device_certificate_claiming_an_org_key_is_rejected() -> None:
    forged = replace(cert(ATTACKER, DEVICE2), issuer=ORG.key_id)
    forged = replace(forged, signature=ATTACKER.sign(signing_input(CERTIFICATE, forged.payload())))
    trust = standard()
    with pytest.raises(SignatureInvalidError):
        trust.add(forged)
    with pytest.raises(UnknownKeyError):
        trust.device_certificate(DEVICE2.key_id, "acme-chem", at("2026-03-01T00:00:00Z"))


@pytest.mark.parametrize(
    "change",
    [
        {"org": "other-co"},
        {"valid_until": "2036-01-01T00:00:00Z"},
        {"valid_from": "2020-01-01T00:00:00Z"},
        {"public_key": ATTACKER.public_key},
        {"role": "org"},
    ],
    ids=["org", "valid_until", "valid_from", "public_key", "role"],
)
def test_tampered_certificate_is_rejected(change: dict[str, Any]) -> None:
    if change.get("role") == "org":
        tampered = replace(cert(ROOT, DEVICE, role="device"), **change)
        trust = store()
    else:
        tampered = replace(cert(ORG, DEVICE), **change)
        trust = store(org_cert(), org_cert(ORG, org="other-co"))
    with pytest.raises(SignatureInvalidError):
        trust.add(tampered)


def test_adding_the_same_certificate_twice_is_idempotent() -> None:
    trust = standard()
    trust.add(cert(ORG, DEVICE))
    assert trust.certificates_for(DEVICE.key_id) == [cert(ORG, DEVICE)]


@pytest.mark.parametrize(
    "change",
    [{"valid_until": "2036-01-01T00:00:00Z"}, {"org": "other-co"}, {"role": "org"}],
    ids=["valid_until", "org", "role"],
)
def test_tampered_copy_of_a_known_certificate_is_rejected(change: dict[str, Any]) -> None:
    trust = store(org_cert(), org_cert(ORG, org="other-co"), cert(ORG, DEVICE))
    with pytest.raises((SignatureInvalidError, UnknownKeyError)):
        trust.add(replace(cert(ORG, DEVICE), **change))


def test_unsigned_certificate_is_rejected() -> None:
    with pytest.raises(SignatureInvalidError):
        store(org_cert()).add(replace(cert(ORG, DEVICE), signature=b""))


# --- device_certificate at a log time -------------------------------------------------


def test_device_certificate_inside_the_window() -> None:
    trust = standard()
    found = trust.device_certificate(DEVICE.key_id, "acme-chem", at("2026-03-01T12:00:00Z"))
    assert found == cert(ORG, DEVICE)
    assert found.role == "device"


def test_device_certificate_unknown_key() -> None:
    with pytest.raises(UnknownKeyError) as info:
        standard().device_certificate(DEVICE2.key_id, "acme-chem", at("2026-03-01T00:00:00Z"))
    assert info.value.context == {"key_id": DEVICE2.key_id, "org": "acme-chem"}


def test_device_certificate_for_another_org() -> None:
    trust = store(org_cert(), cert(ORG, DEVICE), org_cert(OTHER_ORG, org="other-co"))
    with pytest.raises(UnknownKeyError) as info:
        trust.device_certificate(DEVICE.key_id, "other-co", at("2026-03-01T00:00:00Z"))
    assert info.value.context["org"] == "other-co"


def test_org_key_is_not_a_device_key() -> None:
    with pytest.raises(UnknownKeyError):
        standard().device_certificate(ORG.key_id, "acme-chem", at("2026-03-01T00:00:00Z"))


@pytest.mark.parametrize(
    "moment",
    [
        at(DEV_UNTIL),
        at(DEV_UNTIL) + timedelta(microseconds=1),
        at(DEV_FROM) - timedelta(microseconds=1),
        at("2025-06-01T00:00:00Z"),
        at("2030-01-01T00:00:00Z"),
    ],
    ids=["at-valid-until", "just-after", "just-before", "long-before", "long-after"],
)
def test_device_certificate_outside_the_window(moment: datetime) -> None:
    with pytest.raises(KeyNotValidAtLogTimeError) as info:
        standard().device_certificate(DEVICE.key_id, "acme-chem", moment)
    assert info.value.code == "key_not_valid_at_log_time"
    assert info.value.context["key_id"] == DEVICE.key_id


@pytest.mark.parametrize(
    "moment",
    [at(DEV_FROM), at(DEV_UNTIL) - timedelta(microseconds=1)],
    ids=["at-valid-from", "last-microsecond"],
)
def test_device_certificate_at_the_edges_of_the_window(moment: datetime) -> None:
    assert standard().device_certificate(DEVICE.key_id, "acme-chem", moment).key_id == DEVICE.key_id


def test_moment_with_another_offset_is_the_same_instant() -> None:
    moment = at(DEV_UNTIL).astimezone(timezone(timedelta(hours=8)))
    assert moment.hour == 8
    with pytest.raises(KeyNotValidAtLogTimeError):
        standard().device_certificate(DEVICE.key_id, "acme-chem", moment)


def test_expired_org_certificate_invalidates_a_valid_device_certificate() -> None:
    # The device window outlives its org certificate.
    trust = store(
        org_cert(valid_until="2026-05-01T00:00:00Z"),
        cert(ORG, DEVICE, valid_from=DEV_FROM, valid_until=DEV_UNTIL),
    )
    assert trust.device_certificate(DEVICE.key_id, "acme-chem", at("2026-04-30T23:59:59Z"))
    moment = at("2026-05-01T00:00:00Z")
    assert cert(ORG, DEVICE).covers(moment)
    with pytest.raises(KeyNotValidAtLogTimeError):
        trust.device_certificate(DEVICE.key_id, "acme-chem", moment)


def test_org_certificate_not_yet_valid_invalidates_the_device() -> None:
    trust = store(org_cert(valid_from="2026-03-01T00:00:00Z"), cert(ORG, DEVICE))
    with pytest.raises(KeyNotValidAtLogTimeError):
        trust.device_certificate(DEVICE.key_id, "acme-chem", at("2026-02-15T00:00:00Z"))
    assert trust.device_certificate(DEVICE.key_id, "acme-chem", at("2026-03-01T00:00:00Z"))


# --- rotation -------------------------------------------------------------------------


def test_device_rotation_to_a_new_key() -> None:
    first = cert(ORG, DEVICE, valid_from="2026-02-01T00:00:00Z", valid_until="2026-05-01T00:00:00Z")
    second = cert(
        ORG, DEVICE2, valid_from="2026-05-01T00:00:00Z", valid_until="2026-09-01T00:00:00Z"
    )
    trust = store(org_cert(), first, second)
    old_time, new_time = at("2026-03-15T00:00:00Z"), at("2026-06-15T00:00:00Z")
    boundary = at("2026-05-01T00:00:00Z")
    assert trust.device_certificate(DEVICE.key_id, "acme-chem", old_time) == first
    assert trust.device_certificate(DEVICE2.key_id, "acme-chem", new_time) == second
    assert trust.device_certificate(DEVICE2.key_id, "acme-chem", boundary) == second
    with pytest.raises(KeyNotValidAtLogTimeError):
        trust.device_certificate(DEVICE.key_id, "acme-chem", new_time)
    with pytest.raises(KeyNotValidAtLogTimeError):
        trust.device_certificate(DEVICE.key_id, "acme-chem", boundary)
    with pytest.raises(KeyNotValidAtLogTimeError):
        trust.device_certificate(DEVICE2.key_id, "acme-chem", old_time)


def test_renewal_of_one_key_picks_the_covering_certificate() -> None:
    first = cert(ORG, DEVICE, valid_from="2026-02-01T00:00:00Z", valid_until="2026-05-01T00:00:00Z")
    second = cert(
        ORG, DEVICE, valid_from="2026-05-01T00:00:00Z", valid_until="2026-09-01T00:00:00Z"
    )
    trust = store(org_cert(), first, second)
    assert trust.certificates_for(DEVICE.key_id) == [first, second]
    assert trust.device_certificate(DEVICE.key_id, "acme-chem", at("2026-03-01T00:00:00Z")) == first
    assert (
        trust.device_certificate(DEVICE.key_id, "acme-chem", at("2026-05-01T00:00:00Z")) == second
    )
    with pytest.raises(KeyNotValidAtLogTimeError):
        trust.device_certificate(DEVICE.key_id, "acme-chem", at("2026-09-01T00:00:00Z"))


def test_org_key_rotation_keeps_old_devices_valid_in_their_windows() -> None:
    org_a = org_cert(ORG, valid_from="2026-01-01T00:00:00Z", valid_until="2026-06-01T00:00:00Z")
    org_b = org_cert(ORG2, valid_from="2026-06-01T00:00:00Z", valid_until="2027-01-01T00:00:00Z")
    dev_a = cert(ORG, DEVICE, valid_from="2026-01-01T00:00:00Z", valid_until="2026-12-01T00:00:00Z")
    dev_b = cert(
        ORG2, DEVICE2, valid_from="2026-06-01T00:00:00Z", valid_until="2027-01-01T00:00:00Z"
    )
    trust = store(org_a, org_b, dev_a, dev_b)
    assert trust.device_certificate(DEVICE.key_id, "acme-chem", at("2026-03-01T00:00:00Z")) == dev_a
    assert (
        trust.device_certificate(DEVICE2.key_id, "acme-chem", at("2026-07-01T00:00:00Z")) == dev_b
    )
    # DEVICE's own window runs on, but the org key that certified it has expired.
    with pytest.raises(KeyNotValidAtLogTimeError):
        trust.device_certificate(DEVICE.key_id, "acme-chem", at("2026-07-01T00:00:00Z"))


# --- certificate JSON -----------------------------------------------------------------


def test_certificate_json_round_trip() -> None:
    for one in (org_cert(), cert(ORG, DEVICE)):
        as_json = one.to_json()
        assert set(as_json) == {"cert", "signature"}
        assert set(as_json["cert"]) == {  # type: ignore[arg-type]
            "issuer",
            "org",
            "role",
            "subject",
            "v",
            "valid_from",
            "valid_until",
        }
        parsed = certificate_from_json(copy.deepcopy(as_json))
        assert parsed == one
        assert parsed.entry_hash == one.entry_hash


def _device_json() -> dict[str, Any]:
    raw: dict[str, Any] = copy.deepcopy(cert(ORG, DEVICE).to_json())
    return raw


def _mutate(path: tuple[str, ...], value: object) -> dict[str, Any]:
    raw = _device_json()
    node = raw
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return raw


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    raw = _device_json()
    node = raw
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return raw


BAD_CERT_JSON: dict[str, dict[str, Any]] = {
    "mismatched-key-id": _mutate(("cert", "subject", "key_id"), DEVICE2.key_id),
    "uppercase-key-id": _mutate(("cert", "subject", "key_id"), DEVICE.key_id.upper()),
    "missing-key-id": _without(("cert", "subject", "key_id")),
    "extra-top-level": _mutate(("log_index",), 3),
    "extra-in-cert": _mutate(("cert", "note"), "x"),
    "extra-in-subject": _mutate(("cert", "subject", "usage"), "signing"),
    "version-2": _mutate(("cert", "v"), 2),
    "version-string": _mutate(("cert", "v"), "1"),
    "missing-signature": _without(("signature",)),
    "missing-issuer": _without(("cert", "issuer")),
    "missing-subject": _without(("cert", "subject")),
    "unknown-role": _mutate(("cert", "role"), "admin"),
    "unknown-alg": _mutate(("cert", "subject", "alg"), "sm2"),
    "bad-public-key-base64": _mutate(("cert", "subject", "public_key"), "not base64"),
    "bad-signature-base64": _mutate(("signature",), "QQ"),
    "offset-valid-from": _mutate(("cert", "valid_from"), "2026-02-01T08:00:00+08:00"),
    "impossible-valid-until": _mutate(("cert", "valid_until"), "2026-02-30T00:00:00Z"),
    "cert-not-object": _mutate(("cert",), "x"),
    "subject-not-object": _mutate(("cert", "subject"), ["x"]),
}


@pytest.mark.parametrize("name", sorted(BAD_CERT_JSON))
def test_certificate_from_json_rejects(name: str) -> None:
    with pytest.raises(InvalidInputError):
        certificate_from_json(BAD_CERT_JSON[name])


@pytest.mark.parametrize(
    ("path", "value"),
    [(("cert", "v"), True), (("cert", "v"), 1.0), (("cert", "org"), 5)],
    ids=["v-true", "v-float", "org-int"],
)
def test_certificate_from_json_rejects_wrong_json_types(
    path: tuple[str, ...], value: object
) -> None:
    # Python equality (True == 1 == 1.0) must not let other JSON bytes through.
    with pytest.raises(InvalidInputError):
        certificate_from_json(_mutate(path, value))


@pytest.mark.parametrize("name", ["valid_from", "valid_until"])
def test_certificate_from_json_rejects_non_string_times(name: str) -> None:
    with pytest.raises(InvalidInputError):
        certificate_from_json(_mutate(("cert", name), 1769904000))
