"""The running simulation: a discrete-event loop of processes and the shared flow steps.

A process is a generator that acts at ``world.now`` and yields the (absolute, epoch
seconds) time it wants to act next. The loop resumes processes in time order, so events
are signed and queued in time order. The steps here (commission, sell, trip, use,
return, dispose...) are the compliant versions; a trip's :class:`Flaw` bends one step for
an injected anomaly (or, with a near-miss magnitude, stays just compliant).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from ledger.canonical import JsonValue
from sim.simulator import params, regulation
from sim.simulator.city import TOXIC, Carrier, City, Org, Site
from sim.simulator.geo import Point, along, distance_km, offset, trip_seconds
from sim.simulator.products import Product, product
from sim.simulator.units import written
from sim.simulator.writer import LedgerWriter

Process = Generator[int, None, None]
HOUR = 3600
DAY = 86400
MINUTE = 60


@dataclass
class Item:
    code: str
    form: str
    packaging: str
    kg: Decimal
    holder: str
    site: Site | None
    status: str = "active"
    origin: str = ""
    """The organisation that commissioned it."""
    shipped_at: int = 0
    """When its latest shipment left."""

    @property
    def seq(self) -> str:
        return self.form.split(".")[0]

    @property
    def product(self) -> Product:
        return product(self.form)


@dataclass
class Label:
    kind: str
    subject: str
    description: str
    at: int
    refused: str | None = None
    """The problem code ingest refused the anomalous event with (an ``ingest.*`` kind)."""


@dataclass(frozen=True)
class Flaw:
    """How one trip departs from the compliant one (``what``), and by how much (``size``)."""

    what: str
    size: float = 0.0
    point: Point | None = None
    """Where a ``far`` receive is scanned."""


def transit_deadline_s(a: Point, b: Point) -> int:
    """Seconds a shipment may take: the shared fixture's speed, road factor and slack."""
    road = Decimal(str(distance_km(a, b))) * params.get("transport.road_factor")
    hours = road / params.get("transport.speed_kmh") + params.get("transport.slack_hours")
    return int(hours * HOUR)


def class_within(transport_class: str, allowed: str) -> bool:
    """R-LIC-4: a vehicle permitted class ``2`` carries 2.1–2.3; ``1`` carries 1.1D."""
    return (
        transport_class == allowed
        or transport_class.startswith(allowed + ".")
        or (allowed == "1" and transport_class.startswith("1"))
    )


