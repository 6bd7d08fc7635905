"""What a witness decides (ledger.witness): every refusal of tlog-witness add-checkpoint with
its status, the success paths, torchwood's published requests, and a property: a witness
never accepts two roots for one size and its size never goes down."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.errors import (
    InconsistentCheckpointError,
    LogSignatureError,
    OldSizeConflictError,
    UnknownOriginError,
    WitnessRefusedError,
    WitnessRequestError,
)
from ledger.merkle import EMPTY_ROOT
from ledger.note import NoteVerifier, sign_note
from ledger.signing import Ed25519Signer
from ledger.witness import (
    HTTP_STATUS,
    MAX_PROOF_LINES,
    AddCheckpoint,
    Witnessed,
    judge,
    parse_request,
    request_body,
)
from tests.ledger._tlog import MemoryLog

ORIGIN = "example.com/log"
KEY = Ed25519Signer.from_seed(bytes(range(32)))
LOG = MemoryLog(ORIGIN, KEY)
FORK = MemoryLog(ORIGIN, KEY, prefix="fork")
TRUSTED = {ORIGIN: [LOG.verifier]}


def _judge(body: bytes, latest: Witnessed | None = None) -> Checkpoint:
    return judge(parse_request(body), TRUSTED, latest)


def _state(log: MemoryLog, size: int) -> Witnessed:
    return Witnessed(log.checkpoint(size), log.note(size))


def _status(exc: WitnessRefusedError) -> int:
    return HTTP_STATUS[type(exc)]


# --- parse_request: 400 --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"old 5\n",  # no blank line
        b"old 05\n\nx",  # a leading zero
        b"old -1\n\nx",
        b"old  5\n\nx",
        b"Old 5\n\nx",
        b"old 5 \n\nx",
        b"old 5\nnot base64!\n\nx",
        b"old 5\nAAAA\n\nx",  # a 3-byte hash
        b"old 5\n" + base64.b64encode(bytes(32)).rstrip(b"=") + b"\n\nx",  # not canonical
        b"old 5\n\xff\n\nx",  # not UTF-8
    ],
)
def test_malformed_requests_are_400(body: bytes) -> None:
    with pytest.raises(WitnessRequestError) as caught:
        parse_request(body)
    assert _status(caught.value) == 400


def test_63_proof_lines_parse_and_64_are_400() -> None:
    note = LOG.note(3)
    parsed = parse_request(request_body(1, [bytes(32)] * MAX_PROOF_LINES, note))
    assert len(parsed.proof) == 63 and parsed.note == note
    with pytest.raises(WitnessRequestError, match="63"):
        parse_request(request_body(1, [bytes(32)] * 64, note))


def test_a_malformed_checkpoint_is_400() -> None:
    note = sign_note("example.com/log\n3\nnot-a-root\n", ORIGIN, KEY)
    with pytest.raises(WitnessRequestError):
        _judge(request_body(0, [], note))


def test_old_size_above_the_checkpoint_size_is_400() -> None:
    with pytest.raises(WitnessRequestError, match="exceeds") as caught:
        _judge(request_body(4, [], LOG.note(3)), _state(LOG, 4))
    assert _status(caught.value) == 400


# --- 403 and 404 ---------------------------------------------------------------------


def test_an_unknown_origin_is_404() -> None:
    other = MemoryLog("example.com/other", KEY)
    with pytest.raises(UnknownOriginError) as caught:
        _judge(other.body(0, 3))
    assert _status(caught.value) == 404


def test_no_trusted_signature_is_403() -> None:
    impostor = MemoryLog(ORIGIN, Ed25519Signer.from_seed(bytes(32)))
    with pytest.raises(LogSignatureError) as caught:
        _judge(impostor.body(0, 3))
    assert _status(caught.value) == 403


def test_a_bad_signature_from_a_trusted_key_is_403() -> None:
    note = LOG.note(3)
    text, _, line = note.rpartition("\n— ")
    blob = bytearray(base64.b64decode(line.split(" ")[1]))
    blob[-1] ^= 1
    bad = f"{text}\n— {ORIGIN} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(LogSignatureError, match="does not verify") as caught:
        _judge(request_body(0, [], bad))
    assert _status(caught.value) == 403


def test_the_origin_is_checked_before_the_old_size() -> None:
    """404 and 403 come before 400 and 409: the order the spec gives."""
    other = MemoryLog("example.com/other", KEY)
    with pytest.raises(UnknownOriginError):
        _judge(request_body(9, [], other.note(3)))
    impostor = MemoryLog(ORIGIN, Ed25519Signer.from_seed(bytes(32)))
    with pytest.raises(LogSignatureError):
        _judge(request_body(9, [], impostor.note(3)), _state(LOG, 2))


# --- 409 -----------------------------------------------------------------------------


def test_old_size_other_than_the_state_is_409_with_the_latest_size() -> None:
    with pytest.raises(OldSizeConflictError) as caught:
        _judge(LOG.body(2, 5), _state(LOG, 3))
    assert caught.value.latest == 3 and _status(caught.value) == 409
    with pytest.raises(OldSizeConflictError) as caught:
        _judge(LOG.body(0, 5), _state(LOG, 3))
    assert caught.value.latest == 3


def test_a_nonzero_old_size_without_state_is_409_with_zero() -> None:
    with pytest.raises(OldSizeConflictError) as caught:
        _judge(LOG.body(2, 5))
    assert caught.value.latest == 0


# --- 422 -----------------------------------------------------------------------------


def test_size_zero_with_a_non_empty_root_is_422() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32)), ORIGIN, KEY)
    with pytest.raises(InconsistentCheckpointError, match="empty") as caught:
        _judge(request_body(0, [], note))
    assert _status(caught.value) == 422


def test_old_zero_with_a_proof_is_422() -> None:
    with pytest.raises(InconsistentCheckpointError, match="empty proof"):
        _judge(request_body(0, LOG.proof(2, 5), LOG.note(5)))


def test_equal_size_with_another_root_is_422() -> None:
    with pytest.raises(InconsistentCheckpointError, match="another root"):
        _judge(FORK.body(3, 3), _state(LOG, 3))


def test_equal_size_with_a_proof_is_422() -> None:
    with pytest.raises(InconsistentCheckpointError, match="empty proof"):
        _judge(request_body(3, [bytes(32)], LOG.note(3)), _state(LOG, 3))


def test_a_bad_consistency_proof_is_422() -> None:
    proof = LOG.proof(3, 7)
    proof[0] = bytes(32)
    with pytest.raises(InconsistentCheckpointError, match="consistency proof"):
        _judge(request_body(3, proof, LOG.note(7)), _state(LOG, 3))


def test_a_proof_of_the_wrong_length_is_422() -> None:
    proof = LOG.proof(3, 7)
    for wrong in (proof[:-1], [*proof, bytes(32)], []):
        with pytest.raises(InconsistentCheckpointError):
            _judge(request_body(3, wrong, LOG.note(7)), _state(LOG, 3))


def test_a_fork_with_its_own_valid_proof_is_422() -> None:
    """The fork's proof is internally valid, but it starts from another root than the state."""
    with pytest.raises(InconsistentCheckpointError):
        _judge(FORK.body(3, 7), _state(LOG, 3))


