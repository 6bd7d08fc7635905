"""Signed envelopes: sign, open, verify; tamper detection; the event hash; shape limits."""

from __future__ import annotations

import copy
import hashlib
import json
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.builder import DeviceSession
from ledger.canonical import EVENT, EVENT_BODY, b64decode, b64encode, canonical_bytes
from ledger.envelope import (
    MAX_ENVELOPE_BYTES,
    SignedEvent,
    event_hash_of,
    open_envelope,
    sign_body,
)
from ledger.errors import (
    CanonicalizationError,
    MalformedEventError,
    SignatureInvalidError,
)
from ledger.signing import Ed25519Signer

PROPERTY = settings(max_examples=60, deadline=None)
DEVICE = Ed25519Signer.from_seed(bytes(range(32)))
OTHER = Ed25519Signer.from_seed(bytes(range(1, 33)))
ACTOR = "sha256:" + "c3" * 32
CO_ACTOR = "sha256:" + "d4" * 32
QTY = {"value": "12.5", "unit": "L"}
T0 = "2026-03-01T08:00:00Z"
T1 = "2026-03-01T09:30:00.25Z"


def session(signer: Ed25519Signer = DEVICE) -> DeviceSession:
    return DeviceSession(signer=signer, org="acme-chem", actor=ACTOR, catalog_version="2026.1")


def commission(dev: DeviceSession, code: str, time: str = T0) -> dict[str, Any]:
    data = {"chemical": "2.3", "quantity": QTY, "lot": "LOT-1", "packaging": "cylinder"}
    return dev.event("commission", [code], data, time=time)


def shipped() -> dict[str, Any]:
    """A signed 'ship' continuing a commissioned item, with every optional field set."""
    dev = session()
    commission(dev, "CYL-0001")
    return dev.event(
        "ship",
        ["CYL-0001"],
        {
            "carrier": "carrier-co",
            "consignee": "buyer-co",
            "consignee_site": "plant-2",
            "vehicle": "京A12345",
            "waybill_no": "WB-1",
        },
        time=T1,
        site="depot-1",
        geo={"lat": "39.9042", "lon": "116.4074"},
        co_actor=CO_ACTOR,
    )


SHIPPED = shipped()


def fresh() -> dict[str, Any]:
    copied: dict[str, Any] = copy.deepcopy(SHIPPED)
    return copied


def opened(envelope: object) -> SignedEvent:
    return open_envelope(envelope)


# --- variants built the way a device builds them ---------------------------------------

codes = st.from_regex(r"[0-9A-Z][0-9A-Z-]{3,12}", fullmatch=True)
texts = (
    st.text(min_size=1, max_size=40)
    .map(lambda text: unicodedata.normalize("NFC", text))
    .filter(lambda text: 1 <= len(text) <= 200)
)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
)
decimals = st.from_regex(r"(0|[1-9][0-9]{0,6})(\.[0-9]{1,3})?", fullmatch=True)
coordinates = st.from_regex(r"-?(0|[1-9][0-9]?)\.[0-9]{1,6}", fullmatch=True)


@st.composite
def variants(draw: st.DrawFn) -> tuple[DeviceSession, list[dict[str, Any]]]:
    """A session and the envelopes it signed: a commission, then one follow-up event."""
    dev = session()
    code = draw(codes)
    first = commission(dev, code, draw(times))
    quantity = {"value": draw(decimals), "unit": draw(st.sampled_from(["kg", "L", "piece"]))}
    kind = draw(
        st.sampled_from(["use", "store_in", "ship", "waypoint", "inspect", "correct", "transform"])
    )
    common: dict[str, Any] = {
        "time": draw(times),
        "site": draw(st.none() | st.sampled_from(["depot-1", "plant.2"])),
        "co_actor": draw(st.none() | st.just(CO_ACTOR)),
    }
    geo = {"lat": draw(coordinates), "lon": draw(coordinates)}
    items: list[Any] = [code]
    if kind == "use":
        data: dict[str, Any] = {"quantity": quantity, "purpose": draw(texts)}
    elif kind == "store_in":
        data = draw(st.just({}) | st.builds(lambda loc: {"location": loc}, texts))
    elif kind == "ship":
        data = {"carrier": "carrier-co", "consignee": "buyer-co", "consignee_site": "plant-2"}
    elif kind == "waypoint":
        data = {"ship": "sha256:" + "ab" * 32}
        common["geo"] = geo
    elif kind == "inspect":
        data = {"outcome": draw(st.sampled_from(["pass", "fail"])), "inspector": CO_ACTOR}
    elif kind == "correct":
        data = {"corrects": "sha256:" + "ef" * 32, "reason": draw(texts), "changes": {"x": "y"}}
    else:
        output = draw(codes.filter(lambda other: other != code))
        items = [(code, "input"), (output, "output")]
        data = {
            "kind": "decant",
            "inputs": [{"code": code, "quantity": quantity}],
            "outputs": [{"code": output, "quantity": quantity}],
        }
    if common.get("geo") is None and draw(st.booleans()):
        common["geo"] = geo
    second = dev.event(kind, items, data, **common)
    return dev, [first, second]


