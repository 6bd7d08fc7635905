"""The registry's GS1 keys of item EPCs: the bracketed key a code was issued with."""

from __future__ import annotations

from typing import Final

from ledger.epcis.digital_link import parse_digital_link
from ledger.epcis.epc_uri import canonical_identifier
from ledger.errors import LedgerError

ITEM_KEYS: Final = {"01": "21", "00": None, "8003": None}
"""The GS1 primary keys codes are issued with, and the qualifier that names one item."""


def gs1_item_key(epc: str) -> str | None:
    """The bracketed GS1 key (``(01)…(21)…``, ``(00)…``, ``(8003)…``) an EPC names, or None.

    ``epc`` may be an EPC URN or a Digital Link on any domain; a GTIN without a serial names
    a product, not one container, so it has none.
    """
    try:
        link = parse_digital_link(canonical_identifier(epc))
    except (LedgerError, ValueError):
        return None
    key = link.elements[0]
    if key.ai not in ITEM_KEYS:
        return None
    qualifier = ITEM_KEYS[key.ai]
    if qualifier is None:
        return f"({key.ai}){key.value}"
    serial = next((e for e in link.elements[: link.path_length] if e.ai == qualifier), None)
    return None if serial is None else f"({key.ai}){key.value}({qualifier}){serial.value}"