# --- success -------------------------------------------------------------------------


def test_the_first_checkpoint_needs_no_proof() -> None:
    assert _judge(LOG.body(0, 5)) == LOG.checkpoint(5)


def test_the_empty_tree_is_accepted() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 0, EMPTY_ROOT), ORIGIN, KEY)
    assert _judge(request_body(0, [], note)).size == 0
    # and anything extends it, without a proof
    empty = Witnessed(Checkpoint(ORIGIN, 0, EMPTY_ROOT), note)
    assert _judge(LOG.body(0, 4), empty).size == 4


@pytest.mark.parametrize(("old", "new"), [(1, 2), (3, 7), (4, 8), (5, 6), (7, 64), (1, 33)])
def test_a_consistent_extension_is_accepted(old: int, new: int) -> None:
    assert _judge(LOG.body(old, new), _state(LOG, old)) == LOG.checkpoint(new)


def test_the_same_checkpoint_again_is_accepted() -> None:
    assert _judge(LOG.body(3, 3), _state(LOG, 3)) == LOG.checkpoint(3)


def test_any_trusted_key_of_the_origin_will_do() -> None:
    """Rotation: two keys for one origin; signatures from unknown keys are ignored."""
    new_key = Ed25519Signer.from_seed(bytes(range(2, 34)))
    rotated = MemoryLog(ORIGIN, new_key)
    trusted = {ORIGIN: [LOG.verifier, rotated.verifier]}
    assert judge(parse_request(rotated.body(0, 4)), trusted, None).size == 4
    stranger = Ed25519Signer.from_seed(bytes(range(3, 35)))
    note = LOG.note(4) + sign_note(LOG.checkpoint(4).to_text(), ORIGIN, stranger).split("\n\n")[1]
    assert judge(AddCheckpoint(0, (), note), trusted, None).size == 4


