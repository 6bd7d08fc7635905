"""Our own identifiers: a typed trace code, and the label URL in our QR codes.

The checks themselves live in :mod:`ledger.codes` (``normalise_code``,
``parse_label_url``); this module decides what a read *is*, tells a label URL cut
short from a malformed one, and turns the ledger's errors into
:class:`~scanners.identifiers.errors.ScanError`. The label's signature is not
verified here: that needs the pinned registry key (``ledger.codes.verify_code``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

from ledger.codes import (
    PREFIX,
    SIGNATURE_CHARS,
    InvalidCodeError,
    SignedCode,
    normalise_code,
    parse_label_url,
)
from ledger.errors import InvalidInputError
from scanners.identifiers.errors import ScanError

LABEL_FIELDS_AFTER_CODE: Final = 5
"""meta, form, org, batch, signature."""
_CODE_SEGMENT: Final = "C"


@dataclass(frozen=True, slots=True)
class CodeLink:
    """A URL with ``/C/{code}`` in its path: a label URL, or a plain link to a code."""

    code: str
    label: SignedCode | None


def looks_like_trace_code(text: str) -> bool:
    """Whether typed ``text`` claims to be a trace code (it starts with ``CT``)."""
    return unicodedata.normalize("NFKC", text).strip().upper().startswith(PREFIX)


def typed_code(text: str) -> str:
    """The canonical form of a typed trace code.

    Raises:
        ScanError: ``invalid_code``, with the ledger's precise reason.
    """
    try:
        return normalise_code(text)
    except InvalidCodeError as exc:
        raise ScanError("invalid_code", exc.message, **exc.context) from exc


def code_link(url: str) -> CodeLink | None:
    """Read ``url`` as a chemtrace label URL if its path holds ``/C/CT…``; else ``None``.

    A URL that ends right after the code is a plain link to the code (the
    public page): it carries the code but no signature.

    Raises:
        ScanError: ``truncated_read`` for a label URL cut short, ``invalid_code``
            or ``invalid_label`` for a malformed one.
    """
    segments = url.split("://", 1)[-1].split("?", 1)[0].split("#", 1)[0].rstrip("/").split("/")
    starts = [
        index
        for index, segment in enumerate(segments[:-1])
        if segment.upper() == _CODE_SEGMENT and segments[index + 1].upper().startswith(PREFIX)
    ]
    if not starts:
        return None
    after_code = segments[starts[-1] + 2 :]
    code = typed_code(segments[starts[-1] + 1])
    if not after_code:
        return CodeLink(code, None)
    if len(after_code) < LABEL_FIELDS_AFTER_CODE:
        raise ScanError(
            "truncated_read",
            f"the label URL ends after {len(after_code)} of the {LABEL_FIELDS_AFTER_CODE} "
            "fields that follow the code: the read looks cut short; scan again",
            code=code,
        )
    signature = after_code[-1]
    if len(after_code) == LABEL_FIELDS_AFTER_CODE and len(signature) < SIGNATURE_CHARS:
        raise ScanError(
            "truncated_read",
            f"the label signature has {len(signature)} of its {SIGNATURE_CHARS} characters: "
            "the read looks cut short; scan again",
            code=code,
        )
    try:
        return CodeLink(code, parse_label_url(url))
    except InvalidCodeError as exc:  # pragma: no cover - typed_code above checked the code
        raise ScanError("invalid_code", exc.message, **exc.context) from exc
    except InvalidInputError as exc:
        raise ScanError("invalid_label", exc.message, **exc.context) from exc
