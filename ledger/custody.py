"""Who may write an event on an item, and who may read which part of its chain. Pure.

The custody policy is judged inside the append transaction, against the item's custody
*before* the event (:class:`Custody`, kept beside the item's chain head and advanced by
:func:`advance` as each event lands). Every writer falls into one :data:`Relation` to the
item, and the policy table (:data:`DEFAULT_POLICY`, data a city can tighten) gives the
outcome of each relation for each of the 21 event types:

``allowed``
    the issuer for ``commission``; the current holder; the consignee and the carrier of the
    open shipment; the disposer named by a disposal; the counterparty named by a trade; a
    registered cylinder test station for ``inspect`` and ``fill``; an authority (an
    organisation of type ``regulator``, whose inspectors' districts the service checks
    against the token) for ``inspect``.
``irregular``
    accepted, and the anomaly rules judge it as before:

    - a receive by a former party named in the shipment chain, or by the carrier
      (``custody.wrong_receiver``);
    - the consignee acting on an item still in transit to it
      (``lifecycle.use_before_receipt``);
    - a former holder's event signed while it still held the item and synced after the
      handoff (an offline handheld): ``custody.double_holder`` reads it, because it lands
      after another party took custody;
    - a counterparty's act as holder (``custody.double_holder``).
``conflict``
    a former party's event signed *after* its involvement ended: refused with
    :class:`~ledger.errors.NotHolderError` (``not_holder``), naming only the moment its own
    custody ended, which it already knows.
``refused``
    a stranger (never held, shipped, carried, was consigned or named in a trade of the
    item): :class:`~ledger.errors.NotRelatedError`, which answers exactly like an item with
    no chain, whether or not ``prev``/``seq`` matched, so it reveals no head, holder or
    issuer. The service journals it as a probing or clone signal (``ledger.rules.signals``).

Reads follow the same facts (:func:`visible_events`): an enterprise sees the events of its
own involvement, plus the handoffs into and out of it, and the events it signed itself.
Submitting never widens that, because only custody transfers (commission, ship, receive,
return, dispose, a trade's counterparty) make a party, never a mere act.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Literal, get_args

from ledger.canonical import format_hash
from ledger.errors import InvalidInputError, NotHolderError, NotRelatedError
from ledger.events import (
    Buy,
    Destroy,
    Dispose,
    EventBody,
    EventType,
    ItemLink,
    Receive,
    Recover,
    ReportLoss,
    Return,
    Sell,
    Ship,
)
from ledger.timefmt import parse_utc

Relation = Literal[
    "holder",
    "carrier",
    "consignee",
    "party",
    "former_in_custody",
    "former_after",
    "test_station",
    "authority",
    "stranger",
]
Outcome = Literal["allowed", "irregular", "conflict", "refused"]
WriterKind = Literal["enterprise", "test_station", "authority"]
RELATIONS: Final[tuple[Relation, ...]] = get_args(Relation)
OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)
EVENT_TYPES: Final[tuple[str, ...]] = get_args(EventType)
KIND_RELATIONS: Final[tuple[Relation, ...]] = ("test_station", "authority")
WRITER_KINDS: Final[Mapping[str, WriterKind]] = {
    "test_station": "test_station",
    "regulator": "authority",
}
"""Organisation types (registry ``org`` records) that write as more than an enterprise."""


@dataclass(frozen=True, slots=True)
class Party:
    """One organisation's involvement with an item: since when, and until when."""

    since: str
    until: str | None = None
    """When its involvement ended (event time of the handoff); ``None`` while it lasts."""


@dataclass(frozen=True, slots=True)
class Shipment:
    """The open shipment (or return) an item travels under."""

    ship: str
    shipper: str
    carrier: str
    consignee: str


@dataclass(frozen=True, slots=True)
class Custody:
    """An item's custody after some prefix of its chain."""

    holder: str
    status: Literal["active", "in_transit", "lost", "disposed", "destroyed"] = "active"
    shipment: Shipment | None = None
    parties: Mapping[str, Party] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "holder": self.holder,
                "status": self.status,
                "shipment": None
                if self.shipment is None
                else [
                    self.shipment.ship,
                    self.shipment.shipper,
                    self.shipment.carrier,
                    self.shipment.consignee,
                ],
                "parties": {org: [p.since, p.until] for org, p in sorted(self.parties.items())},
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Custody:
        raw = json.loads(text)
        ship = raw["shipment"]
        return cls(
            holder=raw["holder"],
            status=raw["status"],
            shipment=None if ship is None else Shipment(*ship),
            parties={org: Party(since, until) for org, (since, until) in raw["parties"].items()},
        )


