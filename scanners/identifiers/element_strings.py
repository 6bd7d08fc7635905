"""GS1 element strings, as the scanners import them.

The implementation is :mod:`ledger.epcis.element_strings`, shared with the core.

The pure GS1 parsing moved into ``ledger`` so that the EPCIS mapping, the Digital Link
resolver and the scanners run one implementation; this module keeps the scanners' names.
"""

from __future__ import annotations

from ledger.epcis.element_strings import (
    GS,
    gs1_key,
    parse_bracketed,
    parse_element_string,
    to_bracketed,
    to_element_string,
)

__all__ = [
    "GS",
    "gs1_key",
    "parse_bracketed",
    "parse_element_string",
    "to_bracketed",
    "to_element_string",
]
