"""C2SP tlog-cosignature/v1 (Ed25519, type 0x04): ledger.cosignature, against the spec and
against vectors published by other implementations.

No published cosignature/v1 vector with a *private* key (seed, checkpoint, timestamp, expected
line) was found in transparency-dev/formats, sigsum/sigsum-go, FiloSottile/torchwood or
Cloudflare's tlog_cosignature: their tests sign with freshly generated keys. So the
independent checks are a real cosigned checkpoint verified with its witness's published
vkey, sigsum-go's key-ID and signed-message vectors, and (in test_witness.py) torchwood's
add-checkpoint requests.
"""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.cosignature import (
    CosignerVerifier,
    attach,
    cosign,
    cosigner_key_id,
    parse_cosigner_vkey,
    signed_message,
    verify_cosignature,
)
from ledger.errors import NoteError
from ledger.note import NoteVerifier, SignatureLine, open_note, parse_vkey, split_note
from ledger.signing import ED25519, Ed25519Signer, verify_signature

NAME = "witness.example/w1"
SIGNER = Ed25519Signer.from_seed(bytes(range(32)))
VERIFIER = CosignerVerifier.for_key(NAME, SIGNER.public_key)
LOG = Ed25519Signer.from_seed(bytes(range(1, 33)))
CHECKPOINT = Checkpoint("example.com/log", 3, bytes(range(32)))
TEXT = CHECKPOINT.to_text()
NOTE = sign_checkpoint(CHECKPOINT, "example.com/log", LOG)
TS = 1_779_573_024


def _only_line(text: str, line: str) -> SignatureLine:
    return split_note(text + "\n" + line)[1][0]


# --- round trip and layout ------------------------------------------------------------


def test_round_trip() -> None:
    line = cosign(TEXT, NAME, SIGNER, TS)
    assert line.startswith(f"— {NAME} ") and line.endswith("\n")
    got = verify_cosignature(VERIFIER, TEXT, _only_line(TEXT, line))
    assert (got.name, got.key_id, got.timestamp) == (NAME, VERIFIER.key_id, TS)


def test_the_key_id_is_sha256_of_name_newline_0x04_key() -> None:
    expected = hashlib.sha256(NAME.encode() + b"\n\x04" + SIGNER.public_key).digest()[:4]
    assert cosigner_key_id(NAME, SIGNER.public_key) == expected == VERIFIER.key_id
    # and it differs from the plain note key ID (type 0x01) of the same key
    assert NoteVerifier.for_key(NAME, SIGNER.public_key).key_id != expected


def test_the_signature_blob_is_key_id_u64_time_then_ed25519() -> None:
    line = cosign(TEXT, NAME, SIGNER, TS)
    blob = base64.b64decode(line.rstrip("\n").split(" ")[2])
    assert len(blob) == 4 + 8 + 64
    assert blob[:4] == VERIFIER.key_id
    assert struct.unpack(">Q", blob[4:12]) == (TS,)
    message = f"cosignature/v1\ntime {TS}\n{TEXT}".encode()
    verify_signature(ED25519, SIGNER.public_key, message, blob[12:])


def test_the_message_is_header_time_line_then_body() -> None:
    assert signed_message(TEXT, 7) == b"cosignature/v1\ntime 7\n" + TEXT.encode()
    assert signed_message(TEXT, 0).startswith(b"cosignature/v1\ntime 0\n")
    with pytest.raises(NoteError):
        signed_message(TEXT.rstrip("\n"), 7)  # the body keeps its final newline
    with pytest.raises(NoteError):
        signed_message(TEXT, 2**63)


def test_sigsum_signed_message_vector() -> None:
    """sigsum/sigsum-go pkg/types/tree_head_test.go (validTreeHeadCosignedData), commit
    192b553292d7fbec6bbaf39a96359de59d96112d: the bytes sigsum's witness signs."""
    origin = "sigsum.org/v1/tree/66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
    body = Checkpoint(origin, 257, bytes(range(32))).to_text()
    expected = (
        "cosignature/v1\n"
        "time 72623859790382856\n"
        f"{origin}\n"
        "257\n"
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    )
    assert signed_message(body, 72623859790382856) == expected.encode()


def test_extension_lines_are_signed() -> None:
    text = Checkpoint("example.com/log", 3, bytes(32), ("ext one",)).to_text()
    line = cosign(text, NAME, SIGNER, TS)
    verify_cosignature(VERIFIER, text, _only_line(text, line))
    stripped = Checkpoint("example.com/log", 3, bytes(32)).to_text()
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(VERIFIER, stripped, _only_line(stripped, line))


