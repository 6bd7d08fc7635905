"""Trace codes: the check symbol (proved exhaustively), normalisation, signatures, label URLs.

The check-symbol tests are the proof the module docstring promises: for a code of
the fixed length, *every* ordered pair of distinct alphabet symbols is tried at
*every* position, as a substitution and as an adjacent transposition, and each
error must be rejected. Hypothesis then repeats the same properties on random
codes and random typed forms.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any, get_args

import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from qrcode.constants import ERROR_CORRECT_M

from ledger import canonical
from ledger.canonical import signing_input
from ledger.codes import (
    ALPHABET,
    CHECK_SYMBOLS,
    CODE_LABEL,
    CODE_PATTERN,
    CODE_RECORD,
    COMPACT_LENGTH,
    MAX_BASE_URL_CHARS,
    MAX_BATCH_CHARS,
    MAX_BATCH_COUNT,
    MAX_LABEL_URL_CHARS,
    MAX_ORG_CHARS,
    PACKAGING_LETTERS,
    PREFIX,
    QR_ALPHANUMERIC,
    CodeFacts,
    DuplicateCodeError,
    InvalidCodeError,
    SignedCode,
    check_character,
    code_from_body,
    generate_code,
    is_valid_code,
    issue_batch,
    label_url,
    normalise_base_url,
    normalise_code,
    parse_label_url,
    sign_code,
    verify_code,
    verify_label_url,
)
from ledger.errors import (
    InvalidInputError,
    LedgerError,
    SignatureInvalidError,
    VerificationError,
)
from ledger.events import CommissionData, ItemCode
from ledger.signing import ED25519, Ed25519Signer

REGISTRY = Ed25519Signer.from_seed(b"\x11" * 32)
OTHER = Ed25519Signer.from_seed(b"\x12" * 32)
BASE = "HTTPS://CT.EXAMPLE.CN"
EXAMPLE = "CT-7K3MQ-9XA2B-4FHCN"
PROPERTY = settings(max_examples=300, deadline=None)
CHECK_POS = COMPACT_LENGTH - 1  # index of the check symbol in the compact code
ITEM_CODE = TypeAdapter(ItemCode)


def seeded(seed: int) -> Any:
    return random.Random(seed).randbytes


def facts(**changes: Any) -> CodeFacts:
    base = CodeFacts(
        code=EXAMPLE,
        org="acme-gas",
        form="26.3",
        packaging="cylinder",
        batch="B2026-01",
        issued_at="2026-01-31",
    )
    return replace(base, **changes)


# ---------------------------------------------------------------------------
# The alphabet and the check symbol: exhaustive proof


def test_alphabet_is_crockford_base32() -> None:
    assert len(ALPHABET) == 32 and len(set(ALPHABET)) == 32
    assert "".join(c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "ILOU") == ALPHABET
    assert CHECK_SYMBOLS == ALPHABET + "*~$=U"
    assert PREFIX == "CT" and COMPACT_LENGTH == 17


def _valid_with(fixed: dict[int, str], base: str = "CT" + "0" * 14) -> str:
    """A valid compact code holding ``fixed`` symbols at the given positions (0..16).

    Two free body positions are searched over the whole alphabet (1024 pairs cover
    every residue mod 37), so a code exists for any fixed body symbols and check.
    """
    symbols = list(base)
    for position, symbol in fixed.items():
        if position < CHECK_POS:
            symbols[position] = symbol
    free = [p for p in range(len(PREFIX), CHECK_POS) if p not in fixed][:2]
    for x, y in itertools.product(ALPHABET, repeat=2):
        symbols[free[0]], symbols[free[1]] = x, y
        body = "".join(symbols)
        check = check_character(body)
        if check in ALPHABET and fixed.get(CHECK_POS, check) == check:
            code = body + check
            assert is_valid_code(code)
            return code
    raise AssertionError(f"no valid code with {fixed}")  # pragma: no cover


def _symbols_at(position: int) -> str:
    """The symbols a valid code can hold at ``position``."""
    return PREFIX[position] if position < len(PREFIX) else ALPHABET


@pytest.mark.parametrize("base", ["CT" + "0" * 14, "CTZYXWVTSRQPNMKJ"])
def test_every_single_substitution_at_every_position_is_caught(base: str) -> None:
    tried = 0
    for position in range(COMPACT_LENGTH):
        for a in _symbols_at(position):
            code = _valid_with({position: a}, base)
            for b in ALPHABET:
                if b == a:
                    continue
                wrong = code[:position] + b + code[position + 1 :]
                assert not is_valid_code(wrong), (code, position, a, b)
                tried += 1
    # 2 prefix positions x 31 + 15 positions x 32 x 31 substitutions
    assert tried == 2 * 31 + 15 * 32 * 31


@pytest.mark.parametrize("base", ["CT" + "0" * 14, "CTZYXWVTSRQPNMKJ"])
def test_every_adjacent_transposition_at_every_position_is_caught(base: str) -> None:
    tried = 0
    for position in range(COMPACT_LENGTH - 1):
        for a, b in itertools.product(_symbols_at(position), _symbols_at(position + 1)):
            if a == b:
                continue
            code = _valid_with({position: a, position + 1: b}, base)
            swapped = code[:position] + b + a + code[position + 2 :]
            assert not is_valid_code(swapped), (code, position, a, b)
            tried += 1
    # (C,T); (T, any != T); then 14 pairs of body/body or body/check positions
    assert tried == 1 + 31 + 14 * 32 * 31


def test_the_modular_argument_behind_the_proof() -> None:
    # Substitutions and transpositions change N by (a-b)*32^k or (a-b)*31*32^k;
    # 37 is prime and divides neither factor. Checked here for every difference.
    for difference in range(1, 37):
        for k in range(COMPACT_LENGTH):
            assert difference * pow(32, k, 37) % 37 != 0
            assert difference * 31 * pow(32, k, 37) % 37 != 0
        assert 2 * difference % 37 != 0  # body/check swap needs 2(c-b) != 0


def test_a_substituted_body_symbol_names_the_check_failure() -> None:
    wrong = "CT-7K3MQ-9XA2B-4FHDN"
    with pytest.raises(InvalidCodeError, match="check character does not match") as info:
        normalise_code(wrong)
    assert info.value.code == "invalid_code"
    assert isinstance(info.value, InvalidInputError)


@PROPERTY
@given(st.randoms(use_true_random=False), st.integers(0, CHECK_POS), st.sampled_from(ALPHABET))
def test_property_random_substitution_is_caught(
    rnd: random.Random, position: int, symbol: str
) -> None:
    compact = generate_code(rnd.randbytes).replace("-", "")
    mutated = compact[:position] + symbol + compact[position + 1 :]
    assert is_valid_code(mutated) == (mutated == compact)


@PROPERTY
@given(st.randoms(use_true_random=False), st.integers(0, CHECK_POS - 1))
def test_property_random_adjacent_transposition_is_caught(
    rnd: random.Random, position: int
) -> None:
    compact = generate_code(rnd.randbytes).replace("-", "")
    swapped = (
        compact[:position] + compact[position + 1] + compact[position] + compact[position + 2 :]
    )
    assert is_valid_code(swapped) == (swapped == compact)


def test_check_character_is_crockfords_mod_37_symbol() -> None:
    assert check_character("CT7K3MQ9XA2B4FHC") == "N"
    body = "CT7K3MQ9XA2B4FHC"
    number = 0
    for symbol in body:
        number = number * 32 + ALPHABET.index(symbol)
    assert check_character(body) == CHECK_SYMBOLS[number % 37]
    # typed forms of the same body give the same check symbol
    assert check_character("ct-7k3mq-9xa2b-4fhc") == "N"


def test_bodies_without_an_alphabet_check_symbol_are_never_issued() -> None:
    extended = []
    for last in ALPHABET:
        body = "CT7K3MQ9XA2B4F" + last
        for last2 in ALPHABET:
            symbol = check_character(body + last2)
            if symbol not in ALPHABET:
                extended.append(body + last2)
                assert symbol in "*~$=U"
                with pytest.raises(InvalidCodeError, match="draw another body"):
                    code_from_body(body + last2)
            else:
                assert code_from_body(body + last2) == normalise_code(body + last2 + symbol)
    assert extended  # 5 residues in 37 have no alphabet symbol


def test_check_character_rejects_empty_and_foreign_input() -> None:
    with pytest.raises(InvalidCodeError, match="at least one symbol"):
        check_character("--")
    with pytest.raises(InvalidCodeError, match="'U' is not a trace-code character"):
        check_character("CTU")


# ---------------------------------------------------------------------------
# Normalisation of typed codes


@pytest.mark.parametrize(
    "typed",
    [
        "CT-7K3MQ-9XA2B-4FHCN",
        "ct-7k3mq-9xa2b-4fhcn",
        "CT7K3MQ9XA2B4FHCN",
        "  ct 7k3mq 9xa2b 4fhcn \n",
        "CT—7K3MQ–9XA2B‐4FHCN",  # em dash, en dash, hyphen
        "ＣＴ－７Ｋ３ＭＱ－９ＸＡ２Ｂ－４ＦＨＣＮ",  # full width, as a Chinese IME types it
        "C-T-7-K-3-M-Q-9-X-A-2-B-4-F-H-C-N",
    ],
)
def test_typed_forms_normalise_to_the_canonical_code(typed: str) -> None:
    assert normalise_code(typed) == EXAMPLE
    assert is_valid_code(typed)


def test_look_alikes_read_as_the_digit_they_resemble() -> None:
    code = _valid_with({5: "0", 6: "1", 7: "1"})
    canonical = normalise_code(code)
    typed = code[:5] + "O" + "I" + "l" + code[8:]
    assert normalise_code(typed) == canonical
    assert normalise_code(typed.lower()) == canonical


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("CT-7K3MQ-9XA2B-4FHCU", "'U' is not a trace-code character \\(U is never used\\)"),
        ("CT-7K3MQ-9XA2B-4FHC!", "'!' is not a trace-code character"),
        ("XT-7K3MQ-9XA2B-4FHCN", "starts with 'CT'"),
        ("CT-7K3MQ-9XA2B-4FHC", "has 15 characters after 'CT', this one has 14"),
        ("CT-7K3MQ-9XA2B-4FHCNN", "this one has 16"),
        ("CT-7K3MQ-9XA2B-4FCHN", "check character does not match"),
        ("", "starts with 'CT'"),
        ("CT" + "0" * 300, "at most 200 characters"),
    ],
)
def test_malformed_codes_get_precise_messages(typed: str, message: str) -> None:
    with pytest.raises(InvalidCodeError, match=message):
        normalise_code(typed)
    assert not is_valid_code(typed)


def test_a_foreign_character_reports_its_position() -> None:
    with pytest.raises(InvalidCodeError) as info:
        normalise_code("CT-7K3MQ-9XA2B-4FHC!")
    assert info.value.context == {"character": "!", "position": 20}


def test_non_text_is_rejected() -> None:
    with pytest.raises(InvalidCodeError, match="must be text"):
        normalise_code(123)  # type: ignore[arg-type]


_separators = st.sampled_from(["", "", "", "-", " ", "  ", "—"])


@PROPERTY
@given(st.randoms(use_true_random=False), st.data())
def test_property_any_typed_form_normalises_back(rnd: random.Random, data: st.DataObject) -> None:
    canonical = generate_code(rnd.randbytes)
    typed = []
    for symbol in canonical.replace("-", ""):
        if symbol == "0" and data.draw(st.booleans()):
            symbol = "O"
        elif symbol == "1" and data.draw(st.booleans()):
            symbol = data.draw(st.sampled_from("IL"))
        if data.draw(st.booleans()):
            symbol = symbol.lower()
        typed.append(symbol + data.draw(_separators))
    text = data.draw(_separators) + "".join(typed)
    assert normalise_code(text) == canonical


# ---------------------------------------------------------------------------
# Generation


def test_generated_codes_are_canonical_item_codes() -> None:
    source = seeded(1)
    codes = [generate_code(source) for _ in range(2000)]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert CODE_PATTERN.fullmatch(code)
        assert ITEM_CODE.validate_python(code) == code
        assert normalise_code(code) == code
        assert set(code.replace("-", "")) <= set(ALPHABET)


def test_generation_is_deterministic_for_a_seeded_source() -> None:
    assert generate_code(seeded(7)) == generate_code(seeded(7))
    assert generate_code(seeded(7)) != generate_code(seeded(8))


def _constant(raw: bytes) -> Callable[[int], bytes]:
    return lambda n: raw


def test_every_one_of_the_70_random_bits_reaches_the_code() -> None:
    assert 14 * 5 >= 60
    base = bytes(9)
    changed = 0
    for bit in range(70):
        raw = (1 << (71 - bit)).to_bytes(9, "big")
        try:
            flipped = generate_code(_constant(raw))
            reference = generate_code(_constant(base))
        except InvalidInputError:
            continue  # that body had no alphabet check symbol
        assert flipped != reference
        changed += 1
    assert changed >= 50


def test_generation_draws_again_when_the_check_has_no_symbol() -> None:
    draws: list[bytes] = []
    rejected = next(
        bytes([i]) + bytes(8)
        for i in range(256)
        if check_character("CT" + _body_of(bytes([i]) + bytes(8))) not in ALPHABET
    )
    sequence = iter([rejected, bytes(9)])

    def source(n: int) -> bytes:
        draws.append(b"")
        return next(sequence)

    assert generate_code(source) == code_from_body("CT" + "0" * 14)
    assert len(draws) == 2
    with pytest.raises(InvalidInputError, match="never produced a usable"):
        generate_code(lambda n: rejected)


def _body_of(raw: bytes) -> str:
    number = int.from_bytes(raw, "big") >> 2
    return "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(14)))


def test_a_source_returning_the_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="wrong number of bytes"):
        generate_code(lambda n: bytes(n - 1))


# ---------------------------------------------------------------------------
# Facts


def test_packaging_letters_cover_exactly_the_event_packaging_types() -> None:
    annotation = CommissionData.model_fields["packaging"].annotation
    assert set(PACKAGING_LETTERS) == set(get_args(annotation))
    letters = list(PACKAGING_LETTERS.values())
    assert len(set(letters)) == len(letters)
    assert all(len(letter) == 1 and letter in QR_ALPHANUMERIC for letter in letters)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"org": "Acme"}, "org"),
        ({"org": "a" * (MAX_ORG_CHARS + 1)}, "org"),
        ({"form": "26.3.1"}, "form"),
        ({"form": "2a"}, "form"),
        ({"packaging": "crate"}, "packaging"),
        ({"batch": "b-1"}, "batch"),
        ({"batch": "B" * (MAX_BATCH_CHARS + 1)}, "batch"),
        ({"batch": "-B"}, "batch"),
        ({"issued_at": "2026-02-30"}, "issued_at"),
        ({"issued_at": "20260131"}, "issued_at"),
        ({"issued_at": "1999-12-31"}, "issued_at"),
        ({"issued_at": "2100-01-01"}, "issued_at"),
        ({"gs1_key": "(02)123"}, "gs1_key"),
        ({"gs1_key": "(01)"}, "gs1_key"),
        ({"product_code": "-x"}, "product_code"),
    ],
)
def test_malformed_facts_are_rejected_with_the_field(changes: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        facts(**changes)
    assert info.value.context.get("field") == field


@pytest.mark.parametrize(
    "code", ["ct-7k3mq-9xa2b-4fhcn", "CT7K3MQ9XA2B4FHCN", "CT-7K3MQ-9XA2B-4FHDN", "DRUM-0001"]
)
def test_facts_need_a_canonical_valid_code(code: str) -> None:
    with pytest.raises(InvalidCodeError):
        facts(code=code)


def test_facts_accept_the_optional_gs1_keys_and_product_code() -> None:
    for key in [
        "(01)09506000134352(21)ABC123",
        "(8003)095060001343521234",
        "(00)106141411234567897",
    ]:
        assert facts(gs1_key=key).gs1_key == key
    full = facts(gs1_key="(01)09506000134352(21)7", product_code="SH-HCL-31")
    assert full.has_record_only_facts and not facts().has_record_only_facts
    assert full.label_facts() == facts()


def test_facts_json_round_trip_and_strictness() -> None:
    full = facts(gs1_key="(01)09506000134352(21)7", product_code="SH-HCL-31")
    assert CodeFacts.from_json(full.to_json()) == full
    data = full.to_json()
    with pytest.raises(InvalidInputError, match="missing or unknown"):
        CodeFacts.from_json({**data, "extra": "x"})
    with pytest.raises(InvalidInputError, match="missing or unknown"):
        CodeFacts.from_json({k: v for k, v in data.items() if k != "org"})
    with pytest.raises(InvalidInputError, match="must be a string"):
        CodeFacts.from_json({**data, "form": 26})
    with pytest.raises(InvalidInputError, match="must be a string"):
        CodeFacts.from_json({**data, "org": None})
    with pytest.raises(InvalidInputError, match="JSON object"):
        CodeFacts.from_json(["x"])


# ---------------------------------------------------------------------------
# Signatures


def test_sign_and_verify_round_trip() -> None:
    signed = sign_code(facts(gs1_key="(01)09506000134352(21)7", product_code="P1"), REGISTRY)
    verify_code(signed, ED25519, REGISTRY.public_key)
    verify_code(signed.for_label(), ED25519, REGISTRY.public_key)
    assert signed.for_label().record_signature is None
    assert signed.code == EXAMPLE


def test_the_signatures_cover_exactly_the_documented_bytes() -> None:
    full = facts(product_code="P1")
    signed = sign_code(full, REGISTRY)
    label = signing_input(
        CODE_LABEL,
        {
            "alg": "ed25519",
            "batch": "B2026-01",
            "code": EXAMPLE,
            "form": "26.3",
            "issued_at": "2026-01-31",
            "org": "acme-gas",
            "packaging": "cylinder",
            "v": 1,
        },
    )
    assert REGISTRY.sign(label) == signed.label_signature  # Ed25519 is deterministic
    record = signing_input(
        CODE_RECORD, {**full.label_payload("ed25519"), "gs1_key": None, "product_code": "P1"}
    )
    assert REGISTRY.sign(record) == signed.record_signature


def test_domain_prefixes_are_new_and_distinct() -> None:
    existing = {v for k, v in vars(canonical).items() if k.isupper() and isinstance(v, bytes)}
    assert CODE_LABEL not in existing and CODE_RECORD not in existing
    assert len({CODE_LABEL, CODE_RECORD}) == 2


LABEL_TAMPERS: dict[str, dict[str, Any]] = {
    "code": {"code": "CT-7K3MQ-9XA2B-4FH09"},
    "org": {"org": "acme-gat"},
    "form": {"form": "26.4"},
    "packaging": {"packaging": "drum"},
    "batch": {"batch": "B2026-02"},
    "issued_at": {"issued_at": "2026-02-01"},
}


@pytest.mark.parametrize("name", sorted(LABEL_TAMPERS))
def test_tampering_any_label_fact_breaks_the_signature(name: str) -> None:
    signed = sign_code(facts(), REGISTRY)
    forged = SignedCode(replace(signed.facts, **LABEL_TAMPERS[name]), signed.label_signature)
    with pytest.raises(SignatureInvalidError):
        verify_code(forged, ED25519, REGISTRY.public_key)
    # and with the record signature attached as well
    forged_full = replace(forged, record_signature=signed.record_signature)
    with pytest.raises(SignatureInvalidError):
        verify_code(forged_full, ED25519, REGISTRY.public_key)


@pytest.mark.parametrize(
    "changes",
    [
        {"gs1_key": "(01)09506000134352(21)8"},
        {"gs1_key": None},
        {"product_code": "P2"},
        {"product_code": None},
    ],
)
def test_tampering_a_record_only_fact_breaks_the_record_signature(changes: dict[str, Any]) -> None:
    signed = sign_code(facts(gs1_key="(01)09506000134352(21)7", product_code="P1"), REGISTRY)
    forged = replace(signed, facts=replace(signed.facts, **changes))
    with pytest.raises(SignatureInvalidError):
        verify_code(forged, ED25519, REGISTRY.public_key)


def test_record_only_facts_without_a_record_signature_do_not_verify() -> None:
    signed = sign_code(facts(product_code="P1"), REGISTRY)
    with pytest.raises(SignatureInvalidError, match="not covered by a record signature"):
        verify_code(replace(signed, record_signature=None), ED25519, REGISTRY.public_key)


def test_wrong_key_swapped_signatures_and_flipped_bits_fail() -> None:
    signed = sign_code(facts(), REGISTRY)
    assert signed.record_signature is not None
    with pytest.raises(SignatureInvalidError):
        verify_code(signed, ED25519, OTHER.public_key)
    swapped = SignedCode(signed.facts, signed.record_signature, signed.label_signature)
    with pytest.raises(SignatureInvalidError):
        verify_code(swapped, ED25519, REGISTRY.public_key)
    for index in (0, 31, 63):
        sig = bytearray(signed.label_signature)
        sig[index] ^= 1
        with pytest.raises(SignatureInvalidError):
            verify_code(replace(signed, label_signature=bytes(sig)), ED25519, REGISTRY.public_key)


def test_unknown_algorithm_or_malformed_key_is_a_verification_error() -> None:
    signed = sign_code(facts(), REGISTRY)
    with pytest.raises(VerificationError, match="unsupported"):
        verify_code(signed, "sm2", REGISTRY.public_key)
    with pytest.raises(VerificationError, match="malformed"):
        verify_code(signed, ED25519, b"\x00" * 5)


def test_signed_code_json_round_trip_and_strictness() -> None:
    signed = sign_code(facts(product_code="P1"), REGISTRY)
    assert SignedCode.from_json(signed.to_json()) == signed
    label_only = signed.for_label()
    assert SignedCode.from_json(label_only.to_json()) == label_only
    with pytest.raises(InvalidInputError):
        SignedCode.from_json({**signed.to_json(), "x": 1})
    with pytest.raises(InvalidInputError):
        SignedCode.from_json({**signed.to_json(), "label_signature": "not base64!"})
    with pytest.raises(InvalidInputError):
        SignedCode.from_json({**signed.to_json(), "record_signature": 5})


# ---------------------------------------------------------------------------
# Batches


class CountingSigner:
    def __init__(self) -> None:
        self.calls = 0

    algorithm = ED25519
    public_key = REGISTRY.public_key
    key_id = REGISTRY.key_id

    def sign(self, message: bytes) -> bytes:
        self.calls += 1
        return REGISTRY.sign(message)


def test_issue_batch_signs_distinct_codes_with_shared_facts() -> None:
    batch = issue_batch(
        "acme-gas",
        "26.3",
        "cylinder",
        "B2026-01",
        "2026-01-31",
        50,
        REGISTRY,
        seeded(3),
        product_code="SH-HCL-31",
    )
    assert len(batch) == 50
    assert len({item.code for item in batch}) == 50
    for item in batch:
        verify_code(item, ED25519, REGISTRY.public_key)
        assert item.facts.org == "acme-gas" and item.facts.form == "26.3"
        assert item.facts.packaging == "cylinder" and item.facts.batch == "B2026-01"
        assert item.facts.issued_at == "2026-01-31" and item.facts.product_code == "SH-HCL-31"
    again = issue_batch(
        "acme-gas",
        "26.3",
        "cylinder",
        "B2026-01",
        "2026-01-31",
        50,
        REGISTRY,
        seeded(3),
        product_code="SH-HCL-31",
    )
    assert again == batch  # deterministic for a seeded source (Ed25519 is deterministic)


def test_issue_batch_gives_each_code_its_gs1_key() -> None:
    keys = [f"(01)09506000134352(21){n}" for n in range(3)]
    batch = issue_batch(
        "acme-gas", "26.3", "cylinder", "B1", "2026-01-31", 3, REGISTRY, seeded(4), gs1_keys=keys
    )
    assert [item.facts.gs1_key for item in batch] == keys
    for item in batch:
        verify_code(item, ED25519, REGISTRY.public_key)


def test_issue_batch_refuses_a_repeated_code() -> None:
    with pytest.raises(DuplicateCodeError, match="repeated a code") as info:
        issue_batch("acme-gas", "26.3", "drum", "B1", "2026-01-31", 2, REGISTRY, lambda n: bytes(n))
    assert info.value.code == "duplicate_code"
    assert isinstance(info.value, LedgerError)


def test_issue_batch_refuses_repeated_or_miscounted_gs1_keys() -> None:
    with pytest.raises(DuplicateCodeError, match="GS1 key appears twice"):
        issue_batch(
            "acme-gas",
            "26.3",
            "drum",
            "B1",
            "2026-01-31",
            2,
            REGISTRY,
            seeded(1),
            gs1_keys=["(00)1", "(00)1"],
        )
    with pytest.raises(InvalidInputError, match="one key per code"):
        issue_batch(
            "acme-gas",
            "26.3",
            "drum",
            "B1",
            "2026-01-31",
            2,
            REGISTRY,
            seeded(1),
            gs1_keys=["(00)1"],
        )


@pytest.mark.parametrize("count", [0, -1, MAX_BATCH_COUNT + 1, True])
def test_issue_batch_refuses_a_bad_count(count: int) -> None:
    with pytest.raises(InvalidInputError, match="count must be"):
        issue_batch("acme-gas", "26.3", "drum", "B1", "2026-01-31", count, REGISTRY, seeded(1))


@pytest.mark.parametrize(
    "args",
    [
        ("Acme", "26.3", "drum", "B1", "2026-01-31"),
        ("acme-gas", "x", "drum", "B1", "2026-01-31"),
        ("acme-gas", "26.3", "crate", "B1", "2026-01-31"),
        ("acme-gas", "26.3", "drum", "b1", "2026-01-31"),
        ("acme-gas", "26.3", "drum", "B1", "2026-13-01"),
    ],
)
def test_issue_batch_validates_before_signing_anything(args: tuple[Any, ...]) -> None:
    org, form, packaging, batch_id, issued_at = args
    signer = CountingSigner()
    with pytest.raises(InvalidInputError):
        issue_batch(org, form, packaging, batch_id, issued_at, 5, signer, seeded(1))
    assert signer.calls == 0


# ---------------------------------------------------------------------------
# Label URLs


def test_label_url_has_the_documented_shape() -> None:
    signed = sign_code(facts(), REGISTRY)
    url = label_url(signed, "https://ct.example.cn/")
    prefix = "HTTPS://CT.EXAMPLE.CN/C/CT7K3MQ9XA2B4FHCN/1C260131/26.3/ACME-GAS/B2026-01/"
    assert url.startswith(prefix)
    assert re.fullmatch(r"[A-Z2-7]{103}", url[len(prefix) :])
    assert len(url) == 177


def test_label_url_round_trip_and_offline_verification() -> None:
    signed = sign_code(facts(gs1_key="(01)09506000134352(21)7", product_code="P1"), REGISTRY)
    url = label_url(signed, BASE)
    parsed = parse_label_url(url)
    assert parsed == signed.for_label()
    verify_code(parsed, ED25519, REGISTRY.public_key)
    assert verify_label_url(url, ED25519, REGISTRY.public_key) == parsed
    with pytest.raises(SignatureInvalidError):
        verify_label_url(url, ED25519, OTHER.public_key)


@pytest.mark.parametrize(
    "transform",
    [
        str.lower,
        lambda u: "  " + u + "/\n",
        lambda u: u.replace("HTTPS://", "http://"),
        lambda u: u[len(BASE) :],  # a bare path, as the server sees it
        lambda u: u.replace("/C/CT7K3MQ9XA2B4FHCN/", "/c/ct-7k3mq-9xa2b-4fhcn/"),
    ],
    ids=["lowercase", "whitespace-and-slash", "http", "bare-path", "hyphenated-code"],
)
def test_parse_label_url_is_tolerant_of_scanners(transform: Any) -> None:
    signed = sign_code(facts(), REGISTRY)
    url = label_url(signed, BASE)
    assert parse_label_url(transform(url)) == signed.for_label()


def test_org_underscores_travel_as_stars_and_come_back() -> None:
    signed = sign_code(facts(org="acme_gas.sh"), REGISTRY)
    url = label_url(signed, BASE)
    assert "/ACME*GAS.SH/" in url
    assert parse_label_url(url) == signed.for_label()
    assert parse_label_url(url.replace("*", "%2a")) == signed.for_label()
    verify_label_url(url, ED25519, REGISTRY.public_key)


def test_a_base_url_with_a_path_is_kept() -> None:
    signed = sign_code(facts(), REGISTRY)
    url = label_url(signed, "https://gov.example.cn:8443/CT")
    assert url.startswith("HTTPS://GOV.EXAMPLE.CN:8443/CT/C/CT7K3MQ9XA2B4FHCN/")
    assert parse_label_url(url) == signed.for_label()


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("https://ct.example.cn/trace", "uppercase path"),
        ("https://ct.example.cn/?x=1", "uppercase path"),
        ("ftp://ct.example.cn", "http"),
        ("ct.example.cn", "http"),
        ("https://ct_example.cn", "http"),
        ("HTTPS://" + "A" * (MAX_BASE_URL_CHARS - 7), "longer than"),
    ],
)
def test_unusable_base_urls_are_rejected(base: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        normalise_base_url(base)


def test_the_longest_allowed_base_url_is_accepted() -> None:
    base = "HTTPS://" + "A" * (MAX_BASE_URL_CHARS - 8)
    assert normalise_base_url(base.lower()) == base


def test_label_url_refuses_a_signature_of_the_wrong_size() -> None:
    signed = sign_code(facts(), REGISTRY)
    with pytest.raises(InvalidInputError, match="64-byte signature"):
        label_url(replace(signed, label_signature=b"x" * 63), BASE)


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda u: u.replace("/C/", "/D/"), InvalidInputError, "not a chemtrace label URL"),
        (lambda u: u.rsplit("/", 1)[0], InvalidInputError, "not a chemtrace label URL"),
        (
            lambda u: u.replace("/1C260131/", "/2C260131/"),
            InvalidInputError,
            "unknown label format",
        ),
        (
            lambda u: u.replace("/1C260131/", "/1C2601310/"),
            InvalidInputError,
            "unknown label format",
        ),
        (lambda u: u.replace("/1C260131/", "/1Q260131/"), InvalidInputError, "packaging letter"),
        (lambda u: u.replace("/1C260131/", "/1C26013X/"), InvalidInputError, "YYMMDD"),
        (lambda u: u.replace("/1C260131/", "/1C260230/"), InvalidInputError, "not a real date"),
        (lambda u: u.replace("4FHCN/", "4FHDN/"), InvalidCodeError, "check character"),
        (lambda u: u.replace("/26.3/", "/26.3.1/"), InvalidInputError, "form"),
        (lambda u: u.replace("/ACME-GAS/", "/ACME$GAS/"), InvalidInputError, "org"),
        (lambda u: u[:-1], InvalidInputError, "103 base32"),
        (lambda u: u[:-1] + "1", InvalidInputError, "103 base32"),
        (lambda u: u + "/", None, None),
        (lambda u: u * 20, InvalidInputError, "2048"),
    ],
)
def test_malformed_label_urls_are_rejected(mutate: Any, error: Any, message: str | None) -> None:
    url = label_url(sign_code(facts(), REGISTRY), BASE)
    if error is None:
        parse_label_url(mutate(url))
        return
    with pytest.raises(error, match=message):
        parse_label_url(mutate(url))


def test_non_canonical_base32_signature_is_rejected() -> None:
    url = label_url(sign_code(facts(), REGISTRY), BASE)
    # The last base32 character carries 2 signature bits and 3 zero padding bits.
    last = url[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    bumped = alphabet[alphabet.index(last) ^ 1]
    with pytest.raises(InvalidInputError, match="not canonical"):
        parse_label_url(url[:-1] + bumped)


def test_qr_alphanumeric_set_is_the_standard_one() -> None:
    assert len(QR_ALPHANUMERIC) == 45
    for char in "?=_&#abc":
        assert char not in QR_ALPHANUMERIC


org_ids = st.from_regex(rf"\A[a-z0-9][a-z0-9._-]{{1,{MAX_ORG_CHARS - 1}}}\Z")
forms = st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3})?\Z")
batches = st.from_regex(rf"\A[0-9A-Z][0-9A-Z-]{{0,{MAX_BATCH_CHARS - 1}}}\Z")
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@PROPERTY
@given(
    st.randoms(use_true_random=False),
    org_ids,
    forms,
    st.sampled_from(sorted(PACKAGING_LETTERS)),
    batches,
    dates,
    st.binary(min_size=64, max_size=64),
)
def test_property_every_label_url_round_trips_in_the_alphanumeric_set(
    rnd: random.Random, org: str, form: str, packaging: Any, batch: str, day: Any, sig: bytes
) -> None:
    item = CodeFacts(generate_code(rnd.randbytes), org, form, packaging, batch, day.isoformat())
    signed = SignedCode(item, sig)
    url = label_url(signed, BASE)
    assert set(url) <= QR_ALPHANUMERIC
    assert len(url) <= MAX_LABEL_URL_CHARS
    assert parse_label_url(url) == signed
    assert parse_label_url(url.lower()) == signed


def _qr_version(text: str) -> int:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    return int(qr.version)


def longest_label_url() -> str:
    """Every variable field at its maximum length, with the longest base URL allowed."""
    item = CodeFacts(
        code=generate_code(seeded(9)),
        org="o" * MAX_ORG_CHARS,
        form="999.999",
        packaging="cylinder",
        batch="B" * MAX_BATCH_CHARS,
        issued_at="2099-12-31",
    )
    signed = sign_code(item, REGISTRY)
    return label_url(signed, "HTTPS://" + "A" * (MAX_BASE_URL_CHARS - 8))


def test_the_longest_payload_fits_qr_version_8_at_level_m(
    record_property: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = longest_label_url()
    assert len(url) == 219 <= MAX_LABEL_URL_CHARS
    assert set(url) <= QR_ALPHANUMERIC
    version = _qr_version(url)
    record_property("longest_label_url_chars", len(url))
    record_property("longest_label_qr_version_M", version)
    with capsys.disabled():
        print(f"\nlongest label URL: {len(url)} chars -> QR version {version}-M")
    assert version == 8
    # the bound is tight: one character past 8-M's capacity needs version 9
    assert _qr_version("A" * MAX_LABEL_URL_CHARS) == 8
    assert _qr_version("A" * (MAX_LABEL_URL_CHARS + 1)) == 9


def test_a_typical_payload_fits_qr_version_7_at_level_m(record_property: Any) -> None:
    url = label_url(sign_code(facts(), REGISTRY), BASE)
    version = _qr_version(url)
    record_property("typical_label_qr_version_M", version)
    assert len(url) == 177 and version == 7