# --- torchwood's published requests --------------------------------------------------

# FiloSottile/torchwood, commit 341dc2f0f552a29816955d4834718cd741f1ca64:
# internal/witness/witness_test.go (TestRace) and cmd/litewitness/testdata/litewitness.txt.
# A sigsum log's checkpoints, signed by its Ed25519 key, with RFC 6962 consistency proofs.
TW_ORIGIN = "sigsum.org/v1/tree/4d6d8825a6bb689d459628312889dfbb0bcd41b5211d9e1ce768b0ff0309e562"
TW_KEY = bytes.fromhex("ffdc2d4d98e4124d3feaf788c0c2f9abfd796083d1f0495437f302ec79cf100f")
TW_TRUSTED = {TW_ORIGIN: [NoteVerifier.for_key(TW_ORIGIN, TW_KEY)]}
TW_1 = f"""old 0

{TW_ORIGIN}
1
KgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=

— {TW_ORIGIN} UgIom7fPZTqpxWWhyjWduBvTvGVqsokMbqTArsQilegKoFBJQjUFAmQ0+YeSPM3wfUQMFSzVnnNuWRTYrajXpNUbIQY=
"""
TW_3_NOTE = f"""{TW_ORIGIN}
3
RcCI1Nk56ZcSmIEfIn0SleqtV7uvrlXNccFx595Iwl0=

— {TW_ORIGIN} UgIom2VbtIcdFbwFAy1n7s6IkAxIY6J/GQOTuZF2ORV39d75cbAj2aQYwyJre36kezNobZs4SUUdrcawfAB8WVrx6go=
"""
TW_3_PROOF = (
    "KgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nKgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
)
TW_5 = f"""old 1
KgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
+fUDV+k970B4I3uKrqJM4aP1lloPZP8mvr2Z4wRw2LI=
KgQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=

{TW_ORIGIN}
5
QrtXrQZCCvpIgsSmOsah7HdICzMLLyDfxToMql9WTjY=

— {TW_ORIGIN} UgIomw/EOJmWi0i1FQsOj+etB7F8IccFam/jgd6wzRns4QPVmyEZtdvl1U2KEmLOZ/ASRcWJi0tW90dJWAShei7sDww=
"""


def _tw(body: str, latest: Witnessed | None) -> Checkpoint:
    return judge(parse_request(body.encode()), TW_TRUSTED, latest)


