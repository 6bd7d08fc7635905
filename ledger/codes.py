"""Trace codes: one physical item, one code, signed by the registry.

The code
========

A trace code looks like ``CT-7K3MQ-9XA2B-4FHCN``:

* the prefix ``CT``;
* 14 random symbols (70 bits from the caller's random source);
* one check symbol;
* printed uppercase in three groups of five after the prefix. The compact form
  (``CT7K3MQ9XA2B4FHCN``, 17 symbols) is what the check covers. The printed form
  matches the event ``ItemCode`` pattern ``^[0-9A-Z][0-9A-Z-]{3,63}$``.

Symbols come from **Crockford base 32** (``0-9`` and ``A-Z`` without ``I L O U``).
Typed input is forgiving: it is NFKC-normalised (so full-width characters from a
Chinese IME work), uppercased, stripped of spaces and hyphens, and the look-alikes
``O`` -> ``0`` and ``I``/``L`` -> ``1`` are read as the digit they resemble. A
misread look-alike is therefore not an error at all.

The check symbol is **Crockford's check symbol**: read the 16 symbols ``CT`` +
body as a base-32 number ``N``; the check value is ``c = N mod 37``. Crockford
spells values 32..36 with ``* ~ $ = U``. None of those fits the ``ItemCode``
pattern or the 32-symbol alphabet (and ``~`` and ``=`` are not even in the QR
alphanumeric set), so :func:`generate_code` draws again when ``c >= 32``
(rejection sampling: about 5 draws in 37 are redrawn, and issued codes keep about
69.8 bits of entropy). Every issued code, check symbol included, uses only the 32
ordinary symbols.

Why mod 37 and not a mod-32 (Luhn-style) check: a weighted sum in ``Z/32`` catches
every substitution only if every weight is odd, and then two neighbouring weights
differ by an even number, so swapping two symbols 16 apart goes unnoticed. Luhn
mod N has the same kind of hole: it misses swapping the symbols worth 0 and N-1.
37 is a prime larger than the alphabet, which gives the proof below. ISO/IEC 7064
MOD 37,36 would also do, but it needs all 36 alphanumerics, so ``O``/``0`` and
``I``/``1`` could not be read as each other; Crockford's alphabet and its check
are the better fit for codes people read off drums and type.

**Proof sketch.** Number the 17 compact symbols ``s_16 .. s_0`` from the left,
where ``s_0`` is the check symbol ``c`` and ``N = sum_{k>=1} s_k * 32^(k-1)``. A
code is valid iff ``N = c (mod 37)``. Every value lies in ``[0, 32)`` and
``gcd(32, 37) = 1``.

1. Substitution ``a -> b`` (``a != b``) at body position ``k >= 1`` changes ``N`` by
   ``(b - a) * 32^(k-1)``. ``0 < |b - a| < 37`` and 37 is prime, so 37 divides
   neither factor: ``N mod 37`` changes while ``c`` does not. Detected.
2. Substitution of the check symbol: ``c' != c`` with both in ``[0, 37)``, so
   ``c' != N (mod 37)``. Detected.
3. Swapping body symbols at ``k+1, k`` (``k >= 1``, values ``a != b``) changes ``N``
   by ``(a - b) * (32^k - 32^(k-1)) = (a - b) * 31 * 32^(k-1)``; 37 divides none of
   the factors. Detected.
4. Swapping the last body symbol ``b`` with the check symbol ``c`` (``b != c``)
   turns ``N`` into ``N' = N - b + c`` and the check into ``b``. It would pass only
   if ``N - b + c = b``, i.e. ``2c - 2b = 0 (mod 37)`` (using ``N = c``), i.e.
   ``c = b`` since 37 is odd and prime. Detected.

The prefix ``CT`` is part of ``N``, so errors there are caught twice (by the
prefix and by the check). ``tests/ledger/test_codes.py`` checks all of this
exhaustively: every ordered symbol pair at every position, for substitutions and
adjacent transpositions. Those two error kinds are the guarantee; a dropped or
doubled symbol is caught by the fixed length, not by the check. A typed code
proves nothing about authenticity: it is checked online, since the signature
only travels in the QR.

Facts and signatures
====================

:class:`CodeFacts` records what the registry issued: the code, the enterprise
(org id), the chemical form id (``"26.3"``), the packaging type, the batch id,
the issue date, and optionally a GS1 key (``(01)…(21)…``, ``(8003)…``,
``(00)…``) and the enterprise product code.

The registry signs **two** messages (through :class:`ledger.signing.Signer`):

* the **label signature**, domain :data:`CODE_LABEL`, over the facts that travel
  in the QR: code, org, form, packaging, batch, issue date (and the algorithm and
  format version). A handheld holding only the registry public key checks it
  offline from the scanned QR alone;
* the **record signature**, domain :data:`CODE_RECORD`, over *all* facts,
  including the GS1 key and the product code. It is kept with the registry
  record and the log, where the facts are at hand; it does not travel in the QR,
  because the optional fields would not fit a 25 mm label.

:func:`verify_code` checks the label signature, and the record signature when
present. A :class:`SignedCode` that carries record-only facts without a record
signature does not verify: no fact is ever reported as signed when it is not.

The label URL
=============

::

    {BASE}/C/{CODE}/{V}{P}{YYMMDD}/{FORM}/{ORG}/{BATCH}/{SIG}
    HTTPS://CT.EXAMPLE.CN/C/CT7K3MQ9XA2B4FHCN/1C260131/26.3/ACME-GAS/B2026-01/<103 x base32>

* ``CODE`` is the code in compact form (no hyphens: 3 characters fewer; the
  printed text under the QR has them);
* ``V`` is the label format, ``1`` (Ed25519: a 64-byte signature);
* ``P`` is one packaging letter (:data:`PACKAGING_LETTERS`);
* ``YYMMDD`` is the issue date; label format 1 covers issue dates 2000-2099, and
  :class:`CodeFacts` refuses others;
* ``ORG`` is the org id uppercased, with ``_`` written as ``*`` (``_`` is not in
  the QR alphanumeric set; org ids are lowercase, so this is reversible);
* ``SIG`` is the label signature in RFC 4648 base32 without padding (103 characters).

Every character is in the QR alphanumeric set (``0-9 A-Z space $ % * + - . / :``),
so the whole URL is one alphanumeric segment (5.5 bits per character). ``?`` and
``=`` are not in that set, which is why the signature is a path segment, not a
query parameter. A phone camera opens the URL; the public page ``/c/{code}``
receives the five extra segments. The server must route ``/C/`` as well as
``/c/`` (browsers lowercase only the scheme and host), accept the compact code
(normalise it with :func:`normalise_code`) and may ignore or check the rest with
:func:`parse_label_url`.

Size: QR 8-M holds 221 alphanumeric characters and 7-M holds 178. With a base URL of
at most :data:`MAX_BASE_URL_CHARS` (32) characters and every field at its maximum
length (form 7, org :data:`MAX_ORG_CHARS` = 32, batch :data:`MAX_BATCH_CHARS` = 12),
a label URL is at most 219 characters, so every label fits version 8 at level M
(49 modules: 0.51 mm each if the symbol spans 25 mm, 0.44 mm with a 4-module
quiet zone inside the label); :func:`label_url` enforces the bound. With the
21-character base ``HTTPS://CT.EXAMPLE.CN`` a URL has 157 + len(form) + len(org) +
len(batch) characters, so it fits version 7 when those three total at most 21
(``26.3``, ``acme-gas``, ``B2026-01``: 177 characters, version 7).

This module is pure: no I/O. Rendering lives in ``api/labels.py``; uniqueness
across batches ("never reissued") is the store's ``UNIQUE(code)``.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal, cast

from ledger.canonical import JsonValue, b64decode, b64encode, signing_input
from ledger.errors import InvalidInputError, LedgerError, SignatureInvalidError
from ledger.signing import Signer, verify_signature

# ---------------------------------------------------------------------------
# Errors


class InvalidCodeError(InvalidInputError):
    """A trace code is malformed: wrong characters, prefix, length or check symbol."""

    code = "invalid_code"


class DuplicateCodeError(LedgerError):
    """A batch would contain the same code (or GS1 key) twice; nothing was issued."""

    code = "duplicate_code"


# ---------------------------------------------------------------------------
# The code format

PREFIX: Final = "CT"
ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base 32: the symbols of every issued code."""
CHECK_SYMBOLS: Final = ALPHABET + "*~$=U"
"""Crockford's 37 check symbols; issued codes only ever use the first 32."""
CHECK_MODULUS: Final = 37
RANDOM_SYMBOLS: Final = 14
"""Random symbols per code: 70 bits before rejection sampling."""
COMPACT_LENGTH: Final = len(PREFIX) + RANDOM_SYMBOLS + 1
GROUP: Final = 5
CODE_PATTERN: Final = re.compile(
    r"^CT-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$"
)
"""The canonical printed form (a subset of the event ``ItemCode`` pattern)."""

