"""Salted commitments, leaf records, and the log's receipts and item-head statements."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import ITEM_HEAD, RECEIPT, signing_input
from ledger.commitments import SALT_BYTES, Disclosure, commit, disclose, opens
from ledger.errors import InvalidInputError, SignatureInvalidError
from ledger.leaf import LEAF_VERSION, LeafRecord, decode_leaf
from ledger.merkle import leaf_hash
from ledger.signing import ED25519, Ed25519Signer
from ledger.statements import ItemHeadStatement, Receipt, signature_from_json

PROPERTY = settings(max_examples=150, deadline=None)
LOG = Ed25519Signer.from_seed(b"\x07" * 32)
OTHER = Ed25519Signer.from_seed(b"\x08" * 32)
SALT = bytes(range(16))

# --- commitments ----------------------------------------------------------------------

salts = st.binary(min_size=SALT_BYTES, max_size=SALT_BYTES)


@PROPERTY
@given(st.text(max_size=30), st.text(max_size=30), salts)
def test_same_inputs_give_the_same_commitment(kind: str, value: str, salt: bytes) -> None:
    first = commit(kind, value, salt)
    assert first == commit(kind, value, salt)
    assert first.startswith("sha256:")
    assert len(first) == len("sha256:") + 64


@PROPERTY
@given(st.text(max_size=30), salts, salts)
def test_different_salt_gives_a_different_commitment(value: str, a: bytes, b: bytes) -> None:
    if a == b:
        return
    assert commit("person", value, a) != commit("person", value, b)


@PROPERTY
@given(st.text(max_size=30), st.text(max_size=30), salts)
def test_different_value_gives_a_different_commitment(a: str, b: str, salt: bytes) -> None:
    if a == b:
        return
    assert commit("person", a, salt) != commit("person", b, salt)


def test_kind_is_bound_into_the_commitment() -> None:
    assert commit("person", "13800138000", SALT) != commit("phone", "13800138000", SALT)


def test_commitment_known_answer() -> None:
    payload = {"kind": "person", "salt": base64.b64encode(SALT).decode(), "value": "Zhang San"}
    jcs = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    expected = hashlib.sha256(b"chemtrace/v1/commitment\n" + jcs).hexdigest()
    assert commit("person", "Zhang San", SALT) == "sha256:" + expected


def test_disclose_uses_a_fresh_salt() -> None:
    a, b = disclose("person", "Li Si"), disclose("person", "Li Si")
    assert len(a.salt) == SALT_BYTES == 16
    assert a.salt != b.salt
    assert a.commitment != b.commitment
    assert a.commitment == commit("person", "Li Si", a.salt)


def test_opens() -> None:
    disclosure = Disclosure("person", "Wang Wu", SALT)
    commitment = commit("person", "Wang Wu", SALT)
    assert opens(commitment, disclosure)
    assert not opens(commitment, Disclosure("person", "Wang Liu", SALT))
    assert not opens(commitment, Disclosure("person", "Wang Wu", bytes(16)))
    assert not opens(commitment, Disclosure("phone", "Wang Wu", SALT))
    assert not opens(commitment.upper(), disclosure)


@PROPERTY
@given(st.text(max_size=30), st.text(max_size=30))
def test_a_disclosure_opens_its_own_commitment(kind: str, value: str) -> None:
    disclosure = disclose(kind, value)
    assert opens(disclosure.commitment, disclosure)


# --- leaf records ---------------------------------------------------------------------

DIGEST = bytes(range(32))
LOG_TIME = "2026-03-01T08:00:00.123456Z"
GOOD_LEAF = (
    b'{"hash":"sha256:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",'
    b'"kind":"event","log_time":"2026-03-01T08:00:00.123456Z","v":1}'
)

log_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
)


def test_leaf_known_bytes() -> None:
    assert LeafRecord("event", DIGEST, LOG_TIME).encode() == GOOD_LEAF
    assert decode_leaf(GOOD_LEAF) == LeafRecord("event", DIGEST, LOG_TIME)
    assert LEAF_VERSION == 1


@PROPERTY
@given(st.sampled_from(["event", "certificate"]), st.binary(min_size=32, max_size=32), log_times)
def test_leaf_round_trip(kind: Any, digest: bytes, log_time: str) -> None:
    record = LeafRecord(kind, digest, log_time)
    data = record.encode()
    assert decode_leaf(data) == record
    assert json.loads(data) == {
        "hash": "sha256:" + digest.hex(),
        "kind": kind,
        "log_time": log_time,
        "v": 1,
    }


def _leaf(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "hash": "sha256:" + DIGEST.hex(),
        "kind": "event",
        "log_time": LOG_TIME,
        "v": 1,
        **changes,
    }
    return json.dumps(fields, separators=(",", ":")).encode()


BAD_LEAVES: dict[str, bytes] = {
    "space-after-colon": GOOD_LEAF.replace(b'"kind":', b'"kind": '),
    "space-after-comma": GOOD_LEAF.replace(b",", b", ", 1),
    "trailing-newline": GOOD_LEAF + b"\n",
    "leading-space": b" " + GOOD_LEAF,
    "reordered-keys": json.dumps(
        {"v": 1, "kind": "event", "hash": "sha256:" + DIGEST.hex(), "log_time": LOG_TIME},
        separators=(",", ":"),
    ).encode(),
    "escaped-char": GOOD_LEAF.replace(b'"event"', b'"\\u0065vent"'),
    "duplicate-key": GOOD_LEAF[:-1] + b',"v":1}',
    "unknown-kind": _leaf(kind="checkpoint"),
    "kind-case": _leaf(kind="Event"),
    "version-2": _leaf(v=2),
    "version-0": _leaf(v=0),
    "version-string": _leaf(v="1"),
    "version-true": _leaf(v=True),
    "version-float": _leaf(v=1.0),
    "extra-field": _leaf(extra=1),
    "missing-log-time": json.dumps(
        {"hash": "sha256:" + DIGEST.hex(), "kind": "event", "v": 1}, separators=(",", ":")
    ).encode(),
    "uppercase-hash": _leaf(hash="sha256:" + DIGEST.hex().upper()),
    "short-hash": _leaf(hash="sha256:" + DIGEST.hex()[:-2]),
    "whitespace-in-hash": _leaf(hash="sha256:" + DIGEST.hex()[:-2] + "  "),
    "hash-not-string": _leaf(hash=5),
    "offset-log-time": _leaf(log_time="2026-03-01T16:00:00+08:00"),
    "impossible-log-time": _leaf(log_time="2026-02-30T08:00:00Z"),
    "log-time-not-string": _leaf(log_time=0),
    "not-json": b"not json",
    "not-utf8": b'{"kind":"\xff"}',
    "array": b"[]",
    "null": b"null",
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(BAD_LEAVES))
def test_decode_leaf_rejects(name: str) -> None:
    with pytest.raises(InvalidInputError):
        decode_leaf(BAD_LEAVES[name])


@pytest.mark.parametrize("kind", [[], {}, ["event"]])
def test_decode_leaf_rejects_unhashable_kind(kind: object) -> None:
    # Must be InvalidInputError, not TypeError: the auditor catches only LedgerError here.
    with pytest.raises(InvalidInputError):
        decode_leaf(_leaf(kind=kind))


def test_leaf_hash_is_rfc9162() -> None:
    assert leaf_hash(GOOD_LEAF) == hashlib.sha256(b"\x00" + GOOD_LEAF).digest()


# --- receipts -------------------------------------------------------------------------

RECEIPT_BASE = Receipt(
    origin="chemtrace.test/log",
    entry_hash=bytes(range(32)),
    leaf_hash=bytes(range(32, 64)),
    index=41,
    log_time=LOG_TIME,
)

RECEIPT_CHANGES: dict[str, object] = {
    "origin": "chemtrace.test/log2",
    "entry_hash": bytes(range(1, 33)),
    "leaf_hash": bytes(range(33, 65)),
    "index": 42,
    "log_time": "2026-03-01T08:00:00.123457Z",
}


def test_receipt_fields_are_all_covered_by_the_table() -> None:
    names = {f.name for f in dataclasses.fields(Receipt)} - {"signature"}
    assert names == set(RECEIPT_CHANGES)


def test_receipt_signature_verifies() -> None:
    receipt = RECEIPT_BASE.signed_by(LOG)
    assert len(receipt.signature) == 64
    receipt.verify(ED25519, LOG.public_key)
    assert receipt.payload() == {
        "entry_hash": "sha256:" + bytes(range(32)).hex(),
        "index": 41,
        "leaf_hash": "sha256:" + bytes(range(32, 64)).hex(),
        "log_time": LOG_TIME,
        "origin": "chemtrace.test/log",
    }


def test_receipt_json_round_trips_and_malformed_json_is_refused() -> None:
    receipt = RECEIPT_BASE.signed_by(LOG)
    assert Receipt.from_json(json.loads(json.dumps(receipt.to_json()))) == receipt
    for broken in ({}, {**receipt.to_json(), "entry_hash": "md5:00"}):
        with pytest.raises(InvalidInputError):
            Receipt.from_json(broken)


@pytest.mark.parametrize("name", sorted(RECEIPT_CHANGES))
def test_receipt_fails_when_a_field_changes(name: str) -> None:
    receipt = RECEIPT_BASE.signed_by(LOG)
    changed = replace(receipt, **{name: RECEIPT_CHANGES[name]})
    with pytest.raises(SignatureInvalidError):
        changed.verify(ED25519, LOG.public_key)


def test_receipt_fails_under_another_key_or_unsigned() -> None:
    receipt = RECEIPT_BASE.signed_by(LOG)
    with pytest.raises(SignatureInvalidError):
        receipt.verify(ED25519, OTHER.public_key)
    with pytest.raises(SignatureInvalidError):
        RECEIPT_BASE.verify(ED25519, LOG.public_key)


@PROPERTY
@given(st.integers(0, 63), st.integers(1, 255))
def test_receipt_fails_with_any_flipped_signature_byte(index: int, mask: int) -> None:
    receipt = RECEIPT_BASE.signed_by(LOG)
    signature = bytearray(receipt.signature)
    signature[index] ^= mask
    with pytest.raises(SignatureInvalidError):
        replace(receipt, signature=bytes(signature)).verify(ED25519, LOG.public_key)


def test_receipt_json_round_trips_the_signature() -> None:
    receipt = RECEIPT_BASE.signed_by(LOG)
    as_json = receipt.to_json()
    assert set(as_json) == {"entry_hash", "index", "leaf_hash", "log_time", "origin", "signature"}
    signature = signature_from_json(as_json["signature"])
    assert signature == receipt.signature
    replace(RECEIPT_BASE, signature=signature).verify(ED25519, LOG.public_key)


def test_signature_from_json_rejects_non_strings_and_bad_base64() -> None:
    with pytest.raises(TypeError):
        signature_from_json(5)
    with pytest.raises(InvalidInputError):
        signature_from_json("QQ")


# --- item-head statements -------------------------------------------------------------

HEAD_BASE = ItemHeadStatement(
    origin="chemtrace.test/log",
    checkpoint_size=100,
    root_hash=bytes(range(64, 96)),
    item="CYL-0001",
    seq=7,
    head_hash=bytes(range(96, 128)),
)

HEAD_CHANGES: dict[str, object] = {
    "origin": "chemtrace.test/other",
    "checkpoint_size": 101,
    "root_hash": bytes(range(65, 97)),
    "item": "CYL-0002",
    "seq": 8,
    "head_hash": bytes(range(97, 129)),
}


def _signed_head() -> ItemHeadStatement:
    return replace(HEAD_BASE, signature=HEAD_BASE.sign(LOG))


def test_head_fields_are_all_covered_by_the_table() -> None:
    names = {f.name for f in dataclasses.fields(ItemHeadStatement)} - {"signature"}
    assert names == set(HEAD_CHANGES)


def test_item_head_signature_verifies() -> None:
    statement = _signed_head()
    statement.verify(ED25519, LOG.public_key)
    assert statement.payload()["root"] == base64.b64encode(bytes(range(64, 96))).decode()
    assert statement.payload()["head"] == "sha256:" + bytes(range(96, 128)).hex()


@pytest.mark.parametrize("name", sorted(HEAD_CHANGES))
def test_item_head_fails_when_a_field_changes(name: str) -> None:
    changed = replace(_signed_head(), **{name: HEAD_CHANGES[name]})
    with pytest.raises(SignatureInvalidError):
        changed.verify(ED25519, LOG.public_key)


def test_item_head_fails_under_another_key() -> None:
    with pytest.raises(SignatureInvalidError):
        _signed_head().verify(ED25519, OTHER.public_key)


def test_item_head_json_round_trips_the_signature() -> None:
    statement = _signed_head()
    as_json = statement.to_json()
    restored = replace(HEAD_BASE, signature=signature_from_json(as_json["signature"]))
    restored.verify(ED25519, LOG.public_key)


def test_receipt_and_head_signatures_are_domain_separated() -> None:
    # The same JSON object signed as a receipt must not verify as an item-head statement.
    payload = _signed_head().payload()
    as_receipt = LOG.sign(signing_input(RECEIPT, payload))
    statement = replace(HEAD_BASE, signature=as_receipt)
    with pytest.raises(SignatureInvalidError):
        statement.verify(ED25519, LOG.public_key)
    assert signing_input(ITEM_HEAD, payload) != signing_input(RECEIPT, payload)
