"""chemtrace's own identifiers as EPCIS URIs, and the port through which the shell resolves others.

chemtrace names items by their trace code, sites and organisations by registry ids. In EPCIS
they travel as private URNs (EPCIS 2.0 §6.1 allows any URI as an EPC, location or party):

================================  ==============================================
``urn:chemtrace:code:CT-…``       an item (a container): an EPC
``urn:chemtrace:contents:CT-…``   the substance held in that container: an EPC class
``urn:chemtrace:site:plant-1``    a registered site: a bizLocation or a location
``urn:chemtrace:org:acme-chem``   a registered organisation: a party
================================  ==============================================

Everything else (an SGTIN, SSCC or GRAI, an SGLN, a PGLN, a Digital Link on any domain) is
resolved through :class:`Lookup`, which the shell implements against the registry: a code
issued with a GS1 key answers to that key. :class:`DryRunLookup` stands in for the registry
when a foreign document is checked without capturing it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final, Protocol

from ledger.epcis.epc_uri import canonical_identifier, digital_link_path, epc_urn_path

CODE_URN: Final = "urn:chemtrace:code:"
CONTENTS_URN: Final = "urn:chemtrace:contents:"
SITE_URN: Final = "urn:chemtrace:site:"
ORG_URN: Final = "urn:chemtrace:org:"
_PRIVATE: Final = re.compile(r"^urn:chemtrace:(code|contents|site|org):(.+)$")


def code_epc(code: str) -> str:
    return CODE_URN + code


def contents_class(code: str) -> str:
    return CONTENTS_URN + code


def site_uri(site: str) -> str:
    return SITE_URN + site


def org_uri(org: str) -> str:
    return ORG_URN + org


def private_id(uri: str, kind: str) -> str | None:
    """The chemtrace id in a ``urn:chemtrace:<kind>:`` URN, or None for any other URI."""
    match = _PRIVATE.match(uri)
    return match.group(2) if match is not None and match.group(1) == kind else None


class Lookup(Protocol):
    """What the registry knows that the EPCIS document does not; implemented by the shell."""

    def item(self, epc: str) -> str | None:
        """The trace code of the item an EPC (canonical Digital Link or URN) names, if issued."""
        ...

    def site(self, location: str) -> str | None:
        """The registered site a location identifier (SGLN, GLN Digital Link) names."""
        ...

    def party(self, party: str) -> str | None:
        """The registered organisation a party identifier (PGLN, GLN Digital Link) names."""
        ...

    def head(self, code: str, *, may_start: bool) -> tuple[int, str | None] | None:
        """The next ``(seq, prev)`` for the item's chain; ``(0, None)`` where it may start one."""
        ...

    def ledger_event(self, hash_id: str) -> str | None:
        """The ledger hash (``sha256:…``) of the event captured with this CBV hash ID."""
        ...


def _placeholder(prefix: str, identifier: str, length: int) -> str:
    return prefix + hashlib.sha256(identifier.encode()).hexdigest()[:length]


class DryRunLookup:
    """A registry that has issued every well-formed GS1 identifier: for checking foreign documents.

    GS1-keyed EPCs (URNs and Digital Links) and chemtrace URNs resolve to deterministic
    placeholder codes, sites and organisations; anything else (``urn:uuid:``, a bare URL,
    ``urn:epc:id:gid``) stays unissued, as it would in the real registry.
    """

    def _gs1(self, identifier: str) -> bool:
        try:
            return epc_urn_path(identifier) is not None or digital_link_path(identifier) is not None
        except ValueError:
            return False

    def item(self, epc: str) -> str | None:
        own = private_id(epc, "code")
        if own is not None:
            return own
        return (
            _placeholder("DRY-", canonical_identifier(epc), 12).upper() if self._gs1(epc) else None
        )

    def site(self, location: str) -> str | None:
        own = private_id(location, "site")
        if own is not None:
            return own
        return (
            _placeholder("site-", canonical_identifier(location), 10)
            if self._gs1(location)
            else None
        )

    def party(self, party: str) -> str | None:
        own = private_id(party, "org")
        if own is not None:
            return own
        return _placeholder("org-", canonical_identifier(party), 10) if self._gs1(party) else None

    def head(self, code: str, *, may_start: bool) -> tuple[int, str | None] | None:
        return (
            (0, None) if may_start else (1, "sha256:" + hashlib.sha256(code.encode()).hexdigest())
        )

    def ledger_event(self, hash_id: str) -> str | None:
        return "sha256:" + hashlib.sha256(hash_id.encode()).hexdigest()
