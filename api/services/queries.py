"""Reads within the caller's scope: items, their chains, projections and offline bundles.

An item out of scope is reported exactly like a missing one, so scopes leak nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.deployment import Deployment
from api.replicas import needing, one_node
from api.services.access import AccessService, Principal
from api.services.errors import CodeNotFoundError, ForbiddenError, NotFoundError
from api.services.records import Records
from api.services.registry import RegistryService
from ledger.append import ItemHead
from ledger.bundle import verify_bundle
from ledger.codes import SignedCode, normalise_code
from ledger.custody import visible_events
from ledger.errors import LedgerError
from ledger.events import Inspect
from ledger.search import Kind
from ledger.state import ItemState, Projection
from ledger.store.bundles import Witnessed, build_item_bundle, build_site_bundle
from ledger.store.readmodel import ItemReadModel
from ledger.store.repository import SqlLedgerStore
from ledger.store.search_terms import SearchTerms
from ledger.store.service import LoggedEvent, ServiceStore
from ledger.timefmt import format_utc
from ledger.units import CatalogUnits
from ledger.witness_policy import WitnessPolicy

__all__ = ["ItemView", "LoggedEvent", "QueryService"]


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item's events in chain order and, for each, whether the caller may see it."""

    code: str
    events: Sequence[LoggedEvent]
    visible: Sequence[bool]

    @property
    def current(self) -> bool:
        """Whether the caller sees the item's newest event (it is a party to it now)."""
        return bool(self.visible) and self.visible[-1]

    @property
    def seen(self) -> list[LoggedEvent]:
        return [e for e, shown in zip(self.events, self.visible, strict=True) if shown]

    @property
    def known_prefix(self) -> list[LoggedEvent]:
        """The chain up to the newest event the caller may see."""
        last = max((i for i, shown in enumerate(self.visible) if shown), default=-1)
        return list(self.events[: last + 1])