@PROPERTY
@given(variants())
def test_sign_open_verify_round_trip(case: tuple[DeviceSession, list[dict[str, Any]]]) -> None:
    dev, envelopes = case
    hashes = []
    for envelope in envelopes:
        event = open_envelope(envelope)
        event.verify(DEVICE.public_key)
        assert event.key_id == DEVICE.key_id
        assert event.algorithm == "ed25519"
        assert event.body.type == envelope["body"]["type"]
        assert event.canonical == canonical_bytes(envelope)
        assert event.event_hash == hashlib.sha256(EVENT + event.canonical).digest()
        assert event.signature == DEVICE.sign(EVENT_BODY + canonical_bytes(envelope["body"]))
        hashes.append(event.event_hash)
    # The session's head for the first item is the hash of the last event it signed.
    first_code = envelopes[0]["body"]["items"][0]["code"]
    assert dev.heads[first_code].head_hash == hashes[-1]
    assert dev.heads[first_code].seq == 1
    link = envelopes[1]["body"]["items"][0]
    assert link["prev"] == "sha256:" + hashes[0].hex()


@PROPERTY
@given(variants())
def test_another_key_does_not_verify(case: tuple[DeviceSession, list[dict[str, Any]]]) -> None:
    _, envelopes = case
    with pytest.raises(SignatureInvalidError) as info:
        open_envelope(envelopes[-1]).verify(OTHER.public_key)
    assert info.value.code == "bad_signature"


def test_envelope_shape_from_sign_body() -> None:
    body = fresh()["body"]
    envelope = sign_body(body, DEVICE)
    assert set(envelope) == {"body", "signature"}
    assert envelope["body"] == body
    assert envelope["body"] is not body
    signature = envelope["signature"]
    assert isinstance(signature, dict)
    assert signature["alg"] == "ed25519"
    assert isinstance(signature["value"], str)
    assert len(b64decode(signature["value"])) == 64


def test_signing_is_deterministic_for_one_key() -> None:
    body = fresh()["body"]
    assert sign_body(body, DEVICE) == sign_body(body, DEVICE) == SHIPPED


# --- tampering ------------------------------------------------------------------------


def _with_signature(envelope: dict[str, Any], signature: bytes) -> dict[str, Any]:
    changed = copy.deepcopy(envelope)
    changed["signature"]["value"] = b64encode(signature)
    return changed


@PROPERTY
@given(st.integers(0, 63), st.integers(1, 255))
def test_flipping_any_signature_byte_fails(index: int, mask: int) -> None:
    signature = bytearray(b64decode(SHIPPED["signature"]["value"]))
    signature[index] ^= mask
    event = open_envelope(_with_signature(SHIPPED, bytes(signature)))
    with pytest.raises(SignatureInvalidError):
        event.verify(DEVICE.public_key)
    assert event.event_hash != open_envelope(SHIPPED).event_hash


@pytest.mark.parametrize("length", [0, 32, 63, 65, 128])
def test_signature_of_wrong_length_fails(length: int) -> None:
    signature = (b64decode(SHIPPED["signature"]["value"]) * 3)[:length]
    event = open_envelope(_with_signature(SHIPPED, signature))
    with pytest.raises(SignatureInvalidError):
        event.verify(DEVICE.public_key)


def _set(*path: str | int, value: object) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        node: Any = body
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return apply


