"""Lifecycle stories, simulated and signed in worker processes (one core each).

The mix follows :mod:`sim.simulator.flows`: cylinders commissioned empty by a filler, then
cycles of fill → store_in → sell → store_out → ship (carrier, vehicle, driver, escort,
waybill) → waypoints every 20 minutes with GPS → receive → use in portions (and stock
counts) → return of the empties with their own waypoints → receive (sometimes an
inspection), and at the end of some lives a trip to a disposer and ``dispose``; packaged
goods (drums, bags) commissioned full by a plant, sold, shipped, used up and sent to a
disposer. Bodies are built exactly as :class:`ledger.builder.DeviceSession` builds them and
signed by each organisation's device key; a worker owns its stories' items, so it signs
every chain in order. Events come out in time order, in windows, for the loader to merge.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bench.scale import jcs
from bench.scale.city import DAY, HOUR, START, City, Org, Story, derived_signer, full_kg, person
from ledger.canonical import EVENT, EVENT_BODY, b64encode, format_hash
from ledger.signing import Ed25519Signer
from sim.simulator.products import CATALOG, PRODUCTS
from sim.simulator.units import amount, written

MINUTE = 60
Signed = tuple[int, bytes, bytes, bytes, bytes]
"""``(event time, canonical envelope, canonical body, signature, event hash)``."""
Spec = tuple[int, str, str, list[Any], dict[str, Any], str | None, tuple[float, float] | None]
"""``(time, org, type, items, data, site, geo)`` of one event to sign."""
StoryGen = Generator[Spec, str, None]


def utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Signers:
    """Each organisation's device key and duty officer (derived from the seed)."""

    seed: int
    devices: dict[str, Ed25519Signer]
    actors: dict[str, str]

    @classmethod
    def of(cls, city: City) -> Signers:
        devices = {o.id: derived_signer(city.seed, f"device-{o.id}") for o in city.orgs}
        actors = {o.id: person(city.seed, f"{o.id} duty officer").commitment for o in city.orgs}
        return cls(city.seed, devices, actors)


def sign(spec: Spec, signers: Signers, heads: dict[str, tuple[int, bytes]]) -> Signed:
    """Link, build and sign one body the way ``DeviceSession.event`` does."""
    at, org, kind, items, data, site, geo = spec
    links: list[dict[str, Any]] = []
    for item in items:
        code, role = (item, "subject") if isinstance(item, str) else item
        head = heads.get(code)
        links.append(
            {
                "code": code,
                "role": role,
                "seq": 0 if head is None else head[0] + 1,
                "prev": None if head is None else format_hash(head[1]),
            }
        )
    signer = signers.devices[org]
    body: dict[str, Any] = {
        "v": 1,
        "type": kind,
        "time": utc(at),
        "org": org,
        "device_key": signer.key_id,
        "actor": signers.actors[org],
        "items": links,
        "catalog_version": CATALOG,
        "data": data,
    }
    if site is not None:
        body["site"] = site
    if geo is not None:
        body["geo"] = {"lat": f"{geo[0]:.5f}", "lon": f"{geo[1]:.5f}"}
    body_bytes = jcs.dumps(body)
    signature = signer.sign(EVENT_BODY + body_bytes)
    envelope = {"body": body, "signature": {"alg": signer.algorithm, "value": b64encode(signature)}}
    canonical = jcs.dumps(envelope)
    digest = hashlib.sha256(EVENT + canonical).digest()
    for link in links:
        heads[link["code"]] = (link["seq"], digest)
    return at, canonical, body_bytes, signature, digest


class _Items:
    """What a story knows of its items: the kg in each."""

    def __init__(self, form: str, codes: tuple[str, ...], kg: Decimal) -> None:
        self.form = form
        self.kg = dict.fromkeys(codes, kg)

    @property
    def codes(self) -> list[str]:
        return list(self.kg)


def _km(a: Org, b: Org) -> float:
    return math.hypot((a.lat - b.lat) * 111.0, (a.lon - b.lon) * 85.0)