@dataclass
class World:
    writer: LedgerWriter
    city: City
    rng: random.Random
    start: int
    end: int
    window: int
    """The organisation-balance window (``mass.org_window_days`` of the fixture), seconds."""
    now: int = 0
    queue: list[tuple[int, int, Process]] = field(default_factory=list)
    seq: int = 0
    at_site: dict[str, dict[str, Item]] = field(default_factory=dict)
    in_transit: dict[str, Item] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)
    near_misses: list[Label] = field(default_factory=list)
    """Stories that stayed (just) compliant: the engine must leave their subjects quiet."""
    draws: list[tuple[str, float]] = field(default_factory=list)
    """(kind, magnitude / threshold) of every boundary draw, for the ±1 % test."""
    waybills: int = 0
    items: int = 0
    annexes: int = 0
    manifests: list[str] = field(default_factory=list)

    # -- the loop --------------------------------------------------------------------------

    def spawn(self, process: Process, at: int) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, process))

    def run(self) -> None:
        while self.queue:
            at, _, process = heapq.heappop(self.queue)
            self.now = at
            try:
                wake = next(process)
            except StopIteration:
                continue
            self.spawn(process, max(wake, at))

    def label(
        self, kind: str, subject: str, description: str, *, refused: str | None = None
    ) -> None:
        self.labels.append(Label(kind, subject, description, self.now, refused))

    def label_left_in_transit(self, end: int) -> None:
        """Goods still in transit with no event for the fixture's dormancy period at ``end``
        are dormant, whatever story left them there (unless a story labelled it already)."""
        idle = int(params.get("dormancy.in_transit_days")) * DAY
        labelled = {x.subject for x in self.labels if x.kind == "return_never_collected"}
        for code in sorted(self.in_transit):
            last = self.writer.last_event.get(code)
            if last is not None and end - last > idle and code not in labelled:
                self.label("left_in_transit", code, "in transit, no event for the dormancy period")

    def near_miss(self, kind: str, subject: str) -> None:
        self.near_misses.append(Label(kind, subject, "near miss", self.now))

    def open(self) -> bool:
        """Whether a new cycle may still start (every cycle ends before the end)."""
        return self.now < self.end - 5 * DAY

    def q(self, item: Item, kg: Decimal, unit: str | None = None) -> dict[str, str]:
        return written(item.product, kg, self.rng, unit)

    # -- places ----------------------------------------------------------------------------

    def place(self, item: Item, holder: str, site: Site | None, status: str = "active") -> None:
        if item.site is not None:
            self.at_site.get(item.site.id, {}).pop(item.code, None)
        item.holder, item.site, item.status = holder, site, status
        if status == "in_transit":
            self.in_transit[item.code] = item
        else:
            self.in_transit.pop(item.code, None)
        if site is not None and status == "active":
            self.at_site.setdefault(site.id, {})[item.code] = item

    def nearest(self, orgs: list[Org], family: str, point: Point) -> tuple[Org, Site]:
        options = [(o, o.sites[family]) for o in orgs if family in o.sites]
        return min(options, key=lambda pair: distance_km(pair[1].point, point))

    # -- steps -----------------------------------------------------------------------------

    def commission(self, org: Org, site: Site, form: str, *, empty: bool = False,
                   packaging: str | None = None, quantity: Decimal | None = None,
                   unit: str | None = None) -> Item:  # fmt: skip
        made = product(form)
        packaging = packaging or made.packaging
        code = self.writer.code(org.id, form, packaging, self.now)
        amount = Decimal(0) if empty else (quantity if quantity is not None else made.kg)
        item = Item(code, form, packaging, amount, org.id, None, origin=org.id)
        self.writer.event(org.id, "commission", [code], {
            "chemical": form, "quantity": self.q(item, amount, unit or made.unit),
            "lot": f"L{self.now // DAY}", "packaging": packaging,
        }, self.now, site=site.id)  # fmt: skip
        self.place(item, org.id, site)
        self.items += 1
        return item

    def fill(self, org: Org, item: Item, due: str | None = None, kg: Decimal | None = None) -> None:
        """Fill to the product's full mass, or to ``kg`` (a tank or a ton container)."""
        due = due or f"{2027 + self.rng.randint(0, 2)}-{self.rng.randint(1, 12):02d}-15"
        full = item.product.kg if kg is None else kg
        self.writer.event(org.id, "fill", [item.code], {
            "quantity": self.q(item, full), "lot": f"F{self.now // DAY}", "inspection_due": due,
        }, self.now, site=item.site.id if item.site else None)  # fmt: skip
        item.kg = full

    def inspect(self, org: Org, item: Item, outcome: str) -> None:
        self.writer.event(org.id, "inspect", [item.code], {
            "outcome": outcome,
            "inspector": self.writer.disclosure("person", f"{org.id} inspector").commitment,
        }, self.now, site=item.site.id if item.site else None)  # fmt: skip

    def store(self, org: Org, items: list[Item], kind: str, *, two: bool = True) -> None:
        co = None
        if two and any("highly_toxic" in regulation.categories(i.form) for i in items):
            co = self.writer.disclosure("person", f"{org.id} second keeper").commitment
        site = items[0].site
        self.writer.event(org.id, kind, [i.code for i in items], {}, self.now,
                          site=site.id if site else None, co_actor=co)  # fmt: skip

    def sell(self, seller: Org, buyer: Org, items: list[Item], *, individual: bool = False) -> None:
        data: dict[str, JsonValue] = {"counterparty": buyer.id,
                                      "contract_no": f"HT{self.seq:08d}"}  # fmt: skip
        if any(i.seq in TOXIC for i in items):
            data["police_filing_no"] = f"BA-{self.seq:08d}"
        if individual:
            data["individual_buyer"] = self.writer.disclosure("person", buyer.id).commitment
        site = items[0].site
        self.writer.event(seller.id, "sell", [i.code for i in items], data, self.now,
                          site=site.id if site else None)  # fmt: skip

    def buy(self, buyer: Org, seller: Org, items: list[Item], *, at: int | None = None) -> None:
        """The buyer's own record of a controlled purchase, with its police filing number."""
        if not any(i.seq in TOXIC for i in items):
            return
        self.writer.event(buyer.id, "buy", [i.code for i in items], {
            "counterparty": seller.id, "police_filing_no": f"BB-{self.seq:08d}",
        }, self.now if at is None else at)  # fmt: skip

    def use(self, org: Org, item: Item, amount: Decimal) -> None:
        self.writer.event(org.id, "use", [item.code], {"quantity": self.q(item, amount)},
                          self.now, site=item.site.id if item.site else None)  # fmt: skip
        item.kg = max(Decimal(0), item.kg - amount)

    def count(self, org: Org, item: Item, counted: Decimal | None = None) -> None:
        value = item.kg if counted is None else counted
        self.writer.event(org.id, "stock_count", [item.code], {
            "count_id": f"SC{self.now // DAY}", "quantity": self.q(item, value),
        }, self.now, site=item.site.id if item.site else None)  # fmt: skip
        item.kg = value

    def give_back(self, org: Org, items: list[Item], to: Org) -> None:
        """A ``return`` nobody collects (an injected anomaly)."""
        site = items[0].site
        self.writer.event(org.id, "return", [i.code for i in items], {"to_org": to.id}, self.now,
                          site=site.id if site else None)  # fmt: skip
        for item in items:
            self.place(item, to.id, None, "in_transit")
            item.site = site  # still physically there until shipped

    def return_trip(self, items: list[Item], org: Org, origin: Site, to: Org,
                    target: Site) -> Iterator[int]:  # fmt: skip
        """``return``: the empties travel back to ``to`` (like a shipment) and are received."""
        ret = self.writer.event(org.id, "return", [i.code for i in items], {"to_org": to.id},
                                self.now, site=origin.id)  # fmt: skip
        for item in items:
            self.place(item, to.id, None, "in_transit")
        yield from self._drive(items, ret, origin, to, target, None, mover=org)

    def dispose(self, org: Org, item: Item, *, destroy: bool = False,
                disposer: str | None = None, manifest: str | None = "auto") -> None:  # fmt: skip
        if destroy:
            self.writer.event(org.id, "destroy", [item.code], {"method": "incineration"},
                              self.now, site=item.site.id if item.site else None)  # fmt: skip
        else:
            data: dict[str, JsonValue] = {"disposer": disposer or org.id, "method": "incineration"}
            if manifest is not None:
                number = f"HW{len(self.manifests) + 1:09d}" if manifest == "auto" else manifest
                data["manifest_no"] = number
                self.manifests.append(number)
            if item.kg > 0:
                data["quantity"] = self.q(item, item.kg)
            self.writer.event(org.id, "dispose", [item.code], data,
                              self.now, site=item.site.id if item.site else None)  # fmt: skip
        self.place(item, org.id, item.site, "disposed" if not destroy else "destroyed")

    # -- trips -----------------------------------------------------------------------------

    def vehicle(self, carrier: Carrier, items: list[Item], *, wrong: bool = False) -> str:
        classes = {regulation.forms()[i.form].transport_class for i in items}
        fits = [
            plate
            for plate, allowed in carrier.vehicles
            if all(any(class_within(c, a) for a in allowed) for c in classes) != wrong
        ]
        return self.rng.choice(fits)

    def trip(
        self, items: list[Item], sender: Org, origin: Site, receiver: Org, target: Site,
        flaw: Flaw | None = None, *, carrier: Carrier | None = None,
    ) -> Iterator[int]:  # fmt: skip
        """Ship, waypoints every ≤ 20 minutes, receive at the consignee's site."""
        carrier = carrier or self.rng.choice(self.city.carriers)
        self.waybills += 1
        what = flaw.what if flaw else ""
        data: dict[str, JsonValue] = {
            "carrier": carrier.org.id, "consignee": receiver.id, "consignee_site": target.id,
            "vehicle": self.vehicle(carrier, items, wrong=what == "vehicle"),
            "driver": self.rng.choice(carrier.drivers), "escort": self.rng.choice(carrier.escorts),
            "waybill_no": f"EW{self.waybills:09d}",
        }  # fmt: skip
        if what == "documents":
            del data["escort"]
        codes = [i.code for i in items]
        ship = self.writer.event(sender.id, "ship", codes, data, self.now, site=origin.id)
        for item in items:
            self.place(item, carrier.org.id, None, "in_transit")
            item.shipped_at = self.now
        yield from self._drive(items, ship, origin, receiver, target, flaw, mover=carrier.org)

    def _drive(self, items: list[Item], ship: str, origin: Site, receiver: Org, target: Site,
               flaw: Flaw | None, *, mover: Org) -> Iterator[int]:  # fmt: skip
        """``mover``'s waypoints every ≤ 20 minutes from ``origin``, then the receive at
        ``target`` (the custody policy lets only the trip's carrier report its position)."""
        what, size = (flaw.what, flaw.size) if flaw else ("", 0.0)
        codes = [i.code for i in items]
        start, goal = self.now, target.point
        if what == "far" and flaw is not None and flaw.point is not None:
            goal = flaw.point
        seconds = min(trip_seconds(origin.point, goal, self.rng),
                      transit_deadline_s(origin.point, target.point) - 10 * MINUTE)  # fmt: skip
        step = 20 * MINUTE
        gap_at = -1
        if what == "late":  # arrives ``size`` × the deadline after leaving
            seconds = int(transit_deadline_s(origin.point, target.point) * size)
        elif what == "gps":  # one silence of ``size`` × the allowed gap
            allowed = int(params.get("transport.gps_gap_minutes")) * MINUTE
            seconds = max(seconds, int(allowed * size) + 2 * step)
            gap_at = int(allowed * size)
        moments = list(range(step, seconds, step))
        if gap_at > 0:  # the first fix, then silence, then a fix every step again
            moments = [step, *range(step + gap_at, seconds, step)]
        for moment in moments:
            yield start + moment
            fraction = moment / seconds
            where = along(origin.point, goal, fraction)
            if what == "detour" and 0.3 < fraction < 0.7:
                where = offset(origin.point, goal, where, size)
            self.writer.event(mover.id, "waypoint", codes, {"ship": ship}, self.now, geo=where)
            if what == "stops" and fraction > 0.5:
                return  # the track stops; nobody ever receives
        yield start + seconds
        if what == "early-use":
            first = items[0]
            self.writer.event(receiver.id, "use", [codes[0]],
                              {"quantity": self.q(first, first.kg / 100)}, self.now,
                              site=target.id)  # fmt: skip
            first.kg -= first.kg / 100
            yield self.now + 60
        # "receiver": the carrier (named in the shipment) signs the receive, not the consignee
        signer = mover if what in ("receiver", "sender-receives") else receiver
        data: dict[str, JsonValue] = {"ship": ship}
        if what == "short":  # received ``size`` kg less than shipped, in another unit
            first = items[0]
            data["quantity"] = self.q(first, first.kg - Decimal(str(size)))
            first.kg -= Decimal(str(size))
        logged_at = None
        if what == "sync":  # signed on arrival, synced ``size`` × the trust window later
            trust = int(params.get("device.clock_trust_hours")) * HOUR
            logged_at = self.now + int(trust * size)
        self.writer.event(signer.id, "receive", codes, data, self.now, site=target.id,
                          geo=goal if what == "far" else None, logged_at=logged_at)  # fmt: skip
        for item in items:
            self.place(item, signer.id, target)