_VALUES: Final = {symbol: value for value, symbol in enumerate(ALPHABET)}
_ALIASES: Final = {"O": "0", "I": "1", "L": "1"}
_SEPARATORS: Final = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc")
_MAX_TYPED: Final = 200
_RANDOM_BYTES: Final = (RANDOM_SYMBOLS * 5 + 7) // 8
_MAX_DRAWS: Final = 64


def _compact(typed: object, *, what: str = "code") -> str:
    """Normalise typed text to code symbols: NFKC, uppercase, no separators, aliases read."""
    if not isinstance(typed, str):
        raise InvalidCodeError(f"a {what} must be text", type=type(typed).__name__)
    if len(typed) > _MAX_TYPED:
        raise InvalidCodeError(f"a {what} is at most {_MAX_TYPED} characters", length=len(typed))
    text = unicodedata.normalize("NFKC", typed).upper()
    symbols: list[str] = []
    for position, char in enumerate(text, start=1):
        if char in _SEPARATORS or char.isspace():
            continue
        char = _ALIASES.get(char, char)
        if char not in _VALUES:
            reason = "U is never used" if char == "U" else "codes use 0-9 and A-Z"
            raise InvalidCodeError(
                f"{char!r} is not a trace-code character ({reason})",
                character=char,
                position=position,
            )
        symbols.append(char)
    return "".join(symbols)


