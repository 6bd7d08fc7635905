"""Code batches as log entries: the registry's record that codes were issued.

One log entry (leaf kind ``code_batch``) commits to a whole batch: the hash of the
batch's signed code records in code order. A code is issued exactly once: the store
keeps ``UNIQUE(code)``, and events on codes no batch issued are rejected.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.canonical import CODE_BATCH, domain_hash
from ledger.codes import SignedCode, verify_code
from ledger.errors import InvalidInputError


def batch_entry_hash(codes: Sequence[SignedCode]) -> bytes:
    """The hash a ``code_batch`` leaf commits to."""
    ordered = sorted(codes, key=lambda signed: signed.code)
    return domain_hash(CODE_BATCH, {"codes": [signed.to_json() for signed in ordered], "v": 1})


def check_batch(
    codes: Sequence[SignedCode], *, root_algorithm: str, root_public_key: bytes
) -> None:
    """A batch is one org, form and packaging, with distinct codes all signed by the registry.

    Raises:
        InvalidInputError: the batch is empty, mixed or has duplicates.
        SignatureInvalidError: a code's registry signature does not verify.
    """
    if not codes:
        raise InvalidInputError("a code batch needs at least one code")
    first = codes[0].facts
    shape = {(c.facts.org, c.facts.form, c.facts.packaging, c.facts.batch) for c in codes}
    if shape != {(first.org, first.form, first.packaging, first.batch)}:
        raise InvalidInputError("a batch is one organisation, form, packaging and batch id")
    if len({c.code for c in codes}) != len(codes):
        raise InvalidInputError("a batch lists a code twice")
    for signed in codes:
        verify_code(signed, root_algorithm, root_public_key)