def _drop(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        node: Any = body
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return apply


# Each mutation keeps the body valid, so only the signature can catch it.
BODY_MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "time": _set("time", value="2026-03-01T09:30:00.26Z"),
    "time-same-instant-other-spelling": _set("time", value="2026-03-01T09:30:00.250Z"),
    "org": _set("org", value="acme-chem2"),
    "device_key": _set("device_key", value=OTHER.key_id),
    "actor": _set("actor", value=CO_ACTOR),
    "co_actor": _set("co_actor", value=ACTOR),
    "drop-co_actor": _drop("co_actor"),
    "site": _set("site", value="depot-2"),
    "drop-site": _drop("site"),
    "null-site": _set("site", value=None),
    "geo.lat": _set("geo", "lat", value="39.9043"),
    "geo.lon": _set("geo", "lon", value="-116.4074"),
    "drop-geo": _drop("geo"),
    "catalog_version": _set("catalog_version", value="2026.2"),
    "items.code": _set("items", 0, "code", value="CYL-0002"),
    "items.seq-and-prev": _set("items", 0, "seq", value=2),
    "items.prev": _set("items", 0, "prev", value="sha256:" + "00" * 32),
    "items.role-omitted": _drop("items", 0, "role"),
    "data.carrier": _set("data", "carrier", value="carrier-co2"),
    "data.consignee": _set("data", "consignee", value="other-co"),
    "data.vehicle": _set("data", "vehicle", value="京A12346"),
    "drop-data.waybill_no": _drop("data", "waybill_no"),
    "add-data.driver": _set("data", "driver", value=ACTOR),
    "type": lambda body: body.update(type="store_out", data={}),
}


@pytest.mark.parametrize("name", sorted(BODY_MUTATIONS))
def test_changing_any_body_field_fails(name: str) -> None:
    envelope = fresh()
    BODY_MUTATIONS[name](envelope["body"])
    assert envelope["body"] != SHIPPED["body"]
    event = open_envelope(envelope)  # still a well-formed body
    with pytest.raises(SignatureInvalidError):
        event.verify(DEVICE.public_key)
    assert event.event_hash != open_envelope(SHIPPED).event_hash


def test_signature_covers_raw_json_not_the_parsed_model() -> None:
    # An explicit null and an absent field parse to the same model but are different bytes.
    dev = session()
    commission(dev, "CYL-0001")
    envelope = dev.event("use", ["CYL-0001"], {"quantity": QTY}, time=T1)
    with_null = copy.deepcopy(envelope)
    with_null["body"]["site"] = None
    a, b = open_envelope(envelope), open_envelope(with_null)
    assert a.body == b.body
    a.verify(DEVICE.public_key)
    with pytest.raises(SignatureInvalidError):
        b.verify(DEVICE.public_key)


def test_key_order_does_not_matter_for_verification_or_hash() -> None:
    reordered = {
        "signature": dict(reversed(list(SHIPPED["signature"].items()))),
        "body": dict(reversed(list(SHIPPED["body"].items()))),
    }
    event = open_envelope(reordered)
    event.verify(DEVICE.public_key)
    assert event.event_hash == open_envelope(SHIPPED).event_hash


# --- the event hash -------------------------------------------------------------------


def test_event_hash_covers_body_and_signature() -> None:
    event = open_envelope(SHIPPED)
    assert event.event_hash == event_hash_of(canonical_bytes(SHIPPED))
    assert (
        event.event_hash
        == hashlib.sha256(b"chemtrace/v1/event\n" + canonical_bytes(SHIPPED)).digest()
    )
    body_only = hashlib.sha256(EVENT + canonical_bytes(SHIPPED["body"])).digest()
    assert event.event_hash != body_only


def test_resigning_with_another_key_changes_the_hash() -> None:
    resigned = sign_body(SHIPPED["body"], OTHER)
    assert resigned["body"] == SHIPPED["body"]
    assert resigned["signature"] != SHIPPED["signature"]
    a, b = open_envelope(SHIPPED), open_envelope(resigned)
    assert a.body == b.body
    assert a.event_hash != b.event_hash


def test_an_unknown_algorithm_is_malformed_before_any_key_lookup() -> None:
    envelope = fresh()
    envelope["signature"]["alg"] = "ed25519ph"
    with pytest.raises(MalformedEventError) as info:
        open_envelope(envelope)
    assert info.value.context["field"] == "signature.alg"


# --- envelope shape -------------------------------------------------------------------

