"""Hot-path encoders built from templates produce exactly the RFC 8785 bytes."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ledger.builder import DeviceSession
from ledger.canonical import RECEIPT, canonical_bytes, format_hash
from ledger.envelope import open_envelope
from ledger.leaf import LeafRecord
from ledger.signing import Ed25519Signer
from ledger.statements import Receipt
from ledger.timefmt import format_utc

digests = st.binary(min_size=32, max_size=32)
times = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
).map(format_utc)
origins = st.text(min_size=1, max_size=40)


@given(st.sampled_from(["event", "certificate"]), digests, times)
def test_leaf_template_is_rfc8785(kind: str, digest: bytes, log_time: str) -> None:
    leaf = LeafRecord(kind, digest, log_time)  # type: ignore[arg-type]
    expected = {"hash": format_hash(digest), "kind": kind, "log_time": log_time, "v": 1}
    assert leaf.encode() == canonical_bytes(expected)


@given(origins, digests, digests, st.integers(0, 2**53 - 1), times)
def test_receipt_template_is_rfc8785(
    origin: str, entry: bytes, leaf: bytes, index: int, log_time: str
) -> None:
    receipt = Receipt(origin, entry, leaf, index, log_time)
    assert receipt.signing_input() == RECEIPT + canonical_bytes(receipt.payload())


SIGNER = Ed25519Signer.generate()


@given(st.text(min_size=1, max_size=30).filter(lambda s: s.isprintable()), st.integers(0, 5))
def test_envelope_bytes_are_rfc8785_of_the_whole_envelope(purpose: str, seq: int) -> None:
    import unicodedata

    device = DeviceSession(SIGNER, "acme", "sha256:" + "a" * 64, "test.1")
    device.learn("CYL-0001", seq, b"\x01" * 32)
    raw = device.event(
        "use",
        ["CYL-0001"],
        {
            "quantity": {"value": "1", "unit": "kg"},
            "purpose": unicodedata.normalize("NFC", purpose)[:200],
        },
        time="2026-01-01T00:00:00Z",
    )
    assert open_envelope(raw).canonical == canonical_bytes(raw)


@given(st.dictionaries(st.text(max_size=6), st.lists(st.text(max_size=6), max_size=3), max_size=4))
def test_whole_text_nfc_check_agrees_with_checking_every_string(raw: dict[str, list[str]]) -> None:
    import unicodedata

    from ledger.events import _all_strings_nfc

    strings = [*raw, *(s for values in raw.values() for s in values)]
    assert _all_strings_nfc(raw) == all(unicodedata.is_normalized("NFC", s) for s in strings)