@dataclass(frozen=True, slots=True)
class EventRule:
    """The outcome of each relation for one event type (a relation not named is refused)."""

    outcomes: Mapping[Relation, Outcome]

    def outcome(self, relation: Relation) -> Outcome:
        return self.outcomes.get(relation, "refused")


@dataclass(frozen=True, slots=True)
class CustodyPolicy:
    """Per event type, which relation gets which outcome; plus the tolerated clock skew."""

    rules: Mapping[str, EventRule]
    clock_skew_s: int = 300
    """How far a former holder's device clock may run past its handoff and still count as
    signed in custody (handhelds sync their clocks only when online)."""

    def rule(self, event_type: str) -> EventRule:
        return self.rules[event_type]

    def kinds_matter(self, event_type: str) -> bool:
        """Whether a writer's kind (test station, authority) can change the outcome of an
        event of ``event_type``: the store reads organisation types only then."""
        rule = self.rules[event_type]
        return any(rule.outcome(r) != rule.outcome("stranger") for r in KIND_RELATIONS)

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> CustodyPolicy:
        """A policy from ``{"clock_skew_s": N, "rules": {type: {relation: outcome}}}``.

        Every one of the 21 event types must be given, so a city's file cannot forget one.

        Raises:
            InvalidInputError: an unknown event type, relation or outcome, or a missing type.
        """
        rules = raw.get("rules")
        skew = raw.get("clock_skew_s", 300)
        if not isinstance(rules, dict) or type(skew) is not int or skew < 0:
            raise InvalidInputError("a custody policy needs rules and a clock_skew_s >= 0")
        missing = sorted(set(EVENT_TYPES) - set(rules))
        unknown = sorted(set(rules) - set(EVENT_TYPES))
        if missing or unknown:
            raise InvalidInputError("custody policy types", missing=missing, unknown=unknown)
        parsed: dict[str, EventRule] = {}
        for event_type, outcomes in rules.items():
            if not isinstance(outcomes, dict):
                raise InvalidInputError("custody policy rule must be an object", type=event_type)
            for relation, outcome in outcomes.items():
                if relation not in RELATIONS or outcome not in OUTCOMES:
                    raise InvalidInputError(
                        "unknown relation or outcome", type=event_type, relation=relation
                    )
            parsed[event_type] = EventRule(dict(outcomes))
        return cls(parsed, skew)

    def to_json(self) -> dict[str, object]:
        return {
            "clock_skew_s": self.clock_skew_s,
            "rules": {t: dict(r.outcomes) for t, r in self.rules.items()},
        }


def _holder_act(extra: Mapping[Relation, Outcome] | None = None) -> EventRule:
    """Acts only custody performs: the holder's, with the consignee early and a former
    holder's offline events irregular, and a former holder's later events a conflict."""
    outcomes: dict[Relation, Outcome] = {
        "holder": "allowed",
        "carrier": "allowed",
        "consignee": "irregular",
        "party": "irregular",
        "former_in_custody": "irregular",
        "former_after": "conflict",
    }
    outcomes.update(extra or {})
    return EventRule(outcomes)


DEFAULT_POLICY: Final = CustodyPolicy(
    {
        "commission": _holder_act(),  # seq 0 is the issuer's (checked against the batch)
        "transform": _holder_act(),
        "aggregate": _holder_act(),
        "disaggregate": _holder_act(),
        "store_in": _holder_act(),
        "store_out": _holder_act(),
        "stock_count": _holder_act(),
        "sell": _holder_act(),
        "buy": _holder_act({"party": "allowed"}),
        "ship": _holder_act(),
        "waypoint": _holder_act(),
        "receive": EventRule(
            {
                "consignee": "allowed",
                "holder": "irregular",
                "carrier": "irregular",
                "party": "irregular",
                "former_in_custody": "irregular",
                "former_after": "irregular",
            }
        ),
        "use": _holder_act(),
        "return": _holder_act(),
        "fill": _holder_act({"test_station": "allowed"}),
        "inspect": _holder_act(
            {
                "consignee": "allowed",
                "party": "allowed",
                "test_station": "allowed",
                "authority": "allowed",
            }
        ),
        "dispose": _holder_act(),
        "destroy": _holder_act({"party": "allowed"}),
        "report_loss": _holder_act(),
        "recover": _holder_act({"party": "allowed", "authority": "allowed"}),
        "correct": _holder_act(),
    }
)


def genesis(body: EventBody) -> Custody:
    """The custody a chain-starting link gives its item (the writer holds it)."""
    return Custody(holder=body.org, parties={body.org: Party(body.time)})


