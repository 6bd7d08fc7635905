"""Filters of the list endpoints, read once and checked against the caller's scope.

A filter never narrows a caller's view to an empty answer that hides a refusal
(``docs/access-policy.md``, "Filters"):

* ``site`` and ``org`` name registry records: one the caller may not see is answered like
  one that does not exist, a 404 (``site_not_found``, ``org_not_found``), exactly as
  ``GET /v1/sites/{id}`` answers; so a filter tells nobody whether another organisation's
  site exists.
* ``district`` names a public administrative area: a regulator or inspector asking for
  one outside its districts is refused, 403 ``forbidden``; a district no site or
  organisation is registered in is a 404 ``district_not_found`` for everyone else.
* ``chemical`` takes an id, CAS number, UN number or name (:mod:`ledger.catalog.lookup`);
  one that names nothing, or several chemicals, is a 422 naming the parameter.
"""

from __future__ import annotations

from api.services.access import AccessService, Principal
from api.services.catalog import CatalogService
from api.services.errors import ForbiddenError, InvalidQueryError, NotFoundError
from api.services.registry import RegistryService
from ledger.catalog.lookup import fold
from ledger.search import term


class AmbiguousOrgError(InvalidQueryError):
    """A name several organisations in the caller's scope are registered under."""

    def __init__(self, field: str, detail: str, candidates: list[dict[str, object]]) -> None:
        super().__init__("ambiguous_org", field, detail, candidates)


class Filters:
    """Reads and checks the filters the list endpoints share."""

    def __init__(
        self, registry: RegistryService, access: AccessService, catalog: CatalogService
    ) -> None:
        self._registry, self._access, self._catalog = registry, access, catalog

    def site(self, principal: Principal, site: str | None) -> str | None:
        """``site``, if the caller may see it (else the 404 of a missing site)."""
        if site is not None:
            self._registry.visible_record(principal, "site", site)
        return site

    def org(self, principal: Principal, org: str | None, field: str = "org") -> str | None:
        """The id of the organisation ``org`` names (its id or its registered name), if the
        caller may see it; else the 404 of a missing organisation."""
        if org is None:
            return None
        scope = self._access.scope(principal)
        records = self._registry.records("org")
        if org in records and scope.sees_record("org", records[org]):
            return org
        wanted = fold(org)
        named = sorted(
            oid for oid, record in records.items()
            if fold(str(record.attr("name") or "")) == wanted and scope.sees_record("org", record)
        )  # fmt: skip
        if len(named) > 1:
            raise AmbiguousOrgError(
                field,
                f"{len(named)} organisations are called {org!r}; name one by its id",
                [{"org": oid, "name": records[oid].attr("name")} for oid in named],
            )
        if not named:
            raise NotFoundError("org", org, f"no organisation {org!r} within your scope")
        return named[0]

    def districts(self) -> frozenset[str]:
        """Every district a site or an organisation is registered in."""
        return frozenset(
            str(record.attr("district"))
            for kind in ("site", "org")
            for record in self._registry.records(kind).values()
            if record.attr("district")
        )

    def district(self, principal: Principal, district: str | None) -> str | None:
        """``district``, if the caller may ask for it (see the module)."""
        if district is None:
            return None
        limited = principal.role in ("regulator", "inspector")
        if limited and district not in principal.districts:
            raise ForbiddenError(f"district {district!r} is not one of your districts")
        if not limited and district not in self.districts():
            raise NotFoundError("district", district, f"no site or organisation in {district!r}")
        return district

    def sites_in(self, district: str) -> frozenset[str]:
        return frozenset(
            sid
            for sid, record in self._registry.records("site").items()
            if record.attr("district") == district
        )

    def chemical(self, text: str | None, field: str = "chemical") -> frozenset[str] | None:
        """The codes events name the chemical ``text`` by (a 422 if it names none or many)."""
        return self._catalog.codes(text, field)

    def vehicles(self, text: str) -> list[str]:
        """The values a ship event's ``vehicle`` may hold for ``text``: the text itself (a
        vehicle record's id) and the id of every vehicle registered under it as a plate."""
        wanted = term(text)
        plates = [
            vid
            for vid, record in self._registry.records("vehicle").items()
            if term(str(record.attr("plate") or "")) == wanted
        ]
        return [text, *plates]