# --- refusals -------------------------------------------------------------------------


def test_timestamp_zero_is_refused_by_cosign() -> None:
    with pytest.raises(NoteError, match="timestamp"):
        cosign(TEXT, NAME, SIGNER, 0)
    with pytest.raises(NoteError):
        cosign(TEXT, NAME, SIGNER, 2**63)
    cosign(TEXT, NAME, SIGNER, 2**63 - 1)


@pytest.mark.parametrize("byte", range(76))
def test_a_flipped_bit_anywhere_in_the_blob_fails(byte: int) -> None:
    line = cosign(TEXT, NAME, SIGNER, TS)
    blob = bytearray(base64.b64decode(line.rstrip("\n").split(" ")[2]))
    blob[byte] ^= 0x01
    bad = f"— {NAME} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(NoteError):
        verify_cosignature(VERIFIER, TEXT, _only_line(TEXT, bad))


def test_a_flipped_bit_in_the_checkpoint_fails() -> None:
    line = cosign(TEXT, NAME, SIGNER, TS)
    other = Checkpoint("example.com/log", 3, bytes([1, *range(1, 32)])).to_text()
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(VERIFIER, other, _only_line(other, line))


def test_a_line_from_another_key_or_name_is_not_ours() -> None:
    line = cosign(TEXT, NAME, SIGNER, TS)
    other = CosignerVerifier.for_key(NAME, LOG.public_key)
    with pytest.raises(NoteError, match="another key"):
        verify_cosignature(other, TEXT, _only_line(TEXT, line))
    renamed = CosignerVerifier.for_key("witness.example/w2", SIGNER.public_key)
    with pytest.raises(NoteError, match="another key"):
        verify_cosignature(renamed, TEXT, _only_line(TEXT, line))


def test_a_plain_note_signature_is_not_a_cosignature() -> None:
    """The same key signing as a log (type 0x01) has another key ID and message."""
    note = sign_checkpoint(CHECKPOINT, NAME, SIGNER)
    line = split_note(note)[1][0]
    with pytest.raises(NoteError):
        verify_cosignature(VERIFIER, TEXT, line)


def test_a_cosignature_does_not_open_as_a_log_signature() -> None:
    note = attach(NOTE, [cosign(TEXT, NAME, SIGNER, TS)])
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(note, [NoteVerifier.for_key(NAME, SIGNER.public_key)])


# --- vkeys ----------------------------------------------------------------------------


def test_vkey_round_trip() -> None:
    text = VERIFIER.vkey()
    name, key_id, key = text.split("+", 2)
    assert (name, key_id) == (NAME, VERIFIER.key_id.hex())
    assert base64.b64decode(key) == b"\x04" + SIGNER.public_key
    assert parse_cosigner_vkey(text) == VERIFIER


def test_sigsum_cosigner_vkey_vector() -> None:
    """sigsum/sigsum-go pkg/checkpoint/verifier_test.go (TestNewNoteVerifier), commit
    192b553292d7fbec6bbaf39a96359de59d96112d; its key ID was checked there with sha256sum."""
    text = "example.org/key+57bfe580+BAFFLINGNESS+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    parsed = parse_cosigner_vkey(text)
    assert parsed.name == "example.org/key"
    assert parsed.public_key == bytes.fromhex("01452c8346344492f8") + bytes(23)
    assert parsed.vkey() == text


def test_vkey_with_type_0x01_is_refused() -> None:
    plain = NoteVerifier.for_key(NAME, SIGNER.public_key).vkey()
    with pytest.raises(NoteError, match="0x04"):
        parse_cosigner_vkey(plain)
    with pytest.raises(NoteError):
        parse_vkey(VERIFIER.vkey())  # and the other way round


def test_vkey_with_a_wrong_key_id_is_refused() -> None:
    name, key_id, key = VERIFIER.vkey().split("+", 2)
    wrong = f"{(int(key_id, 16) ^ 1):08x}"
    with pytest.raises(NoteError, match="key id"):
        parse_cosigner_vkey(f"{name}+{wrong}+{key}")
    with pytest.raises(NoteError):
        parse_cosigner_vkey(f"{name}+{key_id[:6]}+{key}")
    plain_id = NoteVerifier.for_key(NAME, SIGNER.public_key).key_id.hex()
    with pytest.raises(NoteError):  # a 0x01 key ID of the same key
        parse_cosigner_vkey(f"{name}+{plain_id}+{key}")