def relation(custody: Custody, body: EventBody, kind: WriterKind, skew_s: int) -> Relation:
    """How the writer of ``body`` stands to an item whose custody is ``custody``."""
    org = body.org
    ship = custody.shipment
    if ship is not None and org == ship.carrier:
        return "carrier"
    if org == custody.holder:
        return "holder"
    if ship is not None and org == ship.consignee:
        return "consignee"
    party = custody.parties.get(org)
    if party is not None and party.until is None:
        return "party"
    if party is not None and party.until is not None:
        signed = parse_utc(body.time).timestamp()
        ended = parse_utc(party.until).timestamp()
        return "former_in_custody" if signed <= ended + skew_s else "former_after"
    if kind == "test_station":
        return "test_station"
    if kind == "authority":
        return "authority"
    return "stranger"


def judge(
    body: EventBody,
    link: ItemLink,
    custody: Custody | None,
    *,
    kind: WriterKind = "enterprise",
    policy: CustodyPolicy = DEFAULT_POLICY,
) -> Outcome:
    """The policy's outcome for ``body``'s writer on ``link``'s item (``allowed`` or
    ``irregular``).

    A chain-starting link, or a link to an item with no chain, is left to the issuance
    and head checks (which answer ``unknown_item`` exactly as a refusal here does).

    Raises:
        NotRelatedError: the writer is a stranger to the item.
        NotHolderError: a former party's event signed after its involvement ended.
    """
    if link.seq == 0 or custody is None:
        return "allowed"
    who = relation(custody, body, kind, policy.clock_skew_s)
    outcome = policy.rule(body.type).outcome(who)
    if outcome == "refused":
        raise NotRelatedError(item=link.code)
    if outcome == "conflict":
        until = custody.parties[body.org].until
        raise NotHolderError(
            "your organisation's custody of this item ended before this event was signed",
            item=link.code, custody_ended=until or "",
        )  # fmt: skip
    return outcome


def _involve(parties: dict[str, Party], org: str, at: str) -> None:
    current = parties.get(org)
    parties[org] = Party(at) if current is None else replace(current, until=None)


def _end(parties: dict[str, Party], org: str, at: str) -> None:
    current = parties.get(org)
    if current is not None and current.until is None:
        parties[org] = replace(current, until=at)


def advance(custody: Custody, body: EventBody, event_hash: bytes) -> Custody:
    """The custody after ``body`` landed on an item that had ``custody``.

    Only custody transfers change who is a party; any other act, by anyone, leaves the
    parties as they were, so no submission widens what its writer may see or write.
    """
    parties, at = dict(custody.parties), body.time
    match body:
        case Ship() | Return():
            carrier = body.data.carrier if isinstance(body, Ship) else body.org
            consignee = body.data.consignee if isinstance(body, Ship) else body.data.to_org
            if body.org not in (carrier, consignee):
                _end(parties, body.org, at)
            _involve(parties, carrier, at)
            _involve(parties, consignee, at)
            shipment = Shipment(format_hash(event_hash), body.org, carrier, consignee)
            return Custody(carrier, "in_transit", shipment, parties)
        case Receive():
            ship = custody.shipment
            if ship is not None:
                for org in {ship.shipper, ship.carrier, ship.consignee} - {body.org}:
                    _end(parties, org, at)
            if custody.holder != body.org:
                _end(parties, custody.holder, at)
            _involve(parties, body.org, at)
            return Custody(body.org, "active", None, parties)
        case Dispose():
            _involve(parties, body.data.disposer, at)
            return replace(custody, status="disposed", parties=parties)
        case Sell() | Buy():
            _involve(parties, body.data.counterparty, at)
            return replace(custody, parties=parties)
        case Recover():
            return replace(custody, status="active")
        case Destroy():
            return replace(custody, status="destroyed")
        case ReportLoss():
            return replace(custody, status="lost")
    return custody


def step(custody: Custody | None, body: EventBody, event_hash: bytes) -> Custody:
    """An item's custody after ``body``: its genesis, or ``custody`` advanced."""
    return genesis(body) if custody is None else advance(custody, body, event_hash)


def fold(chain: Iterable[tuple[EventBody, bytes]]) -> Custody | None:
    """One item's custody from its own events (body and event hash), in chain order."""
    custody: Custody | None = None
    for body, event_hash in chain:
        custody = step(custody, body, event_hash)
    return custody


def visible_events(org: str, chain: Iterable[tuple[EventBody, bytes]]) -> list[bool]:
    """For each event of one item's chain, whether enterprise ``org`` may see it.

    It sees the events while it is a current party (before or after the event), which
    includes the handoffs into and out of its custody, and the events it signed itself.
    """
    seen: list[bool] = []
    custody: Custody | None = None
    for body, event_hash in chain:
        before = custody is not None and _current(custody, org)
        custody = step(custody, body, event_hash)
        seen.append(before or _current(custody, org) or body.org == org)
    return seen


def _current(custody: Custody, org: str) -> bool:
    party = custody.parties.get(org)
    return org == custody.holder or (party is not None and party.until is None)
