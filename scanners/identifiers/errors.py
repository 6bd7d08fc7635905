"""Why a scan was refused: one exception type, :class:`ScanError`, with a stable ``code``.

A scanner read is either decoded into typed identifiers or refused with a
:class:`ScanError`. Its ``code`` is stable (scripts and the UI switch on it) and
its ``message`` is plain English meant for the person holding the scanner. The
``context`` names the AI, the position or the expected length where one helps.

The codes and what each means are listed in :class:`ledger.epcis.errors.IdentifierError`.

``ScanError`` is :class:`ledger.epcis.errors.IdentifierError`: the parsing it reports moved
into the core (``ledger.epcis``) so the EPCIS mapping, the resolver and the scanners share
one implementation, and the core cannot derive from :class:`scanners.errors.ScannerError`.
It is an :class:`ledger.errors.InvalidInputError` (the input is malformed and nothing was
written), which every catch-all in ``scanners`` catches alongside ``ScannerError``.
"""

from __future__ import annotations

from ledger.epcis.errors import IDENTIFIER_ERROR_CODES as SCAN_ERROR_CODES
from ledger.epcis.errors import IdentifierError as ScanError

__all__ = ["SCAN_ERROR_CODES", "ScanError"]
