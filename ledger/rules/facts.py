"""What the engine reads: ledger entries in log order, and security-journal entries. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from ledger.certificates import Certificate
from ledger.events import EventBody
from ledger.licences import Licence
from ledger.records import RegistryRecord
from ledger.revocations import Revocation
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


@dataclass(frozen=True, slots=True)
class CertificateFact:
    """A logged key certificate: which organisation key certified which device key."""

    index: int
    log_time: str
    certificate: Certificate


@dataclass(frozen=True, slots=True)
class RevocationFact:
    """A logged key revocation (``keys.backdated_revocation`` judges its effective time)."""

    index: int
    log_time: str
    revocation: Revocation


LedgerFact: TypeAlias = EventFact | RecordFact | LicenceFact | CertificateFact | RevocationFact


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
    clock_trust_s: float = 0.0
    """How far before its log time the event's signed time is still believed."""
    supersedes: list[str] = field(default_factory=list)
    """Ids of deadline findings this event, synced late but signed in time, explains."""

    logged: float = field(init=False)
    """The event's log time, in epoch seconds."""
    trusted: float = field(init=False)
    """When the event happened, as far as timeliness is judged: its signed time, bounded.

    A handheld signs offline and syncs later, so its signed time is believed back to
    ``clock_trust_s`` before the log time; a time signed earlier than that counts as
    that bound (the sync is late, :mod:`ledger.rules.sync`), and a time signed after
    the log time (a clock running ahead) counts as the log time, since the ledger held
    the event by then. So no device clock can move an act earlier than the window or
    later than the moment it was logged.
    """

    def __post_init__(self) -> None:
        # computed once: every rule reads them (the view's time and fact never change)
        logged = self.logged = when(self.fact.log_time).timestamp()
        self.trusted = min(logged, max(self.time.timestamp(), logged - self.clock_trust_s))

    @property
    def known(self) -> float:
        """When the ledger learned of the event: its log time.

        Deadlines are armed from here: nothing can be expected in answer to an event before
        the ledger holds it, so a backfill or a late offline sync does not fire them at once.
        """
        return self.logged

    @property
    def body(self) -> EventBody:
        return self.fact.body

    @property
    def hash(self) -> str:
        return self.fact.event_hash
