"""External identifiers (the city's unified id, ERP keys, ...) mapped to trace codes.

The format of the city's unified identifier is not public, so nothing here assumes one:
a *scheme* names the identifier system and a :class:`SchemeRule` validates its values.
Deployments plug in their rules; the default accepts printable ASCII up to 128 characters.
A mapping is a lookup aid, not evidence: the trace code remains the identity in the log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from ledger.errors import InvalidInputError

_SCHEME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
_DEFAULT_VALUE = re.compile(r"^[\x21-\x7e]{1,128}$")


class ExternalIdError(InvalidInputError):
    code = "invalid_external_id"


class SchemeRule(Protocol):
    """Validates and normalises values of one identifier scheme."""

    def normalise(self, value: str) -> str:
        """Return the canonical spelling, or raise :class:`ExternalIdError`."""
        ...


@dataclass(frozen=True, slots=True)
class PatternRule:
    """A scheme whose values match a regular expression (optionally case-folded)."""

    pattern: str = _DEFAULT_VALUE.pattern
    uppercase: bool = False

    def normalise(self, value: str) -> str:
        candidate = value.strip().upper() if self.uppercase else value.strip()
        if not re.fullmatch(self.pattern, candidate):
            raise ExternalIdError("external id does not match its scheme", value=value[:40])
        return candidate


class ExternalIdMapping(Protocol):
    """Where external ids are linked to trace codes (implemented in ``ledger.store``)."""

    def link(self, scheme: str, external_id: str, code: str) -> None:
        """Link ``external_id`` of ``scheme`` to ``code`` (idempotent; one code per id)."""
        ...

    def code_for(self, scheme: str, external_id: str) -> str | None:
        """The trace code an external id names, if linked."""
        ...

    def ids_for(self, code: str) -> dict[str, str]:
        """Every external id linked to ``code``, by scheme."""
        ...


def normalise(rules: Mapping[str, SchemeRule], scheme: str, external_id: str) -> tuple[str, str]:
    """Check the scheme is known and the value valid; return both in canonical form.

    Raises:
        ExternalIdError: an unknown scheme or a value its rule refuses.
    """
    if not _SCHEME.fullmatch(scheme) or scheme not in rules:
        raise ExternalIdError("unknown external id scheme", scheme=scheme[:40])
    return scheme, rules[scheme].normalise(external_id)
