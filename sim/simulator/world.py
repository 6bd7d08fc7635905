"""The running simulation: a discrete-event loop of processes and the shared flow steps.

A process is a generator that acts at ``world.now`` and yields the (absolute, epoch
seconds) time it wants to act next. The loop resumes processes in time order, so events
are signed and queued in time order. The steps here (commission, sell, trip, use,
return, dispose...) are the compliant versions; a trip's ``flaw`` bends one step for an
injected anomaly.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from ledger.rules.world import class_matches, distance_km
from sim.simulator.city import TOXIC, Carrier, City, Org, Site, kg
from sim.simulator.geo import Point, along, nearby, trip_seconds
from sim.simulator.products import product
from sim.simulator.writer import LedgerWriter

Process = Generator[int, None, None]
HOUR = 3600
DAY = 86400
TWO_PERSON = ("24", "25")


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


@dataclass
class Label:
    rule: str
    subject: str
    description: str
    at: int


@dataclass
class World:
    writer: LedgerWriter
    city: City
    rng: random.Random
    start: int
    end: int
    transport_class: dict[str, str]
    window: int
    """The engine's organisation-balance window (``mass.org_window_days``), in seconds."""
    now: int = 0
    queue: list[tuple[int, int, Process]] = field(default_factory=list)
    seq: int = 0
    at_site: dict[str, dict[str, Item]] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)
    waybills: int = 0
    items: int = 0
    hazard_sites: set[str] = field(default_factory=set)
    annexes: int = 0

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

    def label(self, rule: str, subject: str, description: str) -> None:
        self.labels.append(Label(rule, subject, description, self.now))

    def open(self) -> bool:
        """Whether a new cycle may still start (every cycle ends before the end)."""
        return self.now < self.end - 5 * DAY

    # -- places ----------------------------------------------------------------------------

    def place(self, item: Item, holder: str, site: Site | None, status: str = "active") -> None:
        if item.site is not None:
            self.at_site.get(item.site.id, {}).pop(item.code, None)
        item.holder, item.site, item.status = holder, site, status
        if site is not None and status == "active":
            self.at_site.setdefault(site.id, {})[item.code] = item

    def nearest(self, orgs: list[Org], family: str, point: Point) -> tuple[Org, Site]:
        options = [(o, o.sites[family]) for o in orgs if family in o.sites]
        return min(options, key=lambda pair: distance_km(pair[1].point, point))

    # -- steps -----------------------------------------------------------------------------

    def commission(self, org: Org, site: Site, form: str, *, empty: bool = False,
                   packaging: str | None = None,
                   quantity: Decimal | None = None) -> Item:  # fmt: skip
        made = product(form)
        packaging = packaging or made.packaging
        code = self.writer.code(org.id, form, packaging, self.now)
        amount = Decimal(0) if empty else (quantity or made.kg)
        self.writer.event(org.id, "commission", [code], {
            "chemical": form, "quantity": kg(amount), "lot": f"L{self.now // DAY}",
            "packaging": packaging,
        }, self.now, site=site.id)  # fmt: skip
        item = Item(code, form, packaging, amount, org.id, None, origin=org.id)
        self.place(item, org.id, site)
        self.items += 1
        return item

    def fill(self, org: Org, item: Item, due: str | None = None) -> None:
        due = due or f"{2027 + self.rng.randint(0, 2)}-{self.rng.randint(1, 12):02d}-15"
        full = product(item.form).kg
        self.writer.event(org.id, "fill", [item.code], {
            "quantity": kg(full), "lot": f"F{self.now // DAY}", "inspection_due": due,
        }, self.now, site=item.site.id if item.site else None)  # fmt: skip
        item.kg = full

    def store(self, org: Org, items: list[Item], kind: str, *, two: bool = True) -> None:
        co = None
        if two and any(i.seq in TWO_PERSON for i in items):
            co = self.writer.disclosure("person", f"{org.id} second keeper").commitment
        site = items[0].site
        self.writer.event(org.id, kind, [i.code for i in items], {}, self.now,
                          site=site.id if site else None, co_actor=co)  # fmt: skip

    def sell(self, seller: Org, buyer: Org, items: list[Item], *, individual: bool = False) -> None:
        data: dict[str, object] = {"counterparty": buyer.id, "contract_no": f"HT{self.seq:08d}"}
        if any(i.seq in TOXIC for i in items):
            data["police_filing_no"] = f"BA-{self.seq:08d}"
        if individual:
            data["individual_buyer"] = self.writer.disclosure("person", buyer.id).commitment
        site = items[0].site
        self.writer.event(seller.id, "sell", [i.code for i in items], data,  # type: ignore[arg-type]
                          self.now, site=site.id if site else None)  # fmt: skip

    def buy(self, buyer: Org, seller: Org, items: list[Item]) -> None:
        """The buyer's own record of a controlled purchase, with its police filing number."""
        if not any(i.seq in TOXIC for i in items):
            return
        self.writer.event(buyer.id, "buy", [i.code for i in items], {
            "counterparty": seller.id, "police_filing_no": f"BB-{self.seq:08d}",
        }, self.now)  # fmt: skip

    def use(self, org: Org, item: Item, amount: Decimal) -> None:
        amount = amount.quantize(Decimal("0.001"))
        self.writer.event(org.id, "use", [item.code], {"quantity": kg(amount)}, self.now,
                          site=item.site.id if item.site else None)  # fmt: skip
        item.kg = max(Decimal(0), item.kg - amount)

    def count(self, org: Org, item: Item, counted: Decimal | None = None) -> None:
        value = item.kg if counted is None else counted
        self.writer.event(org.id, "stock_count", [item.code], {
            "count_id": f"SC{self.now // DAY}", "quantity": kg(value),
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
        yield from self._drive(items, ret, origin, to, target, mover=org)

    def dispose(self, org: Org, item: Item, *, destroy: bool = False) -> None:
        if destroy:
            self.writer.event(org.id, "destroy", [item.code], {"method": "incineration"},
                              self.now, site=item.site.id if item.site else None)  # fmt: skip
        else:
            data: dict[str, object] = {"disposer": org.id, "manifest_no": f"HW{self.seq:09d}",
                                       "method": "incineration"}  # fmt: skip
            if item.kg > 0:
                data["quantity"] = kg(item.kg)
            self.writer.event(org.id, "dispose", [item.code], data,  # type: ignore[arg-type]
                              self.now, site=item.site.id if item.site else None)  # fmt: skip
        self.place(item, org.id, item.site, "disposed" if not destroy else "destroyed")

    # -- trips -----------------------------------------------------------------------------

    def vehicle(self, carrier: Carrier, items: list[Item], *, wrong: bool = False) -> str:
        classes = {self.transport_class[i.form] for i in items}
        fits = [
            plate
            for plate, allowed in carrier.vehicles
            if all(any(class_matches(a, {c}) for a in allowed) for c in classes) != wrong
        ]
        return self.rng.choice(fits)

    def trip(self, items: list[Item], sender: Org, origin: Site, receiver: Org, target: Site,
             flaw: str | None = None) -> Iterator[int]:  # fmt: skip
        """Ship, waypoints every ≤ 20 minutes, receive at the consignee's site."""
        carrier = self.rng.choice(self.city.carriers)
        self.waybills += 1
        data: dict[str, object] = {
            "carrier": carrier.org.id, "consignee": receiver.id, "consignee_site": target.id,
            "vehicle": self.vehicle(carrier, items, wrong=flaw == "vehicle"),
            "driver": self.rng.choice(carrier.drivers), "escort": self.rng.choice(carrier.escorts),
            "waybill_no": f"EW{self.waybills:09d}",
        }  # fmt: skip
        if flaw == "documents":
            del data["escort"]
        codes = [i.code for i in items]
        ship = self.writer.event(sender.id, "ship", codes, data, self.now,  # type: ignore[arg-type]
                                 site=origin.id)  # fmt: skip
        for item in items:
            self.place(item, carrier.org.id, None, "in_transit")
            item.shipped_at = self.now
        yield from self._drive(items, ship, origin, receiver, target, flaw, mover=carrier.org)

    def _drive(self, items: list[Item], ship: str, origin: Site, receiver: Org, target: Site,
               flaw: str | None = None, *, mover: Org) -> Iterator[int]:  # fmt: skip
        """``mover``'s waypoints every ≤ 20 minutes from ``origin``, then the receive at
        ``target`` (the custody policy lets only the trip's carrier report its position)."""
        codes = [i.code for i in items]
        start, goal = self.now, target.point
        if flaw == "far":
            goal = nearby(target.point, self.rng, 4.5)
        seconds = trip_seconds(origin.point, goal, self.rng)
        step = 1200
        if flaw == "late":
            road = distance_km(origin.point, target.point) * 1.4
            seconds = int((road / 40 + 6) * HOUR) + 3 * HOUR
        elif flaw == "gps":
            seconds, step = max(seconds, 50 * 60), 10**9
        k = 1
        while step * k < seconds:
            yield start + step * k
            if flaw == "late":
                where = along(origin.point, goal, min(1.0, step * k / (seconds / 3)))
            else:
                where = along(origin.point, goal, step * k / seconds)
            self.writer.event(mover.id, "waypoint", codes, {"ship": ship}, self.now,
                              geo=where)  # fmt: skip
            k += 1
        yield start + seconds
        if flaw == "early-use":
            self.writer.event(receiver.id, "use", [codes[0]], {"quantity": kg(Decimal("0.5"))},
                              self.now, site=target.id)  # fmt: skip
            items[0].kg -= Decimal("0.5")
            yield self.now + 60
        # a wrong receiver the custody policy accepts is one named in the shipment: the carrier
        signer = mover if flaw == "receiver" else receiver
        self.writer.event(signer.id, "receive", codes, {"ship": ship}, self.now, site=target.id,
                          geo=goal if flaw == "far" else None)  # fmt: skip
        for item in items:
            self.place(item, signer.id, target)
