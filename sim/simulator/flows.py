"""Compliant flows: cylinder cycles, LPG to households, packaged goods, waste, stock counts."""

from __future__ import annotations

from decimal import Decimal

from sim.simulator.city import Account
from sim.simulator.products import BOTTLE_KG, FAMILIES, family_of
from sim.simulator.units import amount
from sim.simulator.world import DAY, HOUR, Item, Process, World


def _portion(item: Item, fraction: float) -> Decimal:
    """kg of ``fraction`` of a full package, rounded down to 0.1 of its base unit (L or kg)."""
    made = item.product
    base = (made.kg / made.per_unit_kg * Decimal(str(fraction))).quantize(
        Decimal("0.1"), rounding="ROUND_DOWN"
    )
    return amount(made, base)


def _uses(w: World, org_items: list[Item], org_id: str) -> Process:
    """Consume most of each item in 2-3 portions over one to three weeks."""
    org = w.city.orgs[org_id]
    rounds = w.rng.randint(2, 3)
    share = [w.rng.uniform(0.2, 0.9 / rounds) for _ in range(rounds)]
    for portion in range(rounds):
        yield w.now + int(w.rng.uniform(2, 7) * DAY)
        for item in org_items:
            taken = _portion(item, share[portion])
            if 0 < taken <= item.kg:
                w.use(org, item, taken)


def gas_account(w: World, acc: Account) -> Process:
    """Cylinders filled, sold, delivered, used, returned and refilled, round and round."""
    filler, _ = w.nearest(w.city.fillers, "oxidizing", acc.site.point)
    home = filler.sites.get(acc.site.family) or filler.sites[family_of(acc.form)]
    if acc.form not in FAMILIES[home.family]:
        home = filler.sites[family_of(acc.form)]
    cylinders = [w.commission(filler, home, acc.form, empty=True) for _ in range(acc.count)]
    while w.open():
        for cylinder in cylinders:
            w.fill(filler, cylinder)
        w.store(filler, cylinders, "store_in")
        yield w.now + int(w.rng.uniform(2, 30) * HOUR)
        w.sell(filler, acc.org, cylinders)
        w.store(filler, cylinders, "store_out")
        yield from w.trip(cylinders, filler, home, acc.org, acc.site)
        yield w.now + int(w.rng.uniform(0.5, 3) * HOUR)
        w.buy(acc.org, filler, cylinders)
        yield from _uses(w, cylinders, acc.org.id)
        yield w.now + int(w.rng.uniform(1, 3) * DAY)
        yield from w.return_trip(cylinders, acc.org, acc.site, filler, home)
        yield w.now + int(w.rng.uniform(1, 20) * HOUR)
        if w.rng.random() < 0.3:
            for cylinder in cylinders:
                w.inspect(filler, cylinder, "pass")


def lpg_account(w: World, acc: Account) -> Process:
    """LPG: filler → station (trader) → household, empties back the same way."""
    station, depot = w.nearest(w.city.distributors, "flammable", acc.site.point)
    filler, plant = w.nearest(w.city.fillers, "flammable", depot.point)
    cylinders = [w.commission(filler, plant, acc.form, empty=True) for _ in range(acc.count)]
    while w.open():
        for cylinder in cylinders:
            w.fill(filler, cylinder)
        yield w.now + int(w.rng.uniform(1, 12) * HOUR)
        w.sell(filler, station, cylinders)
        yield from w.trip(cylinders, filler, plant, station, depot)
        w.store(station, cylinders, "store_in")
        yield w.now + int(w.rng.uniform(2, 48) * HOUR)
        w.store(station, cylinders, "store_out")
        w.sell(station, acc.org, cylinders, individual=True)
        yield from w.trip(cylinders, station, depot, acc.org, acc.site)
        yield from _uses(w, cylinders, acc.org.id)
        yield w.now + int(w.rng.uniform(1, 4) * DAY)
        yield from w.return_trip(cylinders, acc.org, acc.site, station, depot)
        w.store(station, cylinders, "store_in")
        yield w.now + int(w.rng.uniform(4, 48) * HOUR)
        w.store(station, cylinders, "store_out")
        yield from w.return_trip(cylinders, station, depot, filler, plant)
        yield w.now + int(w.rng.uniform(1, 12) * HOUR)