class _Story:
    def __init__(self, city: City, story: Story, rng: random.Random) -> None:
        self.city, self.s, self.rng = city, story, rng
        self.now = story.start
        self.product = PRODUCTS[story.form]

    def q(self, kg: Decimal) -> dict[str, str]:
        return written(self.product, kg, self.rng)

    def portion(self, fraction: float) -> Decimal:
        made = self.product
        base = (made.kg / made.per_unit_kg * Decimal(str(fraction))).quantize(
            Decimal("0.1"), rounding="ROUND_DOWN"
        )
        return amount(made, base)

    def inspection_due(self) -> str:
        return f"{2027 + self.rng.randint(0, 2)}-{self.rng.randint(1, 12):02d}-15"

    def wait(self, low: float, high: float, unit: int) -> None:
        self.now += int(self.rng.uniform(low, high) * unit)

    def trip(self, items: _Items, sender: Org, receiver: Org, *, ret: bool = False) -> StoryGen:
        """Ship (or return), waypoints every 20 minutes, receive at the receiver's site."""
        codes = items.codes
        if ret:
            mover = sender.id
            ship = yield (
                self.now,
                sender.id,
                "return",
                codes,
                {"to_org": receiver.id},
                sender.site,
                None,
            )
        else:
            carrier = self.rng.choice(self.city.carriers)
            mover = carrier.org.id
            data = {
                "carrier": carrier.org.id,
                "consignee": receiver.id,
                "consignee_site": receiver.site,
                "vehicle": self.rng.choice(carrier.plates),
                "driver": self.rng.choice(carrier.drivers),
                "escort": self.rng.choice(carrier.escorts),
                "waybill_no": f"EW{self.s.id:08d}{self.now % 100000:05d}",
            }
            ship = yield (self.now, sender.id, "ship", codes, data, sender.site, None)
        seconds = int(_km(sender, receiver) / 22 * HOUR) + 25 * MINUTE
        start = self.now
        for moment in range(20 * MINUTE, seconds, 20 * MINUTE):
            f = moment / seconds
            where = (
                sender.lat + (receiver.lat - sender.lat) * f,
                sender.lon + (receiver.lon - sender.lon) * f,
            )
            self.now = start + moment
            yield (self.now, mover, "waypoint", codes, {"ship": ship}, None, where)
        self.now = start + seconds
        yield (self.now, receiver.id, "receive", codes, {"ship": ship}, receiver.site, None)

    def uses(self, items: _Items, holder: Org) -> StoryGen:
        rounds = self.rng.randint(1, 3)
        for _ in range(rounds):
            self.wait(2, 7, DAY)
            share = self.rng.uniform(0.2, 0.9 / rounds)
            for code in items.codes:
                taken = self.portion(share)
                if 0 < taken <= items.kg[code]:
                    items.kg[code] -= taken
                    yield (
                        self.now,
                        holder.id,
                        "use",
                        [code],
                        {"quantity": self.q(taken)},
                        holder.site,
                        None,
                    )
            if self.rng.random() < 0.3:
                for code in items.codes:
                    yield (
                        self.now + 600,
                        holder.id,
                        "stock_count",
                        [code],
                        {
                            "count_id": f"SC{self.now // DAY}",
                            "quantity": self.q(items.kg[code]),
                        },
                        holder.site,
                        None,
                    )

    def dispose(self, items: _Items, holder: Org) -> StoryGen:
        disposer = self.rng.choice(self.city.disposers)
        yield from self.trip(items, holder, disposer)
        self.wait(1, 24, HOUR)
        for n, code in enumerate(items.codes):
            data: dict[str, Any] = {
                "disposer": disposer.id,
                "method": "incineration",
                "manifest_no": f"HW{self.s.id:08d}{n:02d}",
            }
            if items.kg[code] > 0:
                data["quantity"] = self.q(items.kg[code])
            yield (self.now, disposer.id, "dispose", [code], data, disposer.site, None)

    def gas(self) -> StoryGen:
        filler, customer = self.city.org(self.s.origin), self.city.org(self.s.customer)
        items = _Items(self.s.form, self.s.codes, Decimal(0))
        for code in items.codes:
            yield (
                self.now,
                filler.id,
                "commission",
                [code],
                {
                    "chemical": self.s.form,
                    "quantity": written(self.product, Decimal(0), None, self.product.unit),
                    "lot": f"L{self.now // DAY}",
                    "packaging": "cylinder",
                },
                filler.site,
                None,
            )
        for cycle in range(self.s.cycles):
            for code in items.codes:
                items.kg[code] = full_kg(self.s.form)
                yield (
                    self.now,
                    filler.id,
                    "fill",
                    [code],
                    {
                        "quantity": self.q(items.kg[code]),
                        "lot": f"F{self.now // DAY}",
                        "inspection_due": self.inspection_due(),
                    },
                    filler.site,
                    None,
                )
            yield (self.now, filler.id, "store_in", items.codes, {}, filler.site, None)
            self.wait(2, 30, HOUR)
            yield (
                self.now,
                filler.id,
                "sell",
                items.codes,
                {
                    "counterparty": customer.id,
                    "contract_no": f"HT{self.s.id:08d}{cycle:02d}",
                },
                filler.site,
                None,
            )
            yield (self.now, filler.id, "store_out", items.codes, {}, filler.site, None)
            yield from self.trip(items, filler, customer)
            yield from self.uses(items, customer)
            self.wait(1, 3, DAY)
            yield from self.trip(items, customer, filler, ret=True)
            self.wait(1, 20, HOUR)
            if self.rng.random() < 0.3:
                for code in items.codes:
                    yield (
                        self.now,
                        filler.id,
                        "inspect",
                        [code],
                        {
                            "outcome": "pass",
                            "inspector": person(
                                self.city.seed, f"{filler.id} inspector"
                            ).commitment,
                        },
                        filler.site,
                        None,
                    )
            self.wait(4, 48, HOUR)
        if self.rng.random() < 0.25:
            yield from self.dispose(items, filler)

    def packaged(self) -> StoryGen:
        plant, customer = self.city.org(self.s.origin), self.city.org(self.s.customer)
        items = _Items(self.s.form, self.s.codes, full_kg(self.s.form))
        for code in items.codes:
            yield (
                self.now,
                plant.id,
                "commission",
                [code],
                {
                    "chemical": self.s.form,
                    "quantity": self.q(items.kg[code]),
                    "lot": f"L{self.now // DAY}",
                    "packaging": self.product.packaging,
                },
                plant.site,
                None,
            )
        yield (self.now, plant.id, "store_in", items.codes, {}, plant.site, None)
        self.wait(2, 24, HOUR)
        yield (
            self.now,
            plant.id,
            "sell",
            items.codes,
            {
                "counterparty": customer.id,
                "contract_no": f"HT{self.s.id:08d}00",
            },
            plant.site,
            None,
        )
        yield (self.now, plant.id, "store_out", items.codes, {}, plant.site, None)
        yield from self.trip(items, plant, customer)
        yield (self.now + 300, customer.id, "store_in", items.codes, {}, customer.site, None)
        yield from self.uses(items, customer)
        self.wait(1, 5, DAY)
        yield (self.now, customer.id, "store_out", items.codes, {}, customer.site, None)
        yield from self.dispose(items, customer)


