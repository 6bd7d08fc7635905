"""The errors of the EPCIS core, each with a stable ``code`` and the field at fault.

They are drawn in the tree of :mod:`ledger.errors`. ``field`` in the context names the EPCIS
property (a JSON pointer-like path where it helps), so a capture service can answer an
EPCIS ``ValidationException`` naming it.
"""

from __future__ import annotations

from ledger.errors import InvalidInputError


class EpcisError(InvalidInputError):
    """An EPCIS document or event chemtrace cannot take."""

    code = "epcis_invalid"


class EpcisFormatError(EpcisError):
    """The event breaks the EPCIS 2.0 / CBV 2.0 syntax (a bad timestamp, a missing type)."""

    code = "epcis_malformed"
