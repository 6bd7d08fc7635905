"""What one caller may see, resolved once per request.

An enterprise sees its own organisation; a regulator or inspector the organisations and
sites of its districts; an admin everything. Every read and write check of the services
asks this one object, so the rules cannot drift apart between endpoints.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from ledger.records import RegistryRecord
from ledger.state import ItemState


@dataclass(frozen=True, slots=True)
class Scope:
    """The organisations and sites a caller may see (``orgs is None``: everything)."""

    orgs: frozenset[str] | None
    sites: frozenset[str] = frozenset()
    by_site: bool = False
    """Whether a site record is judged by the site's own district (regulators, inspectors)."""

    def sees_org(self, org: str | None) -> bool:
        return self.orgs is None or org in self.orgs

    def sees_parties(self, orgs: Set[str], sites: Set[str]) -> bool:
        """An item with these organisations and sites in its events."""
        return self.orgs is None or bool(orgs & self.orgs) or bool(sites & self.sites)

    def sees_state(self, state: ItemState) -> bool:
        """An item whose *current* holder, place or destination is in scope."""
        return (
            self.orgs is None
            or state.holder in self.orgs
            or state.site in self.sites
            or state.destination in self.sites
        )

    def sees_record(self, kind: str, record: RegistryRecord) -> bool:
        if self.orgs is None:
            return True
        if kind == "user":  # user records are the admin's alone
            return False
        if kind == "site" and self.by_site:
            return record.record_id in self.sites
        return self.sees_org(record.record_id if kind == "org" else record.attr("org"))