def signed_events(city: City, stories: list[Story]) -> Iterator[Signed]:
    """Every event of ``stories``, signed, in time order (ties in a fixed order)."""
    signers = Signers.of(city)
    heads: dict[str, tuple[int, bytes]] = {}
    queue: list[tuple[int, int, Spec, StoryGen]] = []
    for story in stories:
        rng = random.Random(f"{city.seed}:story:{story.id}")
        runner = _Story(city, story, rng)
        gen = runner.gas() if story.kind == "gas" else runner.packaged()
        first = next(gen, None)
        if first is not None:
            heapq.heappush(queue, (first[0], story.id, first, gen))
    while queue:
        _, story_id, spec, gen = heapq.heappop(queue)
        done = sign(spec, signers, heads)
        yield done
        following = _advance(gen, format_hash(done[4]), spec[0])
        if following is not None:
            heapq.heappush(queue, (following[0], story_id, following, gen))


def _advance(gen: StoryGen, event_hash: str, at: int) -> Spec | None:
    try:
        spec = gen.send(event_hash)
    except StopIteration:
        return None
    # a story's clock never runs backwards (an event at the same second follows)
    return spec if spec[0] >= at else (at, *spec[1:])


def windows(city: City, stories: list[Story], width: int) -> Iterator[list[Signed]]:
    """``signed_events`` cut into windows of ``width`` seconds of event time."""
    chunk: list[Signed] = []
    end = START + width  # the same windows in every worker, so the loader can merge them
    for event in signed_events(city, stories):
        while event[0] >= end:
            yield chunk
            chunk = []
            end += width
        chunk.append(event)
    yield chunk
