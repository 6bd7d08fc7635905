"""GS1 Digital Link URIs, as the scanners import them.

The implementation is :mod:`ledger.epcis.digital_link`, shared with the core.

The pure GS1 parsing moved into ``ledger`` so that the EPCIS mapping, the Digital Link
resolver and the scanners run one implementation; this module keeps the scanners' names.
"""

from __future__ import annotations

from ledger.epcis.digital_link import (
    CANONICAL_STEM,
    STRICT,
    URI_CHARACTERS,
    DigitalLink,
    DigitalLinkOptions,
    is_uri_like,
    parse_digital_link,
    to_digital_link,
)

__all__ = [
    "CANONICAL_STEM",
    "STRICT",
    "URI_CHARACTERS",
    "DigitalLink",
    "DigitalLinkOptions",
    "is_uri_like",
    "parse_digital_link",
    "to_digital_link",
]
