"""Why a scan was refused: one exception type, :class:`ScanError`, with a stable ``code``.

A scanner read is either decoded into typed identifiers or refused with a
:class:`ScanError`. Its ``code`` is stable (scripts and the UI switch on it) and
its ``message`` is plain English meant for the person holding the scanner. The
``context`` names the AI, the position or the expected length where one helps.

=========================  =====================================================
code                       meaning
=========================  =====================================================
``empty_scan``             nothing but whitespace and framing characters
``too_long``               longer than any label we can read (4096 characters)
``control_character``      a control character other than a GS separator
``multiple_reads``         several lines, or a second symbology identifier
``stray_text``             text typed before the symbology identifier
``unsupported_symbology``  an AIM identifier we do not know (``]W1``)
``symbology_mismatch``     content the symbol cannot carry (AIs in a plain QR)
``unsupported_format``     an ISO/IEC 15434 envelope other than format 05
``unrecognised``           not a code, label, GS1 data, Digital Link nor EPC
``invalid_code``           a trace code with a bad character, length or check
``invalid_label``          a label URL whose fields are malformed
``truncated_read``         the read ends early (a short fixed-length value, half
                           a URL, a short EPC)
``unknown_ai``             no GS1 Application Identifier starts there
``bad_value``              a value breaks its AI's format (wrong characters)
``value_too_long``         longer than the AI allows (a missing separator?)
``empty_value``            an AI with no value
``bad_check_digit``        a GS1 check digit (or alphanumeric pair) is wrong
``bad_date``               a date AI holds a day that does not exist
``conflicting_ai``         the same AI twice with different values
``duplicate_ai``           a Digital Link repeats an AI
``invalid_uri``            a Digital Link URI breaks URI syntax (scheme,
                           domain, characters, an empty segment)
``no_gs1_key``             no GS1 primary key in a Digital Link path
``bad_key_qualifiers``     qualifiers in the wrong order or place
``not_dl_attribute``       an AI that may not be a Digital Link query attribute
``invalid_epc``            an EPC that is not a valid TDS encoding
=========================  =====================================================

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
