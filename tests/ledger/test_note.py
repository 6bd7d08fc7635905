"""C2SP signed notes, Ed25519 vectors and tlog checkpoints."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.errors import NoteError, SignatureInvalidError
from ledger.merkle import HASH_SIZE, leaf_hash
from ledger.note import (
    MAX_SIGNATURES,
    NoteVerifier,
    format_vkey,
    note_key_id,
    open_note,
    parse_vkey,
    sign_note,
)
from ledger.signing import ED25519, Ed25519Signer, verify_signature
from tests.ledger._go_signer_key import parse_go_signer_key

NAME = "example.com/log"
TEXT = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
SIGNER = Ed25519Signer.from_seed(bytes(range(32)))
OTHER = Ed25519Signer.from_seed(bytes(range(1, 33)))
VERIFIER = NoteVerifier.for_key(NAME, SIGNER.public_key)


@pytest.fixture(scope="module")
def vectors(conformance_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((conformance_dir / "signatures" / "vectors.json").read_text())
    return data


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _signature_line(name: str, raw: bytes) -> str:
    return f"\u2014 {name} {_b64(raw)}\n"


# --- public vectors -------------------------------------------------------------------


@pytest.mark.conformance
def test_go_sumdb_vector_opens(vectors: dict[str, Any]) -> None:
    case = vectors["signed_note_go_sumdb"]
    verifier = parse_vkey(case["verifier_key"])
    assert verifier.name == "PeterNeumann"
    assert verifier.key_id.hex() == "c74f20a3"
    opened = open_note(case["signed_note"], [verifier])
    assert opened.text == case["text"]
    assert opened.verified_by == ("PeterNeumann",)
    assert format_vkey(verifier.name, verifier.public_key) == case["verifier_key"]


@pytest.mark.conformance
def test_go_sumdb_vector_resigns_identically(vectors: dict[str, Any]) -> None:
    case = vectors["signed_note_go_sumdb"]
    name, signer = parse_go_signer_key(case["signer_key"])
    verifier = parse_vkey(case["verifier_key"])
    assert name == verifier.name
    assert signer.public_key == verifier.public_key
    assert note_key_id(name, signer.public_key) == verifier.key_id
    assert sign_note(case["text"], name, signer) == case["signed_note"]
    signature = base64.b64decode(case["signed_note"].rsplit(" ", 1)[1])
    assert signature[:4] == verifier.key_id


@pytest.mark.conformance
def test_go_sumdb_vector_tampered(vectors: dict[str, Any]) -> None:
    case = vectors["signed_note_go_sumdb"]
    verifier = parse_vkey(case["verifier_key"])
    with pytest.raises(NoteError, match="does not verify"):
        open_note(case["signed_note"].replace("problem", "Problem", 1), [verifier])


@pytest.mark.conformance
def test_rfc8032_test1(vectors: dict[str, Any]) -> None:
    case = vectors["ed25519_rfc8032_test1"]
    signer = Ed25519Signer.from_seed(bytes.fromhex(case["secret_key_hex"]))
    public_key = bytes.fromhex(case["public_key_hex"])
    message = bytes.fromhex(case["message_hex"])
    signature = bytes.fromhex(case["signature_hex"])
    assert signer.public_key == public_key
    assert signer.sign(message) == signature
    verify_signature(ED25519, public_key, message, signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(SignatureInvalidError):
        verify_signature(ED25519, public_key, message, flipped)


# --- signing and opening --------------------------------------------------------------

note_lines = st.text(alphabet=st.characters(min_codepoint=0x20, codec="utf-8"), max_size=20)


@settings(max_examples=50, deadline=None)
@given(st.lists(note_lines, min_size=1, max_size=5))
def test_sign_open_round_trip(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    note = sign_note(text, NAME, SIGNER)
    assert open_note(note, [VERIFIER]).text == text


def test_unknown_signers_are_ignored() -> None:
    other = sign_note(TEXT, "someone.else", OTHER)
    note = sign_note(TEXT, NAME, SIGNER) + other.split("\n\n")[1]
    assert open_note(note, [VERIFIER]).verified_by == (NAME,)
    other_verifier = NoteVerifier.for_key("someone.else", OTHER.public_key)
    assert open_note(note, [VERIFIER, other_verifier]).verified_by == (NAME, "someone.else")
    assert open_note(note, [other_verifier, VERIFIER, VERIFIER]).verified_by == (
        NAME,
        "someone.else",
    )


def test_no_known_signer_is_an_error() -> None:
    note = sign_note(TEXT, NAME, SIGNER)
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(note, [])
    # Same name, other key: the key id differs, so the line is merely unknown.
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(note, [NoteVerifier.for_key(NAME, OTHER.public_key)])
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(note, [NoteVerifier.for_key("other.name", SIGNER.public_key)])


def test_known_signer_that_fails_rejects_the_note() -> None:
    note = sign_note(TEXT, NAME, SIGNER)
    key_id = note_key_id(NAME, SIGNER.public_key)
    forged = _signature_line(NAME, key_id + OTHER.sign(TEXT.encode()))
    with pytest.raises(NoteError, match="does not verify"):
        open_note(note + forged, [VERIFIER])
    with pytest.raises(NoteError, match="not 64 bytes"):
        open_note(note + _signature_line(NAME, key_id + b"\x00" * 10), [VERIFIER])


def test_signature_byte_flip_and_text_change_fail() -> None:
    note = sign_note(TEXT, NAME, SIGNER)
    raw = bytearray(base64.b64decode(note.rsplit(" ", 1)[1]))
    raw[10] ^= 0x01
    flipped = note.rsplit(" ", 1)[0] + " " + _b64(bytes(raw)) + "\n"
    with pytest.raises(NoteError, match="does not verify"):
        open_note(flipped, [VERIFIER])
    with pytest.raises(NoteError, match="does not verify"):
        open_note(note.replace("\n3\n", "\n4\n"), [VERIFIER])


def _valid_line() -> str:
    return sign_note(TEXT, NAME, SIGNER)[len(TEXT) + 1 :]


@pytest.mark.parametrize(
    ("note", "match"),
    [
        pytest.param(TEXT + _valid_line(), "no blank line", id="no-blank-line"),
        pytest.param(TEXT + "\n" + _valid_line()[:-1], "must end with", id="no-final-newline"),
        pytest.param(TEXT + "\n", "must end with", id="no-signatures"),
        pytest.param(
            TEXT + "\n" + _valid_line() + "trailing text\n", "em dash", id="text-after-signatures"
        ),
        pytest.param(TEXT + "\n" + _valid_line() + "\n", "must end with", id="blank-line-at-end"),
        pytest.param(
            TEXT + "\n" + _valid_line().replace("\u2014", "-"), "em dash", id="hyphen-not-em-dash"
        ),
        pytest.param(
            TEXT + "\n" + _valid_line().replace("\u2014 ", "\u2014"), "em dash", id="no-space"
        ),
        pytest.param(
            TEXT + "\n" + _valid_line().replace(NAME, "a+b"), "space or", id="plus-in-name"
        ),
        pytest.param(
            TEXT + "\n" + _valid_line().replace(NAME + " ", " "), "name is empty", id="empty-name"
        ),
        pytest.param(TEXT + "\n" + f"\u2014 {NAME}\n", "no signature", id="no-signature"),
        pytest.param(TEXT + "\n" + f"\u2014 {NAME} !!!!\n", "not valid base64", id="bad-base64"),
        pytest.param(
            TEXT + "\n" + f"\u2014 {NAME} AAAAAB==\n", "not canonical", id="non-canonical-base64"
        ),
        pytest.param(
            TEXT + "\n" + _signature_line(NAME, b"\x00" * 4), "shorter than", id="only-key-id"
        ),
        pytest.param("tab\there\n\n" + _valid_line(), "control character", id="control-character"),
        pytest.param(
            TEXT.replace("\n", "\r\n") + "\r\n" + _valid_line(), "control character", id="crlf"
        ),
        pytest.param("bad \ud800\n\n" + _valid_line(), "UTF-8", id="lone-surrogate"),
        pytest.param(
            TEXT + "\n" + _signature_line("x", b"\x00" * 68) * MAX_SIGNATURES + _valid_line(),
            "too many",
            id="too-many-signatures",
        ),
    ],
)
def test_malformed_notes_are_rejected(note: str, match: str) -> None:
    with pytest.raises(NoteError, match=match):
        open_note(note, [VERIFIER])


def test_max_signatures_are_accepted() -> None:
    unknown = _signature_line("x", b"\x00" * 68) * (MAX_SIGNATURES - 1)
    note = sign_note(TEXT, NAME, SIGNER) + unknown
    assert open_note(note, [VERIFIER]).text == TEXT


class _Sm2Signer:
    algorithm = "sm2"
    public_key = SIGNER.public_key
    key_id = SIGNER.key_id

    def sign(self, message: bytes) -> bytes:
        return SIGNER.sign(message)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("no newline", NAME),
        ("", NAME),
        ("tab\t\n", NAME),
        (TEXT, ""),
        (TEXT, "has space"),
        (TEXT, "has+plus"),
        (TEXT, "nbsp\u00a0name"),
    ],
)
def test_sign_note_rejects_bad_input(text: str, name: str) -> None:
    with pytest.raises(NoteError):
        sign_note(text, name, SIGNER)


def test_sign_note_needs_ed25519() -> None:
    with pytest.raises(NoteError, match="Ed25519"):
        sign_note(TEXT, NAME, _Sm2Signer())


# --- keys -----------------------------------------------------------------------------


def test_vkey_round_trip() -> None:
    vkey = format_vkey(NAME, SIGNER.public_key)
    name, key_id, key = vkey.split("+", 2)
    assert (name, key_id) == (NAME, note_key_id(NAME, SIGNER.public_key).hex())
    assert base64.b64decode(key) == b"\x01" + SIGNER.public_key
    assert parse_vkey(vkey) == VERIFIER
    assert VERIFIER.vkey() == vkey
    assert parse_vkey(vkey.replace(key_id, key_id.upper())) == VERIFIER


def _vkey(name: str = NAME, key_id: str | None = None, raw: bytes | None = None) -> str:
    raw = b"\x01" + SIGNER.public_key if raw is None else raw
    key_id = note_key_id(NAME, SIGNER.public_key).hex() if key_id is None else key_id
    return f"{name}+{key_id}+{_b64(raw)}"


@pytest.mark.parametrize(
    "vkey",
    [
        pytest.param(_vkey(key_id="00000000"), id="wrong-id"),
        pytest.param(_vkey(key_id="0000000"), id="short-id"),
        pytest.param(_vkey(key_id="0x000000"), id="not-hex"),
        pytest.param(_vkey(name="other"), id="id-of-other-name"),
        pytest.param(_vkey(name="a b"), id="space-in-name"),
        pytest.param(_vkey(raw=b"\x02" + SIGNER.public_key), id="ecdsa-type"),
        pytest.param(_vkey(raw=b"\x01" + SIGNER.public_key[:31]), id="short-key"),
        pytest.param(_vkey(raw=b""), id="empty-key"),
        pytest.param(NAME + "+" + note_key_id(NAME, SIGNER.public_key).hex(), id="two-parts"),
    ],
)
def test_parse_vkey_rejects(vkey: str) -> None:
    with pytest.raises(NoteError):
        parse_vkey(vkey)


def test_go_signer_key_parser() -> None:
    seed = bytes(range(32))
    key_id = note_key_id(NAME, SIGNER.public_key).hex()
    encoded, short = _b64(b"\x01" + seed), _b64(b"\x01" + seed[:31])
    good = f"PRIVATE+KEY+{NAME}+{key_id}+{encoded}"
    name, signer = parse_go_signer_key(good)
    assert (name, signer.public_key) == (NAME, SIGNER.public_key)
    for bad in (
        good.replace("PRIVATE+KEY", "PUBLIC+KEY"),
        good.replace(key_id, "00000000"),
        f"PRIVATE+KEY+{NAME}+{key_id}+{short}",
        f"PRIVATE+KEY+{NAME}+{key_id}",
    ):
        with pytest.raises(NoteError) as caught:
            parse_go_signer_key(bad)
        assert seed.hex() not in caught.value.diagnostics()


def test_verifier_fields_must_agree() -> None:
    with pytest.raises(NoteError, match="key id"):
        NoteVerifier(NAME, b"\x00" * 4, SIGNER.public_key)
    with pytest.raises(NoteError, match="32 bytes"):
        NoteVerifier.for_key(NAME, SIGNER.public_key[:31])


# --- checkpoints ----------------------------------------------------------------------

ROOT = leaf_hash(b"root")
C2SP_EXAMPLE = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)

origins = st.text(alphabet=st.characters(min_codepoint=0x20, codec="utf-8"), min_size=1)


@settings(max_examples=100, deadline=None)
@given(
    origins,
    st.integers(min_value=0, max_value=2**64 - 1),
    st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE),
    st.lists(origins, max_size=3).map(tuple),
)
def test_checkpoint_round_trip(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    checkpoint = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.from_text(checkpoint.to_text()) == checkpoint


def test_checkpoint_text_layout() -> None:
    checkpoint = Checkpoint.from_text(C2SP_EXAMPLE)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert len(checkpoint.root_hash) == HASH_SIZE
    assert checkpoint.to_text() == C2SP_EXAMPLE
    with_ext = Checkpoint(NAME, 0, ROOT, ("ext one",))
    assert with_ext.to_text() == f"{NAME}\n0\n{_b64(ROOT)}\next one\n"


def test_checkpoint_sign_and_open() -> None:
    checkpoint = Checkpoint(NAME, 42, ROOT)
    note = sign_checkpoint(checkpoint, NAME, SIGNER)
    assert open_checkpoint(note, VERIFIER) == checkpoint
    assert open_checkpoint(note, VERIFIER, expected_origin=NAME) == checkpoint
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(note, VERIFIER, expected_origin="example.com/other")
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_checkpoint(note, NoteVerifier.for_key(NAME, OTHER.public_key))
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(note.replace("\n42\n", "\n43\n"), VERIFIER)


def test_open_checkpoint_rejects_signed_garbage() -> None:
    note = sign_note("example.com/log\n01\n" + _b64(ROOT) + "\n", NAME, SIGNER)
    with pytest.raises(NoteError, match="leading zeros"):
        open_checkpoint(note, VERIFIER)


_ROOT_LINE = _b64(ROOT)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(f"o\n1\n{_ROOT_LINE}", id="no-final-newline"),
        pytest.param("o\n1\n", id="no-root"),
        pytest.param(f"\n1\n{_ROOT_LINE}\n", id="empty-origin"),
        pytest.param(f"o\n01\n{_ROOT_LINE}\n", id="leading-zero"),
        pytest.param(f"o\n00\n{_ROOT_LINE}\n", id="double-zero"),
        pytest.param(f"o\n+1\n{_ROOT_LINE}\n", id="plus-sign"),
        pytest.param(f"o\n-1\n{_ROOT_LINE}\n", id="negative"),
        pytest.param(f"o\n 1\n{_ROOT_LINE}\n", id="space"),
        pytest.param(f"o\n1_0\n{_ROOT_LINE}\n", id="underscore"),
        pytest.param(f"o\n\u0661\n{_ROOT_LINE}\n", id="arabic-digit"),
        pytest.param(f"o\n{2**64}\n{_ROOT_LINE}\n", id="too-large"),
        pytest.param(f"o\n\n{_ROOT_LINE}\n", id="empty-size"),
        pytest.param(f"o\n1\n{_b64(ROOT[:31])}\n", id="short-root"),
        pytest.param(f"o\n1\n{_ROOT_LINE[:-1]}\n", id="unpadded-root"),
        pytest.param(f"o\n1\n{_ROOT_LINE[:-2]}B=\n", id="non-canonical-root"),
        pytest.param(f"o\n1\n{_ROOT_LINE}\n\n", id="empty-extension"),
        pytest.param(f"o\n1\n{_ROOT_LINE}\r\n", id="carriage-return"),
    ],
)
def test_checkpoint_strict_parse(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.from_text(text)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("two\nlines", 1, ROOT, ()),
        (NAME, -1, ROOT, ()),
        (NAME, 2**64, ROOT, ()),
        (NAME, 1, ROOT + b"\x00", ()),
        (NAME, 1, ROOT, ("",)),
    ],
)
def test_checkpoint_fields_are_validated(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(NoteError):
        Checkpoint(origin, size, root, extensions)
