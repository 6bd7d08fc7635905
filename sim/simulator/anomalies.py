"""Injected anomalies: one small story per rule, each breaking that rule and no other.

Every story uses fresh items in an otherwise compliant setting and writes its ground
truth label (rule, subject, description); the subject is what :data:`SUBJECT` in
``evaluate`` names for the rule. Stories whose rule fires on a deadline (filing, dormancy,
the organisation balance window) start early enough for the deadline to pass before the
simulation ends.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from decimal import Decimal

from ledger.rules.state import utc_text
from sim.simulator.city import Org, Site
from sim.simulator.geo import CORE, OUTER, nearby, scatter, text
from sim.simulator.products import FAMILIES, PROHIBITED_FORM, family_of, product
from sim.simulator.world import DAY, HOUR, Item, Process, World

NEUTRAL = "16.1"
"""Nitrogen cylinders: storable with every family, allowed in the capital core, no Q."""


def _customer(w: World, *, outer: bool = False, family: str | None = None) -> tuple[Org, Site]:
    options = [(a.org, a.site) for a in (*w.city.gas_accounts, *w.city.packaged_accounts)
               if (not outer or a.site.district in OUTER)
               and (family is None or a.site.family == family)]  # fmt: skip
    return options[w.rng.randrange(len(options))]


def _gas(w: World, form: str, near: Site, due: str | None = None) -> tuple[Org, Site, Item]:
    filler, _ = w.nearest(w.city.fillers, "oxidizing", near.point)
    home = filler.sites.get(family_of(form)) or next(iter(filler.sites.values()))
    item = w.commission(filler, home, form, empty=True)
    w.fill(filler, item, due)
    return filler, home, item


def _deliver(w: World, form: str, org: Org, site: Site,
             flaw: str | None = None) -> Generator[int, None, Item]:  # fmt: skip
    """A fresh cylinder of ``form`` carried from the nearest filler to ``site``; returns it."""
    filler, home, item = _gas(w, form, site)
    yield w.now + HOUR
    yield from w.trip([item], filler, home, org, site, flaw)
    return item


def _labelled_trip(rule: str, flaw: str, what: str) -> Callable[[World], Process]:
    def story(w: World) -> Process:
        org, site = _customer(w, outer=True)
        item = yield from _deliver(w, NEUTRAL, org, site, flaw)
        w.label(rule, item.code, f"{what} (to {org.id})")

    return story


def _after_delivery(
    rule: str, act: Callable[[World, Org, Item], str]
) -> Callable[[World], Process]:
    def story(w: World) -> Process:
        org, site = _customer(w, outer=True)
        item = yield from _deliver(w, NEUTRAL, org, site)
        yield w.now + int(w.rng.uniform(2, 20) * HOUR)
        w.label(rule, item.code, act(w, org, item))

    return story


def _double_holder(w: World, org: Org, item: Item) -> str:
    """The filler's handheld syncs a count it signed before the cylinder left (offline):
    the custody policy accepts it, and it lands while the customer holds the cylinder."""
    filler = w.city.orgs[item.origin]
    signed = item.shipped_at - 600
    w.writer.event(filler.id, "stock_count", [item.code], {
        "count_id": f"SC-OFF-{item.code}", "quantity": {"value": str(item.kg), "unit": "kg"},
    }, signed)  # fmt: skip
    return f"{filler.id}'s offline count, signed before it shipped, synced after {org.id} held it"


def _growth(w: World, org: Org, item: Item) -> str:
    w.count(org, item, item.kg * Decimal("1.2"))
    return "stock count 20% above the book quantity"


def _shortfall(w: World, org: Org, item: Item) -> str:
    w.count(org, item, (item.kg * Decimal("0.8")).quantize(Decimal("0.001")))
    return "stock count 20% below the book quantity"


def _travel(w: World, org: Org, item: Item) -> str:
    assert item.site is not None
    w.count(org, item)
    far = nearby(item.site.point, w.rng, 60)
    w.writer.event(org.id, "inspect", [item.code], {
        "outcome": "observation",
        "inspector": w.writer.disclosure("person", "roadside inspector").commitment,
    }, w.now, geo=far)  # fmt: skip
    return "code scanned 60 km away at the moment of a stock count"


def _overdraw(w: World, org: Org, item: Item) -> str:
    w.use(org, item, item.kg + Decimal(100))
    return f"{org.id} declared 100 kg more nitrogen used than its cylinder held"


def _org_balance(w: World) -> Process:
    org, site = _customer(w, outer=True)
    item = yield from _deliver(w, NEUTRAL, org, site)
    yield w.now + HOUR
    w.label("mass.org_balance", org.id, _overdraw(w, org, item))


def _dormant(w: World) -> Process:
    org, site = _customer(w, outer=True)
    item = yield from _deliver(w, NEUTRAL, org, site)
    yield w.now + DAY
    filler = w.city.orgs[_filler_of(w, site)]
    w.give_back(org, [item], filler)
    w.label("dormancy.idle", item.code, "returned empty, never collected")
    # a return travels like a shipment: never received, it is also overdue
    w.label("custody.transit_overdue", item.code, "a return never received")


def _late_sync(w: World) -> Process:
    """A handheld offline for four days: the count it signed a day after the delivery syncs
    beyond the 72-hour device clock trust window."""
    org, site = _customer(w, outer=True)
    item = yield from _deliver(w, NEUTRAL, org, site)
    yield w.now + 5 * DAY
    w.writer.event(org.id, "stock_count", [item.code], {
        "count_id": f"SC-LATE-{item.code}", "quantity": {"value": str(item.kg), "unit": "kg"},
    }, w.now - 4 * DAY, site=site.id)  # fmt: skip
    w.label("device.late_sync", item.code, f"{org.id}'s count synced four days after it was signed")


def _filler_of(w: World, site: Site) -> str:
    return w.nearest(w.city.fillers, "oxidizing", site.point)[0].id


def _to_disposer(w: World, rule: str) -> Process:
    _, site = _customer(w, outer=True)
    disposer, bin_ = w.nearest(w.city.disposers, "oxidizing", site.point)
    filler, home, item = _gas(w, NEUTRAL, bin_)
    yield w.now + HOUR
    yield from w.trip([item], filler, home, disposer, bin_)
    yield w.now + HOUR
    destroy = rule == "clone.after_destruction"
    w.dispose(disposer, item, destroy=destroy)
    yield w.now + DAY
    if destroy:
        w.writer.event(disposer.id, "inspect", [item.code], {
            "outcome": "observation",
            "inspector": w.writer.disclosure("person", "inspector").commitment,
        }, w.now, site=bin_.id)  # fmt: skip
        w.label(rule, item.code, "destroyed cylinder scanned again")
    else:
        w.count(disposer, item)
        w.label(rule, item.code, "stock count on a disposed cylinder")


def _producer(w: World, family: str) -> tuple[Org, Site, tuple[str, ...]]:
    options = [(o, forms) for o, forms in w.city.producers if family in o.sites]
    org, forms = options[w.rng.randrange(len(options))]
    return org, org.sites[family], forms


def _second_commission(w: World) -> Process:
    org, plant, forms = _producer(w, "flammable")
    form = next(f for f in forms if f != PROHIBITED_FORM)
    item = w.commission(org, plant, form)
    yield w.now + 2 * HOUR
    w.writer.event(org.id, "commission", [item.code], {
        "chemical": form, "quantity": {"value": str(item.kg), "unit": "kg"}, "lot": "DUP",
        "packaging": item.packaging,
    }, w.now, site=plant.id)  # fmt: skip
    w.label("lifecycle.second_commission", item.code, f"{org.id} commissioned a code twice")


def _unlicensed(w: World) -> Process:
    org, plant, forms = _producer(w, "flammable")
    licensed = {f.split(".")[0] for f in forms}
    form = next(f for f in FAMILIES["flammable"]
                if f.split(".")[0] not in licensed and f in _GAS_OR_PACKAGED())  # fmt: skip
    item = w.commission(org, plant, form)
    w.label("licence.missing", item.code, f"{org.id} produced {form} outside its licence")
    yield w.now


def _GAS_OR_PACKAGED() -> set[str]:  # noqa: N802
    from sim.simulator.products import GASES, PACKAGED

    return set(GASES) | set(PACKAGED)


def _prohibited(w: World) -> Process:
    org = next(o for o, forms in w.city.producers if PROHIBITED_FORM in forms)
    plant = org.sites["flammable"]
    item = w.commission(org, plant, PROHIBITED_FORM)
    w.label("city.prohibited", item.code, "acrylonitrile produced (simulation-only ban)")
    yield w.now


def _two_person(w: World) -> Process:
    org, plant, _ = _producer(w, "cyanide")
    item = w.commission(org, plant, "25.1")
    w.store(org, [item], "store_in", two=False)
    w.label("storage.two_person", item.code, "sodium cyanide stored in by one signer")
    yield w.now


def _overdue(w: World) -> Process:
    _, site = _customer(w)
    past = _day(w.now - 3 * DAY)
    _, _, item = _gas(w, NEUTRAL, site, due=past)
    w.label("storage.cylinder_overdue", item.code, f"filled with inspection due {past}")
    yield w.now


def _day(seconds: int) -> str:
    return utc_text(seconds)[:10]


def _imbalance(w: World) -> Process:
    org = next(o for o, forms in w.city.producers if "33.1" in forms)
    plant = org.sites["flammable"]
    drum = w.commission(org, plant, "33.1")
    yield w.now + HOUR
    codes = [w.writer.code(org.id, "33.1", "bottle", w.now) for _ in range(4)]
    w.writer.event(org.id, "transform", [(drum.code, "input"), *[(c, "output") for c in codes]], {
        "kind": "decant",
        "inputs": [{"code": drum.code, "quantity": {"value": "20", "unit": "kg"}}],
        "outputs": [{"code": c, "quantity": {"value": "6", "unit": "kg"}} for c in codes],
    }, w.now, site=plant.id)  # fmt: skip
    w.items += 4
    drum.kg -= 20
    w.label("mass.transform_imbalance", drum.code, "20 kg decanted into 24 kg of bottles")


SALE_FORMS = {
    "permit.toxic_sale_unpermitted": "27.2", "permit.toxic_filing_missing": "29.1",
    "permit.individual_buyer": "30.1", "permit.precursor_purchase": "10.1",
}  # fmt: skip


def _sale(rule: str) -> Callable[[World], Process]:
    """Controlled sales gone wrong: no permit, no buyer filing, an individual, no filing."""

    def story(w: World) -> Process:
        form = SALE_FORMS[rule]
        maker = next(o for o, forms in w.city.producers if form in forms)
        plant = next(iter(maker.sites.values()))
        item = w.commission(maker, plant, form)
        yield w.now + HOUR
        if rule == "permit.individual_buyer":
            buyer = next(a.org for a in w.city.lpg_accounts)
            w.sell(maker, buyer, [item], individual=True)
            w.label(rule, item.code, f"potassium permanganate sold to {buyer.id}")
            return
        if rule == "permit.toxic_filing_missing":
            buyer, target = w.nearest(w.city.hubs, "oxidizing", plant.point)
        else:
            buyer = w.city.rogues[plant.family]
            target = buyer.sites[plant.family]
        w.sell(maker, buyer, [item])
        yield from w.trip([item], maker, plant, buyer, target)
        if rule != "permit.toxic_filing_missing":
            w.buy(buyer, maker, [item])
        w.label(rule, item.code, f"{product(form).form} sold by {maker.id} to {buyer.id}")

    return story


def _major_hazard(w: World) -> Process:
    used = w.hazard_sites
    options = [a for a in w.city.gas_accounts + w.city.packaged_accounts
               if a.site.family == "oxidizing" and a.site.district in OUTER
               and a.site.id not in used]  # fmt: skip
    acc = options[w.rng.randrange(len(options))] if options else None
    if acc is None:
        return
    used.add(acc.site.id)
    filler, _ = w.nearest(w.city.fillers, "oxidizing", acc.site.point)
    home = filler.sites["oxidizing"]
    tanks = [w.commission(filler, home, "1.1", packaging="tank", quantity=Decimal(1000))
             for _ in range(6)]  # fmt: skip
    yield w.now + 2 * HOUR
    yield from w.trip(tanks, filler, home, acc.org, acc.site)
    w.label("storage.major_hazard", acc.site.id, "6 t of chlorine at an unregistered site")


def _new_site(w: World, org: Org, family: str, district: str) -> Site:
    w.annexes += 1
    n = w.annexes
    point = scatter(w.rng, district)
    site = Site(f"{org.id}-annex-{n}", org.id, family, district, point)
    w.writer.record("site", site.id, w.now, org=org.id, name=f"{org.id} annex {n}",
                    address=f"{district.title()}, Beijing", district=district,
                    lat=text(point[0]), lon=text(point[1]), capacity_t="5",
                    major_hazard=False)  # fmt: skip
    w.city.sites[site.id] = site
    return site


def _incompatible(w: World) -> Process:
    org, _ = _customer(w, outer=True)
    site = _new_site(w, org, "oxidizing", w.rng.choice(OUTER))
    yield from _deliver(w, "15.1", org, site)
    yield w.now + DAY
    item = yield from _deliver(w, "9.1", org, site)
    w.label("storage.incompatible", item.code, "acetylene put beside oxygen")


def _restricted(w: World) -> Process:
    org, _ = _customer(w)
    site = _new_site(w, org, "oxidizing", w.rng.choice(CORE))
    maker = next(o for o, forms in w.city.producers if "31.1" in forms)
    plant = next(iter(maker.sites.values()))
    drum = w.commission(maker, plant, "31.1")
    yield w.now + HOUR
    yield from w.trip([drum], maker, plant, org, site)
    w.label("city.restricted_bulk", drum.code, f"250 kg sulfuric acid drum in {site.district}")


def _unissued(w: World) -> Process:
    org = next(iter(w.city.hubs))
    site = next(iter(org.sites.values()))
    if w.rng.random() < 0.5:
        code = w.writer.unissued_code()
        how = "a code no batch issued"
    else:
        code = w.writer.code(w.city.hubs[-1].id if len(w.city.hubs) > 1 else w.city.fillers[0].id,
                             "33.1", "drum", w.now)  # fmt: skip
        how = "a code issued to another enterprise"
    w.writer.attempt(org.id, "commission", code, {
        "chemical": "33.1", "quantity": {"value": "160", "unit": "kg"}, "lot": "X1",
        "packaging": "drum",
    }, w.now, site.id, site.district)  # fmt: skip
    w.label("clone.unissued_code", code, f"{org.id} presented {how}")
    yield w.now


STORIES: dict[str, Callable[[World], Process]] = {
    "lifecycle.use_before_receipt": _labelled_trip(
        "lifecycle.use_before_receipt", "early-use", "used before it was received"),
    "lifecycle.after_disposal": lambda w: _to_disposer(w, "lifecycle.after_disposal"),
    "lifecycle.second_commission": _second_commission,
    "lifecycle.quantity_growth": _after_delivery("lifecycle.quantity_growth", _growth),
    "custody.transit_overdue": _labelled_trip(
        "custody.transit_overdue", "late", "received three hours after the transit deadline"),
    "custody.wrong_receiver": _labelled_trip(
        "custody.wrong_receiver", "receiver", "received by another organisation"),
    "custody.double_holder": _after_delivery("custody.double_holder", _double_holder),
    "clone.impossible_travel": _after_delivery("clone.impossible_travel", _travel),
    "clone.after_destruction": lambda w: _to_disposer(w, "clone.after_destruction"),
    "clone.unissued_code": _unissued,
    "mass.transform_imbalance": _imbalance,
    "mass.stock_shortfall": _after_delivery("mass.stock_shortfall", _shortfall),
    "mass.org_balance": _org_balance,
    "licence.missing": _unlicensed,
    "permit.toxic_sale_unpermitted": _sale("permit.toxic_sale_unpermitted"),
    "permit.toxic_filing_missing": _sale("permit.toxic_filing_missing"),
    "permit.individual_buyer": _sale("permit.individual_buyer"),
    "permit.precursor_purchase": _sale("permit.precursor_purchase"),
    "transport.documents_missing": _labelled_trip(
        "transport.documents_missing", "documents", "shipped without an escort"),
    "transport.vehicle_not_licensed": _labelled_trip(
        "transport.vehicle_not_licensed", "vehicle", "vehicle not licensed for class 2"),
    "transport.gps_gap": _labelled_trip(
        "transport.gps_gap", "gps", "no GPS position for the whole trip"),
    "transport.arrival_far": _labelled_trip(
        "transport.arrival_far", "far", "received 4.5 km from the consignee's site"),
    "storage.major_hazard": _major_hazard,
    "storage.incompatible": _incompatible,
    "storage.two_person": _two_person,
    "storage.cylinder_overdue": _overdue,
    "city.prohibited": _prohibited,
    "city.restricted_bulk": _restricted,
    "dormancy.idle": _dormant,
    "device.late_sync": _late_sync,
}  # fmt: skip
EARLY: dict[str, int] = {"dormancy.idle": 17 * DAY, "permit.toxic_filing_missing": 7 * DAY}
"""How long before the end a deadline story must start (the org balance: before a window end)."""


def schedule(w: World, total: int) -> None:
    """Spawn ``total`` stories (at least one per rule), round-robin over the rules."""
    rules = list(STORIES)
    boundary = (w.start // w.window + 1) * w.window
    for n in range(max(total, len(rules))):
        rule = rules[n % len(rules)]
        latest = w.end - 6 * DAY
        if rule == "mass.org_balance":
            latest = boundary - 2 * DAY if boundary + DAY < w.end else latest
        elif rule in EARLY:
            latest = w.end - EARLY[rule]
        earliest = w.start + DAY
        at = w.rng.randint(earliest, max(earliest, latest))
        w.spawn(STORIES[rule](w), at)
