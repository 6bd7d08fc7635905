"""GS1 Application Identifier metadata, as the scanners import them.

The implementation is :mod:`ledger.epcis.ai_table`, shared with the core.

The pure GS1 parsing moved into ``ledger`` so that the EPCIS mapping, the Digital Link
resolver and the scanners run one implementation; this module keeps the scanners' names.
"""

from __future__ import annotations

from ledger.epcis.ai_table import (
    CHECK_DIGIT_SPANS,
    CHECK_PAIR_AIS,
    CONVENIENCE_ALPHAS,
    CSET82,
    DATE_FIELDS,
    DL_KEY_QUALIFIERS,
    NOT_DL_ATTRIBUTES,
    PATTERN_CORRECTIONS,
    UNKNOWN_AI_TITLE,
    AiSpec,
    all_ais,
    could_be_unknown_ai,
    is_dl_attribute,
    is_dl_key,
    spec,
    spec_at,
    unknown_spec,
    valid_path_sequences,
)

__all__ = [
    "CHECK_DIGIT_SPANS",
    "CHECK_PAIR_AIS",
    "CONVENIENCE_ALPHAS",
    "CSET82",
    "DATE_FIELDS",
    "DL_KEY_QUALIFIERS",
    "NOT_DL_ATTRIBUTES",
    "PATTERN_CORRECTIONS",
    "UNKNOWN_AI_TITLE",
    "AiSpec",
    "all_ais",
    "could_be_unknown_ai",
    "is_dl_attribute",
    "is_dl_key",
    "spec",
    "spec_at",
    "unknown_spec",
    "valid_path_sequences",
]