@pytest.mark.parametrize(
    "key",
    [
        # 34 bytes: the final character carries 4 spare bits, set here (canonical would be
        # "...AA=="); refused as non-canonical before its length is even looked at
        base64.b64encode(b"\x04" + bytes(33)).decode()[:-3] + "B==",
        base64.b64encode(b"\x04" + bytes(31)).decode().rstrip("="),  # missing padding
        base64.urlsafe_b64encode(b"\x04" + b"\xfb" * 32).decode(),  # URL-safe alphabet
        " " + base64.b64encode(b"\x04" + bytes(32)).decode(),  # whitespace
    ],
)
def test_vkey_with_non_canonical_base64_is_refused(key: str) -> None:
    with pytest.raises(NoteError, match="base64"):
        parse_cosigner_vkey(f"{NAME}+00000000+{key}")


def test_vkey_with_a_short_key_or_bad_name_is_refused() -> None:
    short = base64.b64encode(b"\x04" + bytes(31)).decode()
    with pytest.raises(NoteError, match="32 bytes"):
        parse_cosigner_vkey(f"{NAME}+00000000+{short}")
    with pytest.raises(NoteError):
        parse_cosigner_vkey("a b+00000000+" + VERIFIER.vkey().split("+", 2)[2])
    with pytest.raises(NoteError):
        parse_cosigner_vkey(NAME + "+" + VERIFIER.key_id.hex())


def test_constructing_a_verifier_with_a_wrong_key_id_is_refused() -> None:
    with pytest.raises(NoteError):
        CosignerVerifier(NAME, b"\x00" * 4, SIGNER.public_key)


# --- attach ---------------------------------------------------------------------------


def test_attach_appends_and_dedupes() -> None:
    line = cosign(TEXT, NAME, SIGNER, TS)
    once = attach(NOTE, [line])
    assert once == NOTE + line
    assert attach(once, [line, line.rstrip("\n")]) == once
    later = cosign(TEXT, NAME, SIGNER, TS + 1)
    twice = attach(once, [later, later])
    assert twice == once + later
    opened = open_note(twice, [NoteVerifier.for_key("example.com/log", LOG.public_key)])
    assert opened.verified_by == ("example.com/log",)


def test_attach_refuses_what_is_not_a_signature_line() -> None:
    with pytest.raises(NoteError):
        attach(NOTE, ["not a line"])
    with pytest.raises(NoteError):
        attach(NOTE, ["— a b\n— c d"])
    with pytest.raises(NoteError):
        attach(TEXT, [cosign(TEXT, NAME, SIGNER, TS)])  # not a signed note


# --- an independent, real cosigned checkpoint -----------------------------------------

# From florolf/tlog-scales tests/test_signing.py (TestCheckpointSigning.CHECKPOINT), commit
# dfd5c4bf3b0c9703a6760e52e80e2515ee53f86e: a checkpoint of the arche2025h1 staging CT log
# as served with its witnesses' cosignatures. The witness vkey of remora.n621.de is also
# published, independently, in transparency-dev/formats note/note_cosigv1_test.go
# (TestCoSigV1NewVerifier), commit 0b850f1a7b4a5b70deeacac6535e4b8023809d21.
REAL = """arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
"""
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
ARCHE_VKEY = (
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
)


def _remora_line(note: str) -> tuple[str, SignatureLine]:
    text, lines = split_note(note)
    return text, next(line for line in lines if line.name == "remora.n621.de")


def test_a_real_witness_cosignature_verifies() -> None:
    witness = parse_cosigner_vkey(REMORA_VKEY)
    text, line = _remora_line(REAL)
    got = verify_cosignature(witness, text, line)
    assert got.timestamp == 1779573024  # 0x6a122120, as the blob's bytes 4..12 say
    assert line.key_id == bytes.fromhex("da77ade7")
    # its log signature (type 0x01) verifies with the log's published key too
    assert open_note(REAL, [parse_vkey(ARCHE_VKEY)]).verified_by == (
        "arche2025h1.staging.ct.transparency.dev",
    )


def test_the_real_cosignature_fails_on_another_size() -> None:
    witness = parse_cosigner_vkey(REMORA_VKEY)
    tampered = REAL.replace("\n1432088532\n", "\n1432088533\n", 1)
    text, line = _remora_line(tampered)
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(witness, text, line)


def test_the_real_cosignature_fails_at_another_time() -> None:
    witness = parse_cosigner_vkey(REMORA_VKEY)
    text, line = _remora_line(REAL)
    stamp = struct.pack(">Q", 1779573025)
    moved = SignatureLine(line.name, line.key_id, stamp + line.signature[8:])
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(witness, text, moved)
