"""The storage segregation matrix (GB 15603 style): which groups may share a store. Pure.

A matrix file (``catalogs/rules/segregation/*.json``) names groups of chemicals, by GHS
hazard class (``ledger.catalog.ghs``), catalog category or catalog seq, and gives cells
between two groups: how far apart their goods must be kept. A cell is unordered: the
file may list a pair once or both ways round with the same level; the same pair with
two different levels is an asymmetric matrix and is rejected. A pair with no cell is
compatible. The shipped matrix is provisional (its provenance says so) and is chosen by
the rules configuration, so a verified one replaces it without a code change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, model_validator

if TYPE_CHECKING:  # world imports the config, which imports this module
    from ledger.rules.world import ChemicalFacts

Level: TypeAlias = Literal["compatible", "keep_distance", "segregated", "separate_room"]
"""GB 15603 storage distinctions, weakest first: may share; same room with a clear
distance; kept apart (degree not fixed by the source); a separate room or store."""
Cell3: TypeAlias = tuple[str, str, Level]
"""A cell between two chemicals: (one's group, the other's group, its level)."""
STRICTNESS: Final[dict[str, int]] = {
    "compatible": 0, "keep_distance": 1, "segregated": 2, "separate_room": 3,
}  # fmt: skip

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")]
Token = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.:-]{1,40}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Provenance(_Strict):
    standard: Annotated[str, StringConstraints(min_length=1)]
    source: Annotated[str, StringConstraints(min_length=1)]
    status: Literal["provisional", "verified"]
    """``provisional``: not checked against the standard's own table."""
    note: str = ""


class SegregationGroup(_Strict):
    """Chemicals with any of these GHS classes, categories or seqs/codes, except those in
    ``unless_categories``; ``everything`` selects every chemical (less the exceptions)."""

    ghs: list[Token] = []
    categories: list[Token] = []
    chemicals: list[Token] = []
    everything: bool = False
    unless_categories: list[Token] = []

    @model_validator(mode="after")
    def _selects_something(self) -> SegregationGroup:
        if not (self.ghs or self.categories or self.chemicals or self.everything):
            raise ValueError("a group needs ghs, categories, chemicals or everything")
        return self

    def matches(self, chem: ChemicalFacts) -> bool:
        if chem.in_any(self.unless_categories):
            return False
        return (
            self.everything
            or not chem.ghs.isdisjoint(self.ghs)
            or chem.in_any(self.categories)
            or chem.seq in self.chemicals
            or chem.code in self.chemicals
        )


class Cell(_Strict):
    between: Annotated[list[Name], Field(min_length=2, max_length=2)]
    level: Level
    source: Annotated[str, StringConstraints(min_length=1)]


class SegregationMatrix(_Strict):
    name: Token
    provenance: Provenance
    groups: Annotated[dict[Name, SegregationGroup], Field(min_length=1)]
    cells: list[Cell]
    _levels: dict[frozenset[str], Level] = PrivateAttr(default_factory=dict)
    _between: dict[tuple[frozenset[str], frozenset[str]], tuple[Cell3, ...]] = PrivateAttr(
        default_factory=dict
    )
    """:meth:`between` by pair of group sets (a cache: the matrix never changes)."""

    @model_validator(mode="after")
    def _cells_are_known_and_symmetric(self) -> SegregationMatrix:
        seen = self._levels
        for cell in self.cells:
            unknown = sorted(set(cell.between) - set(self.groups))
            if unknown:
                raise ValueError(f"cell {cell.between} names unknown groups {unknown}")
            pair = frozenset(cell.between)
            if seen.get(pair, cell.level) != cell.level:
                raise ValueError(
                    f"asymmetric matrix: {sorted(pair)} is both {seen[pair]} and {cell.level}"
                )
            seen[pair] = cell.level
        return self

    def groups_of(self, chem: ChemicalFacts) -> frozenset[str]:
        return frozenset(name for name, group in self.groups.items() if group.matches(chem))

    def level(self, a: str, b: str) -> Level:
        return self._levels.get(frozenset((a, b)), "compatible")

    def between(self, mine: Iterable[str], theirs: Iterable[str]) -> list[Cell3]:
        """Every non-compatible cell between two chemicals' groups, strictest first."""
        if isinstance(mine, frozenset) and isinstance(theirs, frozenset):
            return list(self.cells_between(self._between, mine, theirs))
        return self._cells(mine, theirs)

    def table(self) -> dict[tuple[frozenset[str], frozenset[str]], tuple[Cell3, ...]]:
        """The cache :meth:`cells_between` reads and fills (a private attribute costs a
        lookup through pydantic on every read: a hot loop takes it once)."""
        return self._between

    def cells_between(
        self, table: dict[tuple[frozenset[str], frozenset[str]], tuple[Cell3, ...]],
        mine: frozenset[str], theirs: frozenset[str],
    ) -> tuple[Cell3, ...]:  # fmt: skip
        """:meth:`between` for group sets, through ``table`` (from :meth:`table`)."""
        cached = table.get((mine, theirs))
        if cached is None:
            cached = table[(mine, theirs)] = tuple(self._cells(mine, theirs))
        return cached

    def _cells(self, mine: Iterable[str], theirs: Iterable[str]) -> list[Cell3]:
        other = tuple(theirs)
        found = {(a, b, self.level(a, b)) for a in mine for b in other}
        return sorted(
            ((a, b, level) for a, b, level in found if level != "compatible"),
            key=lambda cell: (-STRICTNESS[cell[2]], cell[0], cell[1]),
        )