def test_torchwood_requests() -> None:
    one = _tw(TW_1, None)
    assert one.size == 1
    state = Witnessed(one, TW_1.split("\n\n", 1)[1])
    three = _tw(f"old 1\n{TW_3_PROOF}\n{TW_3_NOTE}", state)
    assert three.size == 3
    five = _tw(TW_5, state)  # TestRace: 1 -> 5 is consistent as well
    assert (
        five.root_hash.hex() == "42bb57ad06420afa4882c4a63ac6a1ec77480b330b2f20dfc53a0caa5f564e36"
    )
    # and 3 -> 5 without a proof from 3 is a conflict once the state is 3
    with pytest.raises(OldSizeConflictError) as caught:
        _tw(TW_5, Witnessed(three, TW_3_NOTE))
    assert caught.value.latest == 3


def test_torchwood_refusals() -> None:
    state = Witnessed(_tw(TW_1, None), TW_1.split("\n\n", 1)[1])
    # litewitness.txt changes the last base64 character to "x": spare bits set, so the line is
    # not canonical base64. Go decodes it anyway and answers 403; our signed-note parser
    # refuses the note as malformed, 400.
    garbled = TW_3_NOTE.replace("WVrx6go=", "WVrx6gx=")
    with pytest.raises(WitnessRequestError, match="canonical"):
        _tw(f"old 1\n{TW_3_PROOF}\n{garbled}", state)
    # a changed signature byte in canonical base64 is 403
    tampered = TW_3_NOTE.replace("UgIom2Vb", "UgIom2Va")
    with pytest.raises(LogSignatureError, match="does not verify"):
        _tw(f"old 1\n{TW_3_PROOF}\n{tampered}", state)
    # an origin it does not follow (litewitness answers 403; the spec says 404)
    other = TW_3_NOTE.replace("0309e562", "0309e563")
    with pytest.raises(UnknownOriginError):
        _tw(f"old 1\n{TW_3_PROOF}\n{other}", state)
    # no proof, and a proof with one changed byte: 422
    with pytest.raises(InconsistentCheckpointError):
        _tw(f"old 1\n\n{TW_3_NOTE}", state)
    bad = TW_3_PROOF.replace(
        "KgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "KgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABA=",
    )
    with pytest.raises(InconsistentCheckpointError):
        _tw(f"old 1\n{bad}\n{TW_3_NOTE}", state)


# --- the property ----------------------------------------------------------------------

LOGS = [
    MemoryLog(ORIGIN, KEY),
    MemoryLog(ORIGIN, KEY, prefix="fork-a"),
    MemoryLog(ORIGIN, KEY, prefix="fork-b", shared=5),
    MemoryLog(ORIGIN, KEY, prefix="fork-c", shared=12),
]

submissions = st.lists(
    st.tuples(
        st.integers(0, len(LOGS) - 1),  # which tree signs it
        st.integers(0, 24),  # the checkpoint size
        st.sampled_from(["state", "zero", "any"]),  # the old size the log claims
        st.integers(0, 24),  # the old size when "any"
        st.integers(0, len(LOGS) - 1),  # whose proof it sends
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(submissions)
def test_never_two_roots_for_one_size_and_never_backwards(
    steps: list[tuple[int, int, str, int, int]],
) -> None:
    latest: Witnessed | None = None
    accepted: dict[int, bytes] = {}
    for tree, size, mode, any_old, prover in steps:
        stored = 0 if latest is None else latest.checkpoint.size
        old = {"state": stored, "zero": 0, "any": any_old}[mode]
        body = request_body(old, LOGS[prover].proof(old, size), LOGS[tree].note(size))
        try:
            checkpoint = judge(parse_request(body), TRUSTED, latest)
        except WitnessRefusedError:
            continue
        assert checkpoint.size >= stored, "the witness went backwards"
        assert accepted.setdefault(checkpoint.size, checkpoint.root_hash) == checkpoint.root_hash
        if latest is not None and latest.checkpoint.size > 0:
            # whatever it accepts extends what it accepted before: same tree prefix
            assert LOGS[tree].root(stored) == latest.checkpoint.root_hash
        latest = Witnessed(checkpoint, LOGS[tree].note(size))