SHAPE_CASES: dict[str, tuple[Callable[[dict[str, Any]], object], str | None]] = {
    "not-an-object": (lambda env: [env["body"], env["signature"]], "$"),
    "string": (lambda env: json.dumps(env), "$"),
    "none": (lambda env: None, "$"),
    "missing-signature": (lambda env: {"body": env["body"]}, "$"),
    "missing-body": (lambda env: {"signature": env["signature"]}, "$"),
    "extra-top-level-key": (lambda env: {**env, "hash": "x"}, "$"),
    "signature-not-object": (lambda env: {**env, "signature": "AAAA"}, "signature"),
    "signature-missing-alg": (
        lambda env: {**env, "signature": {"value": env["signature"]["value"]}},
        "signature",
    ),
    "signature-missing-value": (lambda env: {**env, "signature": {"alg": "ed25519"}}, "signature"),
    "signature-extra-key": (
        lambda env: {**env, "signature": {**env["signature"], "key_id": DEVICE.key_id}},
        "signature",
    ),
    "alg-int": (lambda env: {**env, "signature": {**env["signature"], "alg": 1}}, "signature"),
    "alg-null": (lambda env: {**env, "signature": {**env["signature"], "alg": None}}, "signature"),
    "value-bytes-list": (
        lambda env: {**env, "signature": {**env["signature"], "value": [1, 2]}},
        "signature",
    ),
    "value-not-base64": (
        lambda env: {**env, "signature": {**env["signature"], "value": "not base64!"}},
        "signature.value",
    ),
    "value-unpadded": (
        lambda env: {**env, "signature": {**env["signature"], "value": "QQ"}},
        "signature.value",
    ),
    "value-urlsafe": (
        lambda env: {
            **env,
            "signature": {
                **env["signature"],
                "value": env["signature"]["value"].replace("+", "-").replace("/", "_") + "-_",
            },
        },
        "signature.value",
    ),
    "value-with-newline": (
        lambda env: {**env, "signature": {**env["signature"], "value": "QUJD\n"}},
        "signature.value",
    ),
    "body-not-object": (lambda env: {**env, "body": [env["body"]]}, "body"),
    "body-string": (lambda env: {**env, "body": "{}"}, "body"),
    "body-invalid": (lambda env: {**env, "body": {**env["body"], "org": "ACME"}}, "ship.org"),
    "body-extra-field": (lambda env: {**env, "body": {**env["body"], "x": 1}}, "ship.x"),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_envelope_shape_errors(name: str) -> None:
    build, field = SHAPE_CASES[name]
    with pytest.raises(MalformedEventError) as info:
        open_envelope(build(fresh()))
    assert info.value.code == "malformed_event"
    assert info.value.context.get("field") == field


def test_body_with_an_integer_jcs_cannot_encode_is_malformed() -> None:
    # seq 2**53 passes the body model but is outside the JCS safe-integer domain.
    envelope = fresh()
    envelope["body"]["items"][0].update(seq=2**53)
    with pytest.raises(MalformedEventError) as info:
        open_envelope(envelope)
    assert info.value.context.get("field") in {"body", "ship.items.0.seq"}
    with pytest.raises(CanonicalizationError):
        sign_body(envelope["body"], DEVICE)


# --- size limit -----------------------------------------------------------------------


def _padded(reason_length: int, change_length: int) -> dict[str, Any]:
    dev = session()
    commission(dev, "CYL-0001")
    data = {
        "corrects": "sha256:" + "ef" * 32,
        "reason": "r" * reason_length,
        "changes": {"data.note": "x" * change_length},
    }
    return dev.event("correct", ["CYL-0001"], data, time=T1)


def _envelope_of_size(size: int) -> dict[str, Any]:
    base = len(canonical_bytes(_padded(1, 0)))
    envelope = _padded(1, size - base)
    assert len(canonical_bytes(envelope)) == size
    return envelope


def test_envelope_at_the_limit_is_accepted() -> None:
    event = open_envelope(_envelope_of_size(MAX_ENVELOPE_BYTES))
    assert len(event.canonical) == MAX_ENVELOPE_BYTES == 256 * 1024
    event.verify(DEVICE.public_key)


@pytest.mark.parametrize("size", [MAX_ENVELOPE_BYTES + 1, MAX_ENVELOPE_BYTES + 4096, 600_000])
def test_envelope_over_256_kib_is_rejected(size: int) -> None:
    envelope = _envelope_of_size(size)
    with pytest.raises(MalformedEventError) as info:
        open_envelope(envelope)
    assert info.value.context["size"] == size


def test_size_counts_utf8_bytes_not_characters() -> None:
    envelope = _envelope_of_size(MAX_ENVELOPE_BYTES)
    # Swap one ASCII 'x' for a 3-byte character: same length in characters, 2 bytes more.
    changes = envelope["body"]["data"]["changes"]
    changes["data.note"] = "中" + changes["data.note"][1:]
    with pytest.raises(MalformedEventError) as info:
        open_envelope(envelope)
    assert info.value.context["size"] == MAX_ENVELOPE_BYTES + 2