def packaged_account(w: World, acc: Account) -> Process:
    """Orders of drums or bags (or lab bottles decanted at the hub), used up, then waste."""
    family = acc.site.family
    hub, store = w.nearest(w.city.hubs, family, acc.site.point)
    makers = [(org, forms) for org, forms in w.city.producers if acc.form in forms]
    maker, _ = makers[w.rng.randrange(len(makers))]
    plant = next(iter(maker.sites.values()))
    lab = acc.org.type == "laboratory"
    while w.open():
        drums = [
            w.commission(maker, plant, acc.form) for _ in range(1 if lab else w.rng.randint(1, 3))
        ]
        w.store(maker, drums, "store_in")
        yield w.now + int(w.rng.uniform(2, 24) * HOUR)
        w.sell(maker, hub, drums)
        w.store(maker, drums, "store_out")
        yield from w.trip(drums, maker, plant, hub, store)
        w.buy(hub, maker, drums)
        w.store(hub, drums, "store_in")
        yield w.now + int(w.rng.uniform(4, 48) * HOUR)
        goods = drums
        if lab and acc.form in BOTTLE_KG:
            goods = _decant(w, drums[0], hub.id)
            w.store(hub, [drums[0]], "store_out")
            disposer, bin_ = w.nearest(w.city.disposers, family, store.point)
            yield from w.trip([drums[0]], hub, store, disposer, bin_)
            w.dispose(disposer, drums[0])
        w.sell(hub, acc.org, goods)
        w.store(hub, goods, "store_out")
        yield from w.trip(goods, hub, store, acc.org, acc.site)
        w.buy(acc.org, hub, goods)
        yield from _uses(w, goods, acc.org.id)
        yield w.now + int(w.rng.uniform(1, 5) * DAY)
        disposer, bin_ = w.nearest(w.city.disposers, family, acc.site.point)
        yield from w.trip(goods, acc.org, acc.site, disposer, bin_)
        yield w.now + int(w.rng.uniform(1, 24) * HOUR)
        for item in goods:
            w.dispose(disposer, item)
        yield w.now + int(w.rng.uniform(1, 4) * DAY)


def _decant(w: World, drum: Item, hub_id: str) -> list[Item]:
    hub = w.city.orgs[hub_id]
    size = amount(drum.product, Decimal(BOTTLE_KG[drum.form]))
    count = min(int(drum.kg / size), w.rng.randint(4, 12))
    site = drum.site
    assert site is not None
    codes = [w.writer.code(hub.id, drum.form, "bottle", w.now) for _ in range(count)]
    taken = size * count
    w.writer.event(hub.id, "transform", [(drum.code, "input"), *[(c, "output") for c in codes]], {
        "kind": "decant",
        "inputs": [{"code": drum.code, "quantity": w.q(drum, taken)}],
        "outputs": [{"code": c, "quantity": w.q(drum, size)} for c in codes],
    }, w.now, site=site.id)  # fmt: skip
    drum.kg -= taken
    bottles = [Item(c, drum.form, "bottle", size, hub.id, None) for c in codes]
    for bottle in bottles:
        w.place(bottle, hub.id, site)
    w.items += len(bottles)
    return bottles


def stock_counts(w: World) -> Process:
    """Every two weeks, each hub and end user counts what it holds: counts match books."""
    while w.now < w.end - 3 * DAY:
        yield w.now + 14 * DAY
        for site_id in sorted(w.at_site):
            site = w.city.sites.get(site_id)
            if site is None or w.city.orgs[site.org].type in ("individual", "disposer"):
                continue
            for item in list(w.at_site[site_id].values()):
                if (item.holder == site.org and item.status == "active"
                        and not w.writer.offline[item.code]):  # fmt: skip
                    w.count(w.city.orgs[site.org], item)
