"""What the risk grade reads about one enterprise, derived from registry facts. Pure.

Licence state is judged at one moment against what the enterprise holds then, as
``licence.missing`` judges each act (``ledger.rules.licensing``): a regulated category held
needs a licence for one of the category's activities covering the chemical, or a permit or
filing of one of its kinds covering it (a permit authorises an acquisition, so goods taken
under one may be held after it lapsed: its window is not read, only that it is not revoked).
Inspection history is the ``inspect`` events the log holds at the enterprise's sites.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledger.licences import Licence
from ledger.rules.config import HolderRequirement
from ledger.rules.world import ChemicalFacts, covers_chemical
from ledger.timefmt import parse_utc


@dataclass(frozen=True, slots=True)
class LicenceState:
    """The enterprise's licences and authorisations as they stand at one moment."""

    organisation_status: str = "active"
    lapsed: tuple[tuple[str, str], ...] = ()
    """(licence number, why: expired / suspended / revoked), not replaced by its kind."""
    expiring: tuple[tuple[str, str], ...] = ()
    """(licence number, valid until), ending soon with no successor of its kind."""
    unlicensed: tuple[tuple[str, str], ...] = ()
    """(chemical seq, category) held with neither a licence nor a permit for it."""


@dataclass(frozen=True, slots=True)
class InspectionHistory:
    """Inspection outcomes recorded at the enterprise's sites within the window."""

    window_days: int
    outcomes: Mapping[str, int] = field(default_factory=dict)
    """``pass`` / ``fail`` / ``observation`` → count."""
    latest: str | None = None
    """The signed time of the newest inspection in the window."""

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


def licence_state(
    licences: Iterable[Licence],
    permits: Iterable[Mapping[str, Any]],
    held: Iterable[ChemicalFacts],
    holders: Mapping[str, HolderRequirement],
    now: datetime,
    *,
    expiring_days: int,
    organisation_status: str = "active",
) -> LicenceState:
    """Lapsed and expiring licences, and regulated categories held without authority.

    ``licences`` are the newest versions of the enterprise's licences, ``permits`` the
    attributes of its permit records, ``held`` the chemicals it holds at ``now``.
    """
    mine = list(licences)
    current = {lic.kind for lic in mine if lic.covers(now)}
    lapsed = sorted(
        (lic.licence_no, _why_lapsed(lic))
        for lic in mine
        if not lic.covers(now) and parse_utc(lic.valid_from) <= now and lic.kind not in current
    )
    horizon = now + timedelta(days=expiring_days)
    expiring = sorted(
        (lic.licence_no, lic.valid_until)
        for lic in mine
        if lic.covers(now)
        and parse_utc(lic.valid_until) <= horizon
        and not any(
            other.kind == lic.kind and other.covers(parse_utc(lic.valid_until)) for other in mine
        )
    )
    kept = [p for p in permits if p.get("status") != "revoked"]
    unlicensed: set[tuple[str, str]] = set()
    for chem in held:
        for category in sorted(chem.categories & holders.keys()):
            need = holders[category]
            by_licence = any(
                lic.covers(now)
                and not set(need.activities).isdisjoint(lic.activities)
                and covers_chemical(lic.chemicals, chem)
                for lic in mine
            )
            by_permit = any(
                p.get("kind") in need.permits and covers_chemical(p.get("chemicals"), chem)
                for p in kept
            )
            if not (by_licence or by_permit):
                unlicensed.add((chem.seq, category))
    return LicenceState(
        organisation_status, tuple(lapsed), tuple(expiring), tuple(sorted(unlicensed))
    )


def inspection_history(
    inspections: Iterable[tuple[str, str]], now: datetime, *, window_days: int
) -> InspectionHistory:
    """Count ``(outcome, signed time)`` pairs signed within ``window_days`` before ``now``."""
    since = now - timedelta(days=window_days)
    counted: Counter[str] = Counter()
    latest: datetime | None = None
    latest_text: str | None = None
    for outcome, time in inspections:
        moment = parse_utc(time)
        if not since <= moment <= now:
            continue
        counted[outcome] += 1
        if latest is None or moment > latest:
            latest, latest_text = moment, time
    return InspectionHistory(window_days, dict(counted), latest_text)


def _why_lapsed(licence: Licence) -> str:
    return licence.status if licence.status != "active" else "expired"
