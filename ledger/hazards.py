"""What an emergency responder needs to know of a chemical code: its hazard class, and
whether it counts as a toxic-inhalation or a flammable hazard. Pure; from the catalog only.

Definitions (docs/emergency.md says the same, with their sources):

- **hazard class**: the UN transport class (division) of the item's form in the catalog
  (UN Model Regulations, GB 6944). An item named by its chemical only (``26``, no form)
  takes its chemical's forms' classes, ``/``-joined when they differ.
- **toxic inhalation**: the form's class or a subsidiary risk is Division 2.3 (toxic gas),
  or the chemical's GHS summary has an acute toxicity phrase naming the inhalation route
  (``Acute Tox. … inh.``; GHS Rev. 9 ch. 3.1, GB 30000.18). ERG 2024's "TIH" materials
  (Division 2.3 gases and Division 6.1 liquids toxic by inhalation) are all inside this;
  the catalog gives no inhalation hazard zone, so every GHS inhalation category counts.
- **flammable**: the form's class or a subsidiary risk is 2.1 (flammable gas), 3
  (flammable liquid), 4.1 (flammable solid) or 4.2 (liable to spontaneous combustion), or
  the chemical's GHS classes include a flammable or pyrophoric class (Flam. Gas, Flam.
  Aerosol, Flam. Liq., Flam. Sol., Pyr. Gas, Pyr. Liq., Pyr. Sol.; GHS Rev. 9 ch. 2.2-2.3,
  2.6-2.7, 2.9-2.10). Class 4.3 (flammable only in contact with water) is not counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ledger.catalog import Catalog, Chemical, ChemicalForm
from ledger.catalog.ghs import parse_ghs

TOXIC_GAS: Final = "2.3"
FLAMMABLE_CLASSES: Final = frozenset({"2.1", "3", "4.1", "4.2"})
FLAMMABLE_GHS: Final = frozenset(
    {"flam_gas", "flam_aerosol", "flam_liq", "flam_sol", "pyr_gas", "pyr_liq", "pyr_sol"}
)
_INHALATION: Final = re.compile(r"^Acute Tox\..*\binh\.", re.IGNORECASE)

Advice = Mapping[str, Mapping[str, str]]
"""The shipped emergency advice: transport class (or ``default``) → ``{"zh": …, "en": …}``."""


@dataclass(frozen=True, slots=True)
class Hazard:
    """A chemical code as the emergency query reports it."""

    code: str
    chemical: Chemical
    hazard_class: str
    un: str | None
    toxic_inhalation: bool
    flammable: bool


def inhaled_toxic(ghs_hazards: str) -> bool:
    """Whether a GHS summary names acute toxicity by inhalation."""
    return any(_INHALATION.search(p.strip()) for p in ghs_hazards.split(";"))


def hazard_of(catalog: Catalog, code: str) -> Hazard:
    """The hazard of chemical or form ``code`` in ``catalog``.

    Raises:
        UnknownChemicalError: ``code`` is not in the catalog.
    """
    chemical, form = catalog.resolve(code)
    forms: tuple[ChemicalForm, ...] = (
        (form,) if form is not None else catalog.forms_of(chemical.seq)
    )
    classes = list(dict.fromkeys(f.transport_class for f in forms))
    risks = {c for f in forms for c in (f.transport_class, *f.subsidiary_risks)}
    ghs = parse_ghs(chemical.ghs_hazards)
    uns = list(dict.fromkeys(f.un for f in forms))
    return Hazard(
        code=code,
        chemical=chemical,
        hazard_class="/".join(classes),
        un="/".join(uns) if uns else None,
        toxic_inhalation=TOXIC_GAS in risks or inhaled_toxic(chemical.ghs_hazards),
        flammable=bool(risks & FLAMMABLE_CLASSES) or bool(ghs & FLAMMABLE_GHS),
    )


def advice_for(advice: Advice, hazard_class: str) -> str:
    """The shipped advice for a class (its division, then its class, then the default),
    Chinese first and then English, one line each."""
    first = hazard_class.split("/")[0]
    for key in (first, first.split(".")[0], "default"):
        if key in advice:
            entry = advice[key]
            return f"{entry['zh']}\n{entry['en']}"
    return ""