def _check_value(symbols: str) -> int:
    """``N mod 37`` where ``N`` is ``symbols`` read as a base-32 number (Horner's rule)."""
    value = 0
    for symbol in symbols:
        value = (value * 32 + _VALUES[symbol]) % CHECK_MODULUS
    return value


def check_character(body: str) -> str:
    """Return Crockford's mod-37 check symbol for ``body``.

    ``body`` is the code without its check symbol (for a trace code: ``CT`` and
    the 14 random symbols), typed in any case, with or without hyphens. The
    result is one of :data:`CHECK_SYMBOLS`; bodies whose check symbol is not one
    of the first 32 are never issued.

    Raises:
        InvalidCodeError: ``body`` is empty or holds a character outside the alphabet.
    """
    symbols = _compact(body, what="code body")
    if not symbols:
        raise InvalidCodeError("a code body needs at least one symbol")
    return CHECK_SYMBOLS[_check_value(symbols)]


def _format(compact: str) -> str:
    rest = compact[len(PREFIX) :]
    groups = [rest[i : i + GROUP] for i in range(0, len(rest), GROUP)]
    return "-".join([PREFIX, *groups])


def normalise_code(typed: str) -> str:
    """Return the canonical printed form (``CT-XXXXX-XXXXX-XXXXX``) of a typed code.

    Accepts lowercase, spaces and hyphens anywhere, full-width characters, and
    the look-alikes ``O`` (for ``0``) and ``I``/``L`` (for ``1``).

    Raises:
        InvalidCodeError: with a precise message: a character outside the
            alphabet (and its position), a wrong prefix, a wrong length, or a
            check symbol that does not match (a mistyped or swapped character).
    """
    compact = _compact(typed)
    if not compact.startswith(PREFIX):
        raise InvalidCodeError(f"a trace code starts with {PREFIX!r}", start=compact[:2])
    if len(compact) != COMPACT_LENGTH:
        expected = COMPACT_LENGTH - len(PREFIX)
        found = len(compact) - len(PREFIX)
        raise InvalidCodeError(
            f"a trace code has {expected} characters after {PREFIX!r}, this one has {found}",
            length=found,
        )
    if CHECK_SYMBOLS[_check_value(compact[:-1])] != compact[-1]:
        raise InvalidCodeError(
            "the check character does not match: a character is mistyped or two are swapped"
        )
    return _format(compact)


def is_valid_code(text: str) -> bool:
    """Whether ``text`` is a well-formed trace code in any typed form (see :func:`normalise_code`).

    This checks the form only; whether the registry issued the code is a
    question for the registry (online) or for the label signature (offline).
    """
    try:
        normalise_code(text)
    except InvalidCodeError:
        return False
    return True