class QueryService:
    """Who may see which item, and what of it; the state of every item (a projection)."""

    def __init__(
        self, deployment: Deployment, store: ServiceStore, records: Records,
        access: AccessService, registry: RegistryService, witnesses: Witnessed = ((), 0),
        policy: WitnessPolicy | None = None, log_reads: SqlLedgerStore | None = None,
    ) -> None:  # fmt: skip
        self._deployment, self._store, self._records = deployment, store, records
        self._log_reads = log_reads or deployment.store
        """Where bundles are read (a standby through ``api.replicas``); the head statements
        a bundle signs are written to the primary."""
        self._access, self._registry = access, registry
        self._witnesses, self._policy = witnesses, policy
        self.units = CatalogUnits(deployment.catalogs)
        """The catalog's measures: every fold here converts units as the engine's does."""
        self.read_model = ItemReadModel(deployment.store.engine, self.units.kilograms)
        """Every item's states, kept in the primary's database (a projector with a cursor)."""
        self.search_terms = SearchTerms(deployment.store.engine)
        """Items by lot, waybill, vehicle and device, kept in the primary's database."""

    # -- items ---------------------------------------------------------------------------------

    def item_view(self, principal: Principal, code: str) -> ItemView:
        """The item's chain and which of its events ``principal`` may see.

        Regulators, inspectors and admins see the whole chain of an item in their scope; an
        enterprise sees the span of its own involvement with the handoffs into and out of it
        (:func:`ledger.custody.visible_events`).
        """
        events = self._store.item_events(code)
        if principal.role != "enterprise" or principal.org is None:
            return ItemView(code, events, [True] * len(events))
        chain = [(logged.event.body, logged.event.event_hash) for logged in events]
        return ItemView(code, events, visible_events(principal.org, chain))

    def item_events(self, code: str) -> list[LoggedEvent]:
        """Every event of an item (for views that show no event, like the public page)."""
        return self._store.item_events(code)

    def item_head(self, view: ItemView) -> ItemHead | None:
        """The item's chain head, if the caller sees its newest event."""
        return self._deployment.store.item_head(view.code) if view.current else None

    def may_see(self, principal: Principal, code: str) -> bool:
        """Whether ``principal`` may see item ``code`` (one that exists)."""
        if principal.role == "enterprise":
            return any(self.item_view(principal, code).visible)
        orgs, sites = self._store.item_parties(code)
        return bool(orgs) and self._access.scope(principal).sees_parties(orgs, sites)

    def chain_steps(self, view: ItemView) -> Iterator[tuple[LoggedEvent, ItemState]]:
        """The events the caller sees, each with the item's state just after it: the fold
        runs over the whole chain, so a hidden event still moves the state it shows."""
        projection = Projection(kilograms=self.units.kilograms)
        for logged, shown in zip(view.events, view.visible, strict=True):
            projection.apply(logged.event.body)
            if shown:
                yield logged, projection.items[view.code]

    def visible_item(self, principal: Principal, code: str) -> ItemView:
        """The view of item ``code`` if it exists and ``principal`` may see it; else the
        answer for a missing item. The chain is read once, for the check and the view."""
        try:
            canonical = normalise_code(code)
        except LedgerError:
            canonical = code
        if principal.role != "enterprise":
            orgs, sites = self._store.item_parties(canonical)
            if not (orgs and self._access.scope(principal).sees_parties(orgs, sites)):
                raise _no_item(code)
        view = self.item_view(principal, canonical)
        if principal.role == "enterprise" and not any(view.visible):
            raise _no_item(code)
        return view

    @staticmethod
    def require_custody_reader(principal: Principal) -> None:
        """An emergency responder sees where hazardous material is, never custody chains."""
        if principal.role == "responder":
            raise ForbiddenError("a responder sees item states and inventory, not custody chains")

    def require_current_party(self, principal: Principal, code: str) -> str:
        """The canonical code if ``principal`` may take the item's whole offline bundle.

        A bundle proves the whole chain, so an enterprise gets one only while it is a party
        to the item now (its holder, or the carrier or consignee of its open shipment).
        """
        self.require_custody_reader(principal)
        view = self.visible_item(principal, code)
        if principal.role == "enterprise" and not view.current:
            raise _no_item(code)
        return view.code

    def visible_code(self, principal: Principal, code: str) -> SignedCode:
        """A code issued to an organisation in ``principal``'s scope, or whose item was
        handled in scope (out of scope answers like unknown)."""
        signed = self._registry.signed_code(code)
        scope = self._access.scope(principal)
        if signed is None or not (
            scope.sees_org(signed.facts.org)
            or scope.sees_parties(*self._store.item_parties(signed.code))
        ):
            raise CodeNotFoundError(code, f"no code {code} issued within your scope")
        return signed

    # -- every item ----------------------------------------------------------------------------

    def projection(self, at: str | None = None) -> dict[str, ItemState]:
        """Every item's state now or at time ``at`` (from the read model, caught up first)."""
        return {held.state.code: held.state for held in self.read_model.states(at=at)}

    def search(self, kind: Kind, values: Iterable[str], at: str | None = None) -> frozenset[str]:
        """The items of the events whose ``kind`` is any of ``values``, now or among the
        events signed at or before ``at``."""
        return self.search_terms.codes(kind, values, at=at)

    def visible_states(
        self, principal: Principal, at: str | None, *, codes: frozenset[str] | None = None,
        states: Mapping[str, ItemState] | None = None,
        where: Mapping[str, str | frozenset[str] | None] | None = None,
        **wanted: str | frozenset[str] | None,
    ) -> Iterator[ItemState]:  # fmt: skip
        """Item states (now, or at ``at``; or ``states``, a projection already made) within
        the caller's scope whose fields equal ``wanted`` (or are among a set given), and,
        with ``codes``, among those items."""
        scope = self._access.scope(principal)
        wanted = {**(where or {}), **wanted}
        chosen: Iterable[ItemState]
        if states is None:
            chosen = (held.state for held in self.read_model.states(at=at, codes=codes,
                                                                    where=wanted))  # fmt: skip
        else:
            chosen = states.values() if codes is None else (states[c] for c in codes
                                                            if c in states)  # fmt: skip
        for state in chosen:
            if scope.sees_state(state) and all(
                value is None
                or (getattr(state, name) in value if isinstance(value, frozenset)
                    else getattr(state, name) == value)
                for name, value in wanted.items()
            ):  # fmt: skip
                yield state

    def event(self, principal: Principal, digest: bytes) -> LoggedEvent:
        """The event with this hash, if the caller sees it in the chain of one of its items
        (exactly as ``GET /v1/items/{code}/events`` would show it); else not found."""
        self.require_custody_reader(principal)
        logged = self._store.event_by_hash(digest)
        if logged is not None:
            for code in dict.fromkeys(link.code for link in logged.event.body.items):
                try:
                    view = self.visible_item(principal, code)
                except NotFoundError:
                    continue
                if any(e.event.event_hash == digest for e in view.seen):
                    return logged
        raise NotFoundError("event", digest.hex(), "no such event within your scope")

    def inspections(self, sites: Iterable[str], since: str) -> list[tuple[str, str, str]]:
        """``(site, outcome, signed time)`` of every ``inspect`` event signed since ``since``
        at one of ``sites`` (the caller passes sites of its scope: nothing else is read)."""
        wanted = set(sites)
        found: list[tuple[str, str, str]] = []
        for logged in self._store.events_of_type("inspect", since):
            body = logged.event.body
            if isinstance(body, Inspect) and body.site in wanted:
                found.append((body.site, body.data.outcome, body.time))
        return found

    def sites_in(self, districts: Iterable[str]) -> set[str]:
        return self._records.sites_in(districts)

    @staticmethod
    def now() -> str:
        return format_utc(datetime.now(UTC))

    # -- offline bundles -----------------------------------------------------------------------

    def item_bundle(
        self, principal: Principal, code: str, since: int | None = None
    ) -> dict[str, Any]:
        """The item's offline bundle (for a current party to it; see
        :meth:`require_current_party`), with a consistency proof from ``since``."""
        canonical = self.require_current_party(principal, code)
        with one_node(), needing(since or 0):
            return build_item_bundle(self._log_reads, canonical,
                                     log_signer=self._deployment.keys.log_signer(),
                                     since_size=since, witnesses=self._witnesses,
                                     writer=self._deployment.store.engine)  # fmt: skip

    def verify_item(self, principal: Principal, code: str) -> dict[str, Any]:
        """The report of verifying the item's bundle against the keys pinned here and, with
        witnesses configured, their quorum (:func:`api.witnessing.configured_policy`)."""
        bundle = self.item_bundle(principal, code)
        trusted = self._deployment.trusted_keys()
        report = verify_bundle(
            bundle,
            root_algorithm=trusted.root_algorithm,
            root_public_key=trusted.root_public_key,
            log_verifier=trusted.log,
            state=None,
            now=datetime.now(UTC),
            policy=self._policy,
        )
        return dict(report.to_json())

    def site_bundle(self, principal: Principal, site: str) -> dict[str, Any]:
        """Every item now at a site ``principal`` may see, as one offline bundle."""
        self.require_custody_reader(principal)
        self._registry.visible_record(principal, "site", site)
        with one_node():
            return build_site_bundle(self._log_reads, site,
                                     log_signer=self._deployment.keys.log_signer(),
                                     witnesses=self._witnesses,
                                     writer=self._deployment.store.engine)  # fmt: skip


def _no_item(code: str) -> NotFoundError:
    return NotFoundError("item", code, f"no item {code} within your scope")
