"""What the engine reads: ledger entries in log order, and security-journal entries. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from ledger.events import EventBody
from ledger.licences import Licence
from ledger.records import RegistryRecord
from ledger.rules.world import ChemicalFacts, when
from ledger.state import ItemState


@dataclass(frozen=True, slots=True)
class EventFact:
    index: int
    log_time: str
    event_hash: str
    """``sha256:<hex>``, as receipts and the API name events."""
    body: EventBody


@dataclass(frozen=True, slots=True)
class RecordFact:
    index: int
    log_time: str
    record: RegistryRecord


@dataclass(frozen=True, slots=True)
class LicenceFact:
    index: int
    log_time: str
    licence: Licence


LedgerFact: TypeAlias = EventFact | RecordFact | LicenceFact


@dataclass(frozen=True, slots=True)
class JournalFact:
    """A rejected write the service journalled (an unissued code, a forged label, ...).

    One journal row, even when it aggregates repeats from one client or device in one
    window: ``at`` is its first time, and no field here changes as its count grows.
    """

    id: str
    at: str
    code: str
    detail: str
    org: str | None = None
    site: str | None = None
    district: str | None = None
    item: str | None = None


@dataclass(slots=True)
class EventView:
    """One event with the states of its items just before and just after it."""

    fact: EventFact
    time: datetime
    before: dict[str, ItemState]
    after: dict[str, ItemState]
    chemicals: dict[str, ChemicalFacts | None]

    @property
    def known(self) -> float:
        """When the ledger learned of the event: the later of its time and its log time.

        Deadlines run from here: nothing can be expected in answer to an event before the
        ledger holds it, so a backfill or a late offline sync does not fire them at once.
        """
        return max(self.time.timestamp(), when(self.fact.log_time).timestamp())

    @property
    def body(self) -> EventBody:
        return self.fact.body

    @property
    def hash(self) -> str:
        return self.fact.event_hash
