"""GB 18218 units of assessment: one enterprise's sites less than 500 m apart. Pure.

R-MHI-1 (domain-rules §2.4) counts a production or storage facility, or several
facilities of one enterprise whose edges are less than 500 m apart, as one unit; the
reference takes that definition from the 2009 edition (GB 18218-2009 §3.5), and the
2018 edition's own wording of the unit is still to be confirmed. The ledger knows each
site by one registered point, not its edge, so the distance between points stands in
for the edge distance (a conservative reading for large sites would need their
outlines). "Several facilities less than 500 m apart" is read transitively (single
linkage): A–B 400 m and B–C 400 m make A, B and C one unit even when A–C is 800 m,
because B cannot belong to two units. A site with no registered point is its own unit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

Point = tuple[float, float]


def unit_of(
    site: str,
    siblings: Iterable[str],
    point: Callable[[str], Point | None],
    distance_km: Callable[[Point, Point], float],
    limit_km: float,
) -> frozenset[str]:
    """The sites of ``site``'s unit among ``siblings`` (the same enterprise's sites)."""
    here = point(site)
    if here is None:
        return frozenset((site,))
    placed = {s: p for s in siblings if s != site and (p := point(s)) is not None}
    unit, frontier = {site}, [here]
    while frontier:
        origin = frontier.pop()
        near = [s for s, p in placed.items() if distance_km(origin, p) < limit_km]
        for s in near:
            unit.add(s)
            frontier.append(placed.pop(s))
    return frozenset(unit)