def code_from_body(body: str) -> str:
    """Return the canonical code for a body of ``CT`` plus 14 symbols.

    Raises:
        InvalidCodeError: the body is malformed, or its check value is 32..36,
            which has no symbol in the 32-symbol alphabet (such bodies are never issued).
    """
    symbols = _compact(body, what="code body")
    if not symbols.startswith(PREFIX) or len(symbols) != COMPACT_LENGTH - 1:
        raise InvalidCodeError(
            f"a code body is {PREFIX!r} and {RANDOM_SYMBOLS} symbols", length=len(symbols)
        )
    value = _check_value(symbols)
    if value >= len(ALPHABET):
        raise InvalidCodeError(
            "this body's check value has no symbol in the code alphabet; draw another body",
            check_value=value,
        )
    return _format(symbols + ALPHABET[value])


RandomBytes = Callable[[int], bytes]


def generate_code(random_bytes: RandomBytes = secrets.token_bytes) -> str:
    """Draw a new canonical code from ``random_bytes`` (default: the OS CSPRNG).

    ``random_bytes(n)`` must return ``n`` bytes; tests pass a seeded source.
    Uniqueness across batches is the store's job; see :func:`issue_batch`.

    Raises:
        InvalidInputError: the random source returned the wrong number of bytes,
            or only ever produced bodies without a usable check symbol.
    """
    for _ in range(_MAX_DRAWS):
        raw = random_bytes(_RANDOM_BYTES)
        if len(raw) != _RANDOM_BYTES:
            raise InvalidInputError(
                "random source returned the wrong number of bytes",
                expected=_RANDOM_BYTES,
                got=len(raw),
            )
        number = int.from_bytes(raw, "big") >> (_RANDOM_BYTES * 8 - RANDOM_SYMBOLS * 5)
        body = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(RANDOM_SYMBOLS)))
        value = _check_value(PREFIX + body)
        if value < len(ALPHABET):
            return _format(PREFIX + body + ALPHABET[value])
    raise InvalidInputError("random source never produced a usable code body", draws=_MAX_DRAWS)


# ---------------------------------------------------------------------------
# Facts

Packaging = Literal[
    "cylinder", "drum", "bag", "ibc", "bottle", "tank", "bulk", "pallet", "box", "other"
]
PACKAGING_LETTERS: Final[Mapping[Packaging, str]] = {
    "cylinder": "C",
    "drum": "D",
    "bag": "B",
    "ibc": "I",
    "bottle": "O",
    "tank": "T",
    "bulk": "K",
    "pallet": "P",
    "box": "X",
    "other": "Z",
}
"""One letter per packaging type, as written in the label URL."""
_PACKAGING_BY_LETTER: Final = {letter: name for name, letter in PACKAGING_LETTERS.items()}

MAX_ORG_CHARS: Final = 32
"""Org ids up to 32 characters can hold codes (the event ``EntityId`` allows 64)."""
MAX_BATCH_CHARS: Final = 12
MAX_BATCH_COUNT: Final = 10_000

CODE_LABEL: Final = b"chemtrace/v1/code-label\n"
"""Domain prefix of the label signature (the facts carried in the QR)."""
CODE_RECORD: Final = b"chemtrace/v1/code-record\n"
"""Domain prefix of the record signature (all facts, kept with the registry record)."""
FACTS_VERSION: Final = 1

_ORG: Final = re.compile(rf"^[a-z0-9][a-z0-9._-]{{1,{MAX_ORG_CHARS - 1}}}$")
_FORM: Final = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3})?$")
_BATCH: Final = re.compile(rf"^[0-9A-Z][0-9A-Z-]{{0,{MAX_BATCH_CHARS - 1}}}$")
_DATE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
GS1_KEY: Final = re.compile(r"^\((00|01|8003)\)[!-~]{1,100}$")
"""A GS1 key as a code record keeps it: ``(01)GTIN(21)serial``, ``(8003)GRAI`` or ``(00)SSCC``."""
_PRODUCT_CODE: Final = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._/-]{0,63}$")


