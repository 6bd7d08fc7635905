"""GHS hazard classes from a catalog row's ``ghs_hazards`` text. Pure.

The catalog writes an SDS-style summary (``Press. gas; Ox. Gas 1; Acute Tox. inh.``). Only
the hazard class matters for storage segregation, so each phrase is mapped to a class
token through the reviewed table below (GHS Rev. 9 / GB 30000 class abbreviations, plus
the EU supplemental EUH statements that the catalog uses). A phrase that starts with no
known class is an error at catalog load, so a new abbreviation is reviewed before it can
silently drop out of segregation.
"""

from __future__ import annotations

import re
from typing import Final

GHS_CLASSES: Final[dict[str, tuple[str, ...]]] = {
    # physical hazards
    "Expl.": ("explosive",),
    "Flam. Gas": ("flam_gas",),
    "Flam. Aerosol": ("flam_aerosol",),
    "Ox. Gas": ("ox_gas",),
    "Press. gas": ("press_gas",),
    "Flam. Liq.": ("flam_liq",),
    "Flam. Sol.": ("flam_sol",),
    "Self-react.": ("self_react",),
    "Pyr. Gas": ("pyr_gas",),
    "Pyr. Liq.": ("pyr_liq",),
    "Pyr. Sol.": ("pyr_sol",),
    "Self-heat.": ("self_heat",),
    "Water-react.": ("water_react",),
    "Ox. Liq.": ("ox_liq",),
    "Ox. Sol.": ("ox_sol",),
    "Org. Perox.": ("org_perox",),
    "Met. Corr.": ("met_corr",),
    "Chem. Unst. Gas": ("chem_unst_gas",),
    # health hazards
    "Acute Tox.": ("acute_tox",),
    "Skin Corr.": ("skin_corr",),
    "Skin Irrit.": ("skin_irrit",),
    "Skin/Eye Irrit.": ("skin_irrit", "eye_irrit"),
    "Eye Dam.": ("eye_dam",),
    "Eye Irrit.": ("eye_irrit",),
    "Resp. Sens.": ("resp_sens",),
    "Skin Sens.": ("skin_sens",),
    "Muta.": ("muta",),
    "Carc.": ("carc",),
    "Repr.": ("repr",),
    "STOT SE": ("stot_se",),
    "STOT RE": ("stot_re",),
    "Asp. Tox.": ("asp_tox",),
    # environmental hazards
    "Aquatic Acute/Chronic": ("aquatic_acute", "aquatic_chronic"),
    "Aquatic Acute": ("aquatic_acute",),
    "Aquatic Chronic": ("aquatic_chronic",),
    # EU supplemental statements: EUH031/032 mark what liberates toxic gas with acids
    "EUH019": ("euh019",),
    "EUH031": ("euh031",),
    "EUH032": ("euh032",),
}
"""Catalog abbreviation → GHS class tokens."""

_PHRASE: Final = re.compile(
    r"(?<![A-Za-z])("
    + "|".join(re.escape(p) for p in sorted(GHS_CLASSES, key=len, reverse=True))
    + r")(?![A-Za-z])"
)


class GhsParseError(ValueError):
    """A ``ghs_hazards`` phrase names no class of the reviewed table."""


def parse_ghs(text: str) -> frozenset[str]:
    """The GHS class tokens a ``ghs_hazards`` summary names (``;``-separated phrases).

    A phrase may name more than one class (``Skin Corr. 1A / Eye Dam. 1``); its first
    word must be a known class, its categories and notes are ignored.

    Raises:
        GhsParseError: a phrase that does not start with a known class abbreviation.
    """
    found: set[str] = set()
    for phrase in (p.strip() for p in text.split(";")):
        if not phrase:
            continue
        matches = list(_PHRASE.finditer(phrase))
        if not matches or matches[0].start() != 0:
            raise GhsParseError(f"unknown GHS hazard class in {phrase!r}")
        for match in matches:
            found.update(GHS_CLASSES[match.group(1)])
    return frozenset(found)
