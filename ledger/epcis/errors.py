"""The errors of the EPCIS core, each with a stable ``code`` and the field at fault.

They are drawn in the tree of :mod:`ledger.errors`. ``field`` in the context names the EPCIS
property (a JSON pointer-like path where it helps), so a capture service can answer an
EPCIS ``ValidationException`` naming it.
"""

from __future__ import annotations

from typing import Final

from ledger.errors import InvalidInputError


class EpcisError(InvalidInputError):
    """An EPCIS document or event chemtrace cannot take."""

    code = "epcis_invalid"


class EpcisFormatError(EpcisError):
    """The event breaks the EPCIS 2.0 / CBV 2.0 syntax (a bad timestamp, a missing type)."""

    code = "epcis_malformed"


IDENTIFIER_ERROR_CODES: Final = frozenset(
    {
        "empty_scan",
        "too_long",
        "control_character",
        "multiple_reads",
        "stray_text",
        "unsupported_symbology",
        "symbology_mismatch",
        "unsupported_format",
        "unrecognised",
        "invalid_code",
        "invalid_label",
        "truncated_read",
        "unknown_ai",
        "bad_value",
        "value_too_long",
        "empty_value",
        "bad_check_digit",
        "bad_date",
        "conflicting_ai",
        "duplicate_ai",
        "invalid_uri",
        "no_gs1_key",
        "bad_key_qualifiers",
        "not_dl_attribute",
        "invalid_epc",
    }
)


class IdentifierError(InvalidInputError):
    """A GS1 identifier (element string, Digital Link, EPC, trace code) that is not valid.

    ``code`` says which rule it broke (one of :data:`IDENTIFIER_ERROR_CODES`); the message is
    plain English for the person holding the scanner. The scanners know it as ``ScanError``.

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
    """

    code = "invalid_identifier"

    def __init__(self, code: str, message: str, /, **context: object) -> None:
        if code not in IDENTIFIER_ERROR_CODES:
            raise ValueError(f"unknown identifier error code {code!r}")
        super().__init__(message, **context)
        self.code = code


class EpcisNoCounterpartError(EpcisError):
    """The EPCIS event says something chemtrace has no place for, or lacks a fact chemtrace needs.

    ``field`` names the EPCIS property (``bizStep``, ``ilmd.example:grade``, ``quantityList``)
    or, for a missing fact, the ``chemtrace:`` extension that would carry it.
    """

    code = "epcis_no_counterpart"


class EpcisSensorDataError(EpcisError):
    """The event carries ``sensorElementList``: no chemtrace event has signed measurement fields,
    so sensor data is refused rather than kept unsigned or dropped."""

    code = "epcis_sensor_data"


class UnissuedIdentifierError(EpcisError):
    """An EPC, location or party that this registry did not issue or register."""

    code = "epcis_unissued_identifier"
