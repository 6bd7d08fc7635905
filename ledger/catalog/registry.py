"""Every catalog version the ledger knows, ordered by effective date. Pure.

An event keeps the catalog version it was recorded under, so a new version
never replaces an old one: both stay retrievable by name. Effective dates are
strictly increasing, and a version published later cannot take effect before
the latest one already registered: the catalog in force on a past date never
changes once events may have been judged under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from ledger.catalog.model import (
    Catalog,
    CatalogError,
    CatalogVersionNotInForceError,
    UnknownCatalogVersionError,
)


class CatalogRegistry:
    """An immutable, date-ordered set of catalog versions."""

    __slots__ = ("_by_version", "_ordered")

    def __init__(self, catalogs: Iterable[Catalog] = ()) -> None:
        """Register a whole history at once (any order; dates must differ).

        Raises:
            CatalogError: two catalogs share a version name or an effective date.
        """
        self._ordered: tuple[Catalog, ...] = ()
        self._by_version: dict[str, Catalog] = {}
        for catalog in sorted(catalogs, key=lambda c: c.effective_from):
            self._append(catalog)

    def with_catalog(self, catalog: Catalog) -> CatalogRegistry:
        """Return a registry that also holds ``catalog``, which must take effect last.

        Raises:
            CatalogError: the version name is taken, or its effective date is not
                after the latest registered version's.
        """
        registry = CatalogRegistry(self._ordered)
        registry._append(catalog)
        return registry

    def _append(self, catalog: Catalog) -> None:
        if catalog.version in self._by_version:
            raise CatalogError(
                f"catalog version {catalog.version} is already registered",
                version=catalog.version,
            )
        if self._ordered and catalog.effective_from <= self._ordered[-1].effective_from:
            latest = self._ordered[-1]
            raise CatalogError(
                f"catalog version {catalog.version} takes effect on "
                f"{catalog.effective_from.isoformat()}, not after version {latest.version} "
                f"({latest.effective_from.isoformat()})",
                version=catalog.version,
                previous=latest.version,
            )
        self._ordered += (catalog,)
        self._by_version[catalog.version] = catalog

    @property
    def versions(self) -> tuple[str, ...]:
        """Version names, oldest effective date first."""
        return tuple(catalog.version for catalog in self._ordered)

    def __len__(self) -> int:
        return len(self._ordered)

    def __iter__(self) -> Iterator[Catalog]:
        return iter(self._ordered)

    def get(self, version: str) -> Catalog:
        """Return the catalog named ``version``.

        Raises:
            UnknownCatalogVersionError: no such version is registered.
        """
        try:
            return self._by_version[version]
        except KeyError:
            raise UnknownCatalogVersionError(
                f"catalog version {version!r} is not registered",
                catalog_version=version,
                known=list(self.versions),
            ) from None

    def current(self, at: date) -> Catalog:
        """Return the version in force on ``at``: the latest with ``effective_from <= at``.

        Raises:
            UnknownCatalogVersionError: no registered version is in force yet on ``at``.
        """
        in_force = [catalog for catalog in self._ordered if catalog.effective_from <= at]
        if not in_force:
            raise UnknownCatalogVersionError(
                f"no catalog version is in force on {at.isoformat()}", at=at.isoformat()
            )
        return in_force[-1]

    def check_event_version(self, version: str, *, at: date | None = None) -> Catalog:
        """Return the catalog an event names, checking that it may name it.

        ``at`` is the event's date; when given, the version must already be in
        force then. A superseded version stays acceptable (a device may be offline
        with the previous list); whether to flag that is a rule, not a check here.

        Raises:
            UnknownCatalogVersionError: the version is not registered.
            CatalogVersionNotInForceError: the version takes effect after ``at``.
        """
        catalog = self.get(version)
        if at is not None and catalog.effective_from > at:
            raise CatalogVersionNotInForceError(
                f"catalog version {version} takes effect on "
                f"{catalog.effective_from.isoformat()}, after the event's date {at.isoformat()}",
                catalog_version=version,
                at=at.isoformat(),
            )
        return catalog
