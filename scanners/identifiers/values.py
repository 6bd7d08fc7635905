"""One AI value's checks: the implementation is :mod:`ledger.epcis.ai_values`, shared with the core.

The pure GS1 parsing moved into ``ledger`` so that the EPCIS mapping, the Digital Link
resolver and the scanners run one implementation; this module keeps the scanners' names.
"""

from __future__ import annotations

from ledger.epcis.ai_values import (
    Element,
    ai_spec,
    check_character_pair,
    checked_element,
)

__all__ = ["Element", "ai_spec", "check_character_pair", "checked_element"]
