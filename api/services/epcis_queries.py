"""EPCIS 2.0 named queries (``/epcis/queries``): stored SimpleEventQuery definitions.

A named query belongs to the caller's organisation: every user of that organisation may
list, read, run and delete it, and no one else can tell it exists. A caller without an
organisation (a regulator, an admin) has a namespace of its own, ``user:<id>``. Another
namespace's query of the same name is simply not there: reading, running or deleting it is
the 404 of an absent name, and creating one of that name succeeds.

Only the definition is stored. Running it is ``GET /epcis/events`` with its parameters, for
the caller at the time of the run (:meth:`api.services.epcis.EpcisService.query`): the
scope is the runner's, never the creator's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.services.access import Principal
from api.services.epcis_capture import epcis_problem
from api.services.queries import QueryService
from ledger.store.epcis_queries import NamedQuery, SqlNamedQueries


@dataclass(frozen=True, slots=True)
class NamedQueryPage:
    queries: list[NamedQuery]
    after: str | None
    """The last name given, when more follow."""


def owner_of(principal: Principal) -> str:
    """The namespace a caller's queries live in (an org id never holds a ``:``)."""
    return principal.org if principal.org else f"user:{principal.user_id}"


class NamedQueryService:
    """Named queries, each in its owner's namespace."""

    def __init__(self, store: SqlNamedQueries, queries: QueryService) -> None:
        self._store, self._queries = store, queries

    def create(self, principal: Principal, name: str, definition: dict[str, Any]) -> NamedQuery:
        """Store a checked definition under ``name`` (409 if the namespace has that name)."""
        self._queries.require_custody_reader(principal)
        query = NamedQuery(owner=owner_of(principal), name=name, definition=definition,
                           created_by=principal.user_id, created_at=QueryService.now())  # fmt: skip
        if not self._store.create(query):
            detail = "your organisation has a query of this name"
            raise epcis_problem(409, "epcis_query_exists", detail, field="name")
        return query

    def get(self, principal: Principal, name: str) -> NamedQuery:
        self._queries.require_custody_reader(principal)
        found = self._store.get(owner_of(principal), name)
        if found is None:
            raise _not_found()
        return found

    def page(self, principal: Principal, *, after: str | None, per_page: int) -> NamedQueryPage:
        self._queries.require_custody_reader(principal)
        found = self._store.page(owner_of(principal), after=after, limit=per_page + 1)
        more = len(found) > per_page
        shown = found[:per_page]
        return NamedQueryPage(shown, shown[-1].name if more and shown else None)

    def delete(self, principal: Principal, name: str) -> None:
        """Any custody reader of the owning organisation may delete its queries."""
        self._queries.require_custody_reader(principal)
        if not self._store.delete(owner_of(principal), name):
            raise _not_found()


def _not_found() -> Exception:
    # The detail names neither the query nor whose it might be: another organisation's
    # query of the same name answers byte for byte like an absent one.
    return epcis_problem(404, "epcis_query_not_found", "no query of this name in your "
                         "organisation", field="queryName")  # fmt: skip