def _require(pattern: re.Pattern[str], value: object, name: str, hint: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shown = value[:80] if isinstance(value, str) else type(value).__name__
        raise InvalidInputError(f"{name} must be {hint}", field=name, value=shown)
    return value


def _require_date(value: object, name: str = "issued_at") -> str:
    text = _require(_DATE, value, name, "a date like 2026-01-31")
    try:
        date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError(f"{name} is not a real date", field=name, value=text) from exc
    return text


@dataclass(frozen=True, slots=True)
class CodeFacts:
    """What the registry issued with one code. Validated on construction.

    Raises (on construction):
        InvalidCodeError: ``code`` is not a canonical trace code.
        InvalidInputError: another field is malformed (named in ``context``).
    """

    code: str
    org: str
    form: str
    packaging: Packaging
    batch: str
    issued_at: str
    gs1_key: str | None = None
    product_code: str | None = None

    def __post_init__(self) -> None:
        code: object = self.code
        if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
            raise InvalidCodeError(
                "code must be in canonical form like CT-7K3MQ-9XA2B-4FHCN", value=str(code)[:80]
            )
        normalise_code(code)  # the check symbol
        _require(_ORG, self.org, "org", f"an org id of at most {MAX_ORG_CHARS} characters")
        _require(_FORM, self.form, "form", "a chemical form id like 26 or 26.3")
        if self.packaging not in PACKAGING_LETTERS:
            raise InvalidInputError(
                "packaging must be one of " + ", ".join(PACKAGING_LETTERS),
                field="packaging",
                value=str(self.packaging)[:80],
            )
        _require(
            _BATCH,
            self.batch,
            "batch",
            f"1-{MAX_BATCH_CHARS} characters of 0-9, A-Z and '-' (uppercase)",
        )
        if not "2000" <= _require_date(self.issued_at)[:4] <= "2099":
            raise InvalidInputError(
                "issued_at must be in 2000-2099 (label format 1 writes YYMMDD)",
                field="issued_at",
                value=self.issued_at,
            )
        if self.gs1_key is not None:
            _require(GS1_KEY, self.gs1_key, "gs1_key", "a GS1 element string (00), (01) or (8003)")
        if self.product_code is not None:
            _require(_PRODUCT_CODE, self.product_code, "product_code", "a product code")

    @property
    def has_record_only_facts(self) -> bool:
        """Whether facts beyond the label (GS1 key, product code) are present."""
        return self.gs1_key is not None or self.product_code is not None

    def label_facts(self) -> CodeFacts:
        """These facts without the record-only ones: what a label carries."""
        return CodeFacts(self.code, self.org, self.form, self.packaging, self.batch, self.issued_at)

    def label_payload(self, algorithm: str) -> dict[str, JsonValue]:
        """The JSON the label signature covers (domain :data:`CODE_LABEL`)."""
        return {
            "alg": algorithm,
            "batch": self.batch,
            "code": self.code,
            "form": self.form,
            "issued_at": self.issued_at,
            "org": self.org,
            "packaging": self.packaging,
            "v": FACTS_VERSION,
        }

    def record_payload(self, algorithm: str) -> dict[str, JsonValue]:
        """The JSON the record signature covers (domain :data:`CODE_RECORD`): every fact."""
        payload = self.label_payload(algorithm)
        payload["gs1_key"] = self.gs1_key
        payload["product_code"] = self.product_code
        return payload

    def to_json(self) -> dict[str, JsonValue]:
        """The facts as JSON, for storage and the API."""
        return {
            "batch": self.batch,
            "code": self.code,
            "form": self.form,
            "gs1_key": self.gs1_key,
            "issued_at": self.issued_at,
            "org": self.org,
            "packaging": self.packaging,
            "product_code": self.product_code,
        }

    @classmethod
    def from_json(cls, data: object) -> CodeFacts:
        """Parse :meth:`to_json` output strictly (unknown or missing keys are errors).

        Raises:
            InvalidInputError: the JSON is malformed.
        """
        required = {"batch", "code", "form", "issued_at", "org", "packaging"}
        optional = {"gs1_key", "product_code"}
        if not isinstance(data, Mapping):
            raise InvalidInputError("code facts must be a JSON object")
        keys = set(data)
        if not required <= keys or not keys <= required | optional:
            raise InvalidInputError(
                "code facts have missing or unknown fields",
                missing=sorted(required - keys),
                unknown=sorted(keys - required - optional),
            )
        for name in keys:
            value = data[name]
            if not isinstance(value, str) and not (name in optional and value is None):
                raise InvalidInputError("code fact must be a string", field=name)
        return cls(
            code=cast(str, data["code"]),
            org=cast(str, data["org"]),
            form=cast(str, data["form"]),
            packaging=cast(Packaging, data["packaging"]),
            batch=cast(str, data["batch"]),
            issued_at=cast(str, data["issued_at"]),
            gs1_key=cast("str | None", data.get("gs1_key")),
            product_code=cast("str | None", data.get("product_code")),
        )


@dataclass(frozen=True, slots=True)
class SignedCode:
    """Code facts with the registry's label signature and (for full records) record signature."""

    facts: CodeFacts
    label_signature: bytes
    record_signature: bytes | None = None

    @property
    def code(self) -> str:
        """The canonical trace code."""
        return self.facts.code

    def for_label(self) -> SignedCode:
        """What travels in the QR: the label facts and the label signature only."""
        return SignedCode(self.facts.label_facts(), self.label_signature)

    def to_json(self) -> dict[str, JsonValue]:
        """Facts and signatures (standard base64) as JSON, for storage, the API and bundles."""
        return {
            "facts": self.facts.to_json(),
            "label_signature": b64encode(self.label_signature),
            "record_signature": (
                None if self.record_signature is None else b64encode(self.record_signature)
            ),
        }

    @classmethod
    def from_json(cls, data: object) -> SignedCode:
        """Parse :meth:`to_json` output strictly.

        Raises:
            InvalidInputError: the JSON is malformed.
        """
        if not isinstance(data, Mapping) or set(data) != {
            "facts",
            "label_signature",
            "record_signature",
        }:
            raise InvalidInputError("a signed code has facts, label_signature, record_signature")
        facts = data["facts"]
        label = data["label_signature"]
        record = data["record_signature"]
        if not isinstance(facts, Mapping) or not isinstance(label, str):
            raise InvalidInputError("a signed code needs facts and a label signature")
        if record is not None and not isinstance(record, str):
            raise InvalidInputError("record_signature must be base64 or null")
        return cls(
            CodeFacts.from_json(facts),
            b64decode(label),
            None if record is None else b64decode(record),
        )


def sign_code(facts: CodeFacts, signer: Signer) -> SignedCode:
    """Have the registry sign ``facts``: a label signature and a record signature."""
    algorithm = signer.algorithm
    return SignedCode(
        facts,
        signer.sign(signing_input(CODE_LABEL, facts.label_payload(algorithm))),
        signer.sign(signing_input(CODE_RECORD, facts.record_payload(algorithm))),
    )


def verify_code(signed: SignedCode, algorithm: str, public_key: bytes) -> None:
    """Check a signed code against the registry's trusted public key, offline.

    The label signature is always checked. The record signature is checked
    when present; record-only facts (GS1 key, product code) without one fail.

    Raises:
        SignatureInvalidError: a signature does not verify, or facts are unsigned.
        VerificationError: the algorithm is unsupported or the key is malformed.
    """
    facts = signed.facts
    verify_signature(
        algorithm,
        public_key,
        signing_input(CODE_LABEL, facts.label_payload(algorithm)),
        signed.label_signature,
    )
    if signed.record_signature is None:
        if facts.has_record_only_facts:
            raise SignatureInvalidError(
                "the GS1 key or product code is not covered by a record signature",
                code=facts.code,
            )
        return
    verify_signature(
        algorithm,
        public_key,
        signing_input(CODE_RECORD, facts.record_payload(algorithm)),
        signed.record_signature,
    )


def issue_batch(
    org: str,
    form_id: str,
    packaging: Packaging,
    batch_id: str,
    issued_at: str,
    count: int,
    signer: Signer,
    random_bytes: RandomBytes = secrets.token_bytes,
    *,
    product_code: str | None = None,
    gs1_keys: Sequence[str] | None = None,
) -> list[SignedCode]:
    """Issue ``count`` new signed codes to ``org`` for one chemical form and packaging.

    ``gs1_keys``, when given, holds one GS1 key per code (in order). Every fact
    is validated before anything is signed. Codes are never reissued: the store
    enforces ``UNIQUE(code)`` across batches; within a batch this function
    refuses duplicates itself.

    Raises:
        InvalidInputError: a fact or the count is malformed.
        DuplicateCodeError: the random source repeated a code, or a GS1 key repeats.
    """
    if isinstance(count, bool) or not 1 <= count <= MAX_BATCH_COUNT:
        raise InvalidInputError(f"count must be 1..{MAX_BATCH_COUNT}", count=count)
    keys: list[str | None] = [None] * count if gs1_keys is None else list(gs1_keys)
    if len(keys) != count:
        raise InvalidInputError("gs1_keys needs one key per code", count=count, keys=len(keys))
    if gs1_keys is not None and len(set(keys)) != count:
        raise DuplicateCodeError("a GS1 key appears twice in the batch")
    codes: list[str] = []
    seen: set[str] = set()
    for _ in range(count):
        code = generate_code(random_bytes)
        if code in seen:
            raise DuplicateCodeError(
                "the random source repeated a code; refusing the whole batch", code=code
            )
        seen.add(code)
        codes.append(code)
    facts = [
        CodeFacts(
            code=code,
            org=org,
            form=form_id,
            packaging=packaging,
            batch=batch_id,
            issued_at=issued_at,
            gs1_key=key,
            product_code=product_code,
        )
        for code, key in zip(codes, keys, strict=True)
    ]
    return [sign_code(item, signer) for item in facts]


# ---------------------------------------------------------------------------
# The label URL

QR_ALPHANUMERIC: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
"""The 45 characters of QR alphanumeric mode (ISO/IEC 18004, 7.4.4)."""
MAX_LABEL_URL_CHARS: Final = 221
"""QR version 8 at level M holds 221 alphanumeric characters (7-M holds 178)."""
MAX_BASE_URL_CHARS: Final = 32
LABEL_FORMAT: Final = "1"
SIGNATURE_BYTES: Final = 64
SIGNATURE_CHARS: Final = (SIGNATURE_BYTES * 8 + 4) // 5
_BASE_URL: Final = re.compile(r"^(HTTPS?)://([0-9A-Z.-]+(?::[0-9]{1,5})?)(/[0-9A-Z$*+.:/-]*)?$")
_URL_PATH_MAX: Final = 2048


def normalise_base_url(base_url: str) -> str:
    """Return ``base_url`` uppercased and without a trailing ``/``, checked for the label.

    The scheme and host are case-insensitive and are uppercased; a path part
    must already be uppercase (paths are case-sensitive on most servers).

    Raises:
        InvalidInputError: the base URL is not http(s), has characters outside the
            QR alphanumeric set, or is longer than :data:`MAX_BASE_URL_CHARS`.
    """
    text = base_url.strip().rstrip("/")
    scheme, sep, rest = text.partition("://")
    host, slash, path = rest.partition("/")
    candidate = scheme.upper() + sep + host.upper() + slash + path
    if not _BASE_URL.fullmatch(candidate):
        raise InvalidInputError(
            "base URL must be http(s)://HOST[/PATH] using only 0-9, A-Z and - . / : $ * +"
            " (an uppercase path)",
            value=base_url[:80],
        )
    if len(candidate) > MAX_BASE_URL_CHARS:
        raise InvalidInputError(
            f"base URL is longer than {MAX_BASE_URL_CHARS} characters; labels would not fit QR 8-M",
            length=len(candidate),
        )
    return candidate


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def label_url(signed: SignedCode, base_url: str) -> str:
    """Return the QR payload for ``signed``: an all-uppercase URL in the QR alphanumeric set.

    Only the label facts and the label signature travel; see the module docstring.

    Raises:
        InvalidInputError: the base URL is unusable, or the signature is not
            :data:`SIGNATURE_BYTES` long (label format 1 carries Ed25519).
    """
    base = normalise_base_url(base_url)
    if len(signed.label_signature) != SIGNATURE_BYTES:
        raise InvalidInputError(
            f"label format {LABEL_FORMAT} carries a {SIGNATURE_BYTES}-byte signature",
            length=len(signed.label_signature),
        )
    facts = signed.facts
    meta = LABEL_FORMAT + PACKAGING_LETTERS[facts.packaging] + facts.issued_at[2:].replace("-", "")
    org = facts.org.upper().replace("_", "*")
    url = "/".join(
        [
            base,
            "C",
            facts.code.replace("-", ""),
            meta,
            facts.form,
            org,
            facts.batch,
            _b32(signed.label_signature),
        ]
    )
    # Guaranteed by the field limits; kept as a guard against future edits.
    if len(url) > MAX_LABEL_URL_CHARS or not set(url) <= QR_ALPHANUMERIC:
        raise InvalidInputError("label URL does not fit QR 8-M in alphanumeric mode", url=url)
    return url


def parse_label_url(url: str) -> SignedCode:
    """Parse a scanned label URL (any case, any base) into the label's signed facts.

    Tolerates lowercase (some scanners and browsers fold case), surrounding
    whitespace, a trailing ``/``, a percent-encoded ``*`` and a bare path
    (``/C/…``). The result has no record-only facts and no record signature;
    check it with :func:`verify_code`.

    Raises:
        InvalidCodeError: the code in the URL is malformed.
        InvalidInputError: the text is not a label URL of a known format.
    """
    if len(url) > _URL_PATH_MAX:
        raise InvalidInputError("a label URL must be text of at most 2048 characters")
    text = re.sub("%2a", "*", url.strip(), flags=re.IGNORECASE).upper()
    if "://" in text:
        rest = text.split("://", 1)[1]
        slash = rest.find("/")
        text = "" if slash < 0 else rest[slash:]
    text = text.removesuffix("/")
    segments = text.split("/")
    if len(segments) < 8 or segments[-7] != "C":
        raise InvalidInputError(
            "not a chemtrace label URL: expected …/C/{code}/{meta}/{form}/{org}/{batch}/{sig}",
            value=url[:120],
        )
    code_text, meta, form, org, batch, sig = segments[-6:]
    code = normalise_code(code_text)
    if len(meta) != 8 or meta[0] != LABEL_FORMAT:
        raise InvalidInputError(
            "unknown label format (expected '1' + packaging letter + YYMMDD)", meta=meta[:20]
        )
    packaging = _PACKAGING_BY_LETTER.get(meta[1])
    if packaging is None:
        raise InvalidInputError("unknown packaging letter in label", letter=meta[1])
    digits = meta[2:]
    if not digits.isascii() or not digits.isdigit():
        raise InvalidInputError("label issue date must be YYMMDD", meta=meta)
    issued_at = _require_date(f"20{digits[:2]}-{digits[2:4]}-{digits[4:]}")
    signature = _decode_signature(sig)
    facts = CodeFacts(
        code=code,
        org=org.lower().replace("*", "_"),
        form=form,
        packaging=packaging,
        batch=batch,
        issued_at=issued_at,
    )
    return SignedCode(facts, signature)


def _decode_signature(text: str) -> bytes:
    if len(text) != SIGNATURE_CHARS or not re.fullmatch(r"[A-Z2-7]+", text):
        raise InvalidInputError(
            f"label signature must be {SIGNATURE_CHARS} base32 characters", length=len(text)
        )
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except binascii.Error as exc:  # pragma: no cover - the pattern above rules it out
        raise InvalidInputError("label signature is not base32") from exc
    if _b32(data) != text:
        raise InvalidInputError("label signature base32 is not canonical")
    return data


def verify_label_url(url: str, algorithm: str, public_key: bytes) -> SignedCode:
    """Parse a scanned label URL and verify it offline; return its signed facts.

    Raises:
        InvalidInputError: the URL is malformed (:class:`InvalidCodeError` for the code).
        SignatureInvalidError: the label is forged or altered.
    """
    signed = parse_label_url(url)
    verify_code(signed, algorithm, public_key)
    return signed


__all__ = [
    "ALPHABET",
    "CHECK_SYMBOLS",
    "CODE_LABEL",
    "CODE_PATTERN",
    "CODE_RECORD",
    "MAX_BASE_URL_CHARS",
    "MAX_BATCH_CHARS",
    "MAX_BATCH_COUNT",
    "MAX_LABEL_URL_CHARS",
    "MAX_ORG_CHARS",
    "PACKAGING_LETTERS",
    "PREFIX",
    "QR_ALPHANUMERIC",
    "CodeFacts",
    "DuplicateCodeError",
    "InvalidCodeError",
    "Packaging",
    "SignedCode",
    "check_character",
    "code_from_body",
    "generate_code",
    "is_valid_code",
    "issue_batch",
    "label_url",
    "normalise_base_url",
    "normalise_code",
    "parse_label_url",
    "sign_code",
    "verify_code",
    "verify_label_url",
]
