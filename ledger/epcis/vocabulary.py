"""CBV 2.0 vocabulary terms: bare names, URNs and CURIEs to their web URIs, and back.

CBV 2.0 §6 gives every standard value a web URI (``https://ref.gs1.org/cbv/BizStep-shipping``);
EPCIS 2.0 JSON-LD writes the bare term (``shipping``), EPCIS 1.x XML the URN
(``urn:epcglobal:cbv:bizstep:shipping``). The event hash (§8.9.2) and the mapping compare
the web URI. Sensor measurement types and alarm types live in the GS1 Web Vocabulary.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

CBV: Final = "https://ref.gs1.org/cbv/"
GS1_VOC: Final = "https://ref.gs1.org/voc/"
_OLD_GS1_VOC: Final = ("https://gs1.org/voc/", "http://gs1.org/voc/")


class Vocabulary(Enum):
    """A CBV vocabulary: its web URI prefix and its EPCIS 1.x URN prefix."""

    BIZ_STEP = ("BizStep-", "urn:epcglobal:cbv:bizstep:")
    DISPOSITION = ("Disp-", "urn:epcglobal:cbv:disp:")
    BIZ_TRANSACTION_TYPE = ("BTT-", "urn:epcglobal:cbv:btt:")
    SOURCE_DESTINATION_TYPE = ("SDT-", "urn:epcglobal:cbv:sdt:")
    ERROR_REASON = ("ER-", "urn:epcglobal:cbv:er:")
    COMPONENT = ("Comp-", "urn:epcglobal:cbv:comp:")

    @property
    def web_prefix(self) -> str:
        return CBV + self.value[0]

    @property
    def urn_prefix(self) -> str:
        return self.value[1]

    def expand(self, term: str) -> str:
        """The web URI of ``term`` (bare, URN, ``cbv:`` CURIE or already a URI)."""
        if term.startswith(self.urn_prefix):
            return self.web_prefix + term[len(self.urn_prefix) :]
        if term.startswith("cbv:"):
            return CBV + term[4:]
        if ":" in term:
            return term
        return self.web_prefix + term

    def short(self, uri: str) -> str | None:
        """The bare term of a standard value's URI (or of a bare term), else None."""
        expanded = self.expand(uri)
        if expanded.startswith(self.web_prefix):
            return expanded[len(self.web_prefix) :]
        return None


def expand_gs1_term(term: str) -> str:
    """A GS1 Web Vocabulary term (sensor type, alarm type) as its ``https://ref.gs1.org/voc/`` URI.

    The old ``https://gs1.org/voc/`` namespace and the ``gs1:`` CURIE name the same terms.
    """
    if term.startswith("gs1:"):
        return GS1_VOC + term[4:]
    for old in _OLD_GS1_VOC:
        if term.startswith(old):
            return GS1_VOC + term[len(old) :]
    if ":" in term:
        return term
    return GS1_VOC + term
