"""Injected anomalies: small stories, each breaking one reading of a regulation, or not.

Every story uses fresh items (and, where a balance or a site sum is judged, a fresh
organisation or site) in an otherwise compliant setting. A *boundary* story draws its
magnitude around the threshold (:mod:`sim.simulator.draws`), classifies the *realised*
magnitude by the simulator's own reading, and writes a label (its own kind, see
:mod:`sim.simulator.kinds`) only when that reading says it breaks the rule; otherwise it
counts as a near miss, which the engine must leave quiet. Thresholds no regulation fixes
come from the shared fixture (:mod:`sim.simulator.params`); regulatory ones from
:mod:`sim.simulator.regulation`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from sim.simulator import params, regulation
from sim.simulator.city import Org, Site
from sim.simulator.draws import factor
from sim.simulator.geo import CORE, OUTER, distance_km, nearby, scatter, text
from sim.simulator.products import FAMILIES, GASES, PACKAGED, PROHIBITED_FORM, family_of, product
from sim.simulator.units import amount, in_base
from sim.simulator.world import DAY, HOUR, Flaw, Item, Process, World

Story = Callable[[World, int], Process]
MILLI = Decimal("0.001")


def _side(w: World, n: int) -> float:
    """The first runs of a story are forced below, above and exactly at the threshold."""
    return (0.995, 1.005, 1.0)[n] if n < 3 else factor(w.rng)


def _record(w: World, kind: str, ratio: float, bad: bool, subject: str, what: str) -> None:
    w.draws.append((kind, ratio))
    if bad:
        w.label(kind, subject, what)
    else:
        w.near_miss(kind, subject)


# -- settings ------------------------------------------------------------------------------


def _gas_customer(w: World, *, outer: bool = True) -> tuple[Org, Site, str]:
    options = [a for a in w.city.gas_accounts if not outer or a.site.district in OUTER]
    acc = options[w.rng.randrange(len(options))]
    return acc.org, acc.site, acc.form


def _packaged_customer(w: World, want: Callable[[str], bool]) -> tuple[Org, Site, str]:
    options = [a for a in w.city.packaged_accounts if want(a.form) and a.site.district in OUTER]
    acc = options[w.rng.randrange(len(options))]
    return acc.org, acc.site, acc.form


def _supplier(w: World, form: str, near: Site) -> tuple[Org, Site]:
    if form in GASES:
        family = family_of(form)
        filler, _ = w.nearest(w.city.fillers, family, near.point)
        return filler, filler.sites[family]
    makers = [o for o, forms in w.city.producers if form in forms]
    maker = makers[w.rng.randrange(len(makers))]
    return maker, next(iter(maker.sites.values()))


def _fresh(w: World, form: str, near: Site, *, quantity: Decimal | None = None,
           due: str | None = None) -> tuple[Org, Site, Item]:  # fmt: skip
    """A full package of ``form`` at its supplier's site (a cylinder is filled)."""
    org, home = _supplier(w, form, near)
    if form in GASES:
        item = w.commission(org, home, form, empty=True)
        w.fill(org, item, due, quantity)
    else:
        item = w.commission(org, home, form, quantity=quantity)
    return org, home, item


def _deliver(w: World, form: str, org: Org, site: Site, flaw: Flaw | None = None,
             *, quantity: Decimal | None = None) -> Generator[int, None, Item]:  # fmt: skip
    """A fresh package of ``form`` carried from its supplier to ``site`` (no sale)."""
    supplier, home, item = _fresh(w, form, site, quantity=quantity)
    yield w.now + HOUR
    yield from w.trip([item], supplier, home, org, site, flaw)
    return item


def _new_org(w: World, family: str, seqs: list[str], *, district: str | None = None,
             activities: tuple[str, ...] = ("buy", "use", "store"),
             licensed: bool = True) -> tuple[Org, Site]:  # fmt: skip
    """A fresh end user with one site (its balance and site sum start empty)."""
    w.annexes += 1
    n = w.annexes
    district = district or w.rng.choice(OUTER)
    org = Org(f"sim-user-{n}", "end_user", district)
    w.writer.record("org", org.id, w.now, name=f"Sim user {n}", type="end_user",
                    district=district)  # fmt: skip
    w.writer.enrol(org.id, w.now)
    w.city.orgs[org.id] = org
    site = _new_site(w, org, family, district)
    if licensed:
        w.writer.licence(f"BJ-SIM-{n:05d}", org.id, "safe_use", activities, seqs, w.now)
    return org, site


def _new_site(w: World, org: Org, family: str, district: str, point: tuple[float, float] |
              None = None) -> Site:  # fmt: skip
    w.annexes += 1
    n = w.annexes
    point = point or scatter(w.rng, district)
    site = Site(f"{org.id}-annex-{n}", org.id, family, district, point)
    w.writer.record("site", site.id, w.now, org=org.id, name=f"{org.id} annex {n}",
                    address=f"{district.title()}, Beijing", district=district,
                    lat=text(point[0]), lon=text(point[1]), capacity_t="50",
                    major_hazard=False)  # fmt: skip
    w.city.sites[site.id] = site
    org.sites.setdefault(family, site)
    return site


def _seq(form: str) -> str:
    return form.split(".")[0]


def _beijing_night(w: World, after: int) -> int:
    """A moment between 00:00 and 08:00 Beijing, after ``after``."""
    day = regulation.beijing_date(after) + timedelta(days=1)
    return regulation.beijing_midnight(day) + w.rng.randint(0, 8 * HOUR - 1)


# -- trips --------------------------------------------------------------------------------


def _trip_story(kind: str, what: str, description: str) -> Story:
    """A delivery to a customer with one flaw that always breaks the rule."""

    def story(w: World, n: int) -> Process:
        org, site, form = _gas_customer(w)
        item = yield from _deliver(w, form, org, site, Flaw(what))
        w.label(kind, item.code, f"{description} ({form} to {org.id})")

    return story


def _late(w: World, n: int) -> Process:
    org, site, form = _gas_customer(w)
    f = _side(w, n)
    item = yield from _deliver(w, form, org, site, Flaw("late", f))
    _record(
        w,
        "receipt_after_deadline",
        f,
        f > 1,
        item.code,
        f"received at {f:.4f} × the transit allowance",
    )


def _gps(w: World, n: int) -> Process:
    org, site, form = _gas_customer(w)
    f = _side(w, n)
    item = yield from _deliver(w, form, org, site, Flaw("gps", f))
    _record(w, "gps_silence", f, f > 1, item.code, f"one GPS silence of {f:.4f} × the gap")


def _far(w: World, n: int) -> Process:
    org, site, form = _gas_customer(w)
    radius = float(params.get("transport.arrival_radius_km"))
    f = _side(w, n)
    f = 0.995 if f == 1.0 else f  # coordinates rounded to 1e-5° cannot sit on a radius
    goal = nearby(site.point, w.rng, radius * f)
    km = distance_km(goal, site.point)
    item = yield from _deliver(w, form, org, site, Flaw("far", point=goal))
    ratio = km / radius
    _record(
        w,
        "received_away_from_site",
        ratio,
        ratio > 1,
        item.code,
        f"received {km:.4f} km from the consignee's site",
    )


def _detour(w: World, n: int) -> Process:
    org, site, form = _gas_customer(w)
    corridor = float(params.get("shipping.corridor_m")) / 1000  # km
    f = _side(w, n)
    item = yield from _deliver(w, form, org, site, Flaw("detour", corridor * f))
    _record(
        w,
        "route_deviation",
        f,
        f > 1,
        item.code,
        f"waypoints {corridor * f:.3f} km off the planned corridor",
    )


def _stops(w: World, n: int) -> Process:
    """The track ends halfway, away from the consignee (beyond the arrival radius: a track
    ending at the gate is a delivery nobody signed for, not a lost track)."""
    radius = float(params.get("transport.arrival_radius_km"))
    far = [a for a in w.city.gas_accounts if a.site.district in OUTER and distance_km(
        _supplier(w, a.form, a.site)[1].point, a.site.point) > 4 * radius]  # fmt: skip
    acc = far[w.rng.randrange(len(far))]
    org, site, form = acc.org, acc.site, acc.form
    item = yield from _deliver(w, form, org, site, Flaw("stops"))
    w.label("gps_track_stops", item.code, "the GPS track stops halfway; nobody receives")
    w.label("shipment_never_received", item.code, "the shipment is never received")


def _sync(w: World, n: int) -> Process:
    org, site, form = _gas_customer(w)
    f = _side(w, n)
    item = yield from _deliver(w, form, org, site, Flaw("sync", f))
    _record(
        w,
        "offline_receipt_synced_late",
        f,
        f > 1,
        item.code,
        f"receive signed on time, synced {f:.4f} × the trust window later",
    )


def _wrong_receiver(w: World, n: int) -> Process:
    org, site, form = _gas_customer(w)
    item = yield from _deliver(w, form, org, site, Flaw("receiver"))
    w.label("carrier_signs_receipt", item.code, f"the carrier signed {org.id}'s receipt")
    w.label("consignee_never_receives", item.code, f"{org.id} never received it")


def _toxic_pass(w: World, n: int) -> Process:
    """R-TOX-7: 剧毒 by road with a carrier holding no pass (or, near miss, one that does)."""
    form = w.rng.choice([f for f in PACKAGED if "highly_toxic" in regulation.categories(f)]
                        or ["25.1"])  # fmt: skip
    options = [a for a in w.city.packaged_accounts if a.form == form] or [
        a for a in w.city.gas_accounts if "highly_toxic" in regulation.categories(a.form)
    ]
    acc = options[w.rng.randrange(len(options))]
    supplier, home, item = _fresh(w, acc.form, acc.site)
    yield w.now + HOUR
    bad = n % 2 == 0
    carrier = w.city.unpassed if bad else None
    yield from w.trip([item], supplier, home, acc.org, acc.site, carrier=carrier)
    if bad:
        w.label("toxic_road_without_pass", item.code, f"{acc.form} carried with no pass")
    else:
        w.near_miss("toxic_road_without_pass", item.code)


# -- after a delivery ---------------------------------------------------------------------


def _delivered(w: World, strict: bool | None = None) -> Generator[int, None, tuple[Item, Org]]:
    """A package delivered to a customer (strict: a 剧毒/易制爆 one), and the customer."""
    if strict:
        org, site, form = _packaged_customer(w, regulation.is_strict)
    elif strict is False:
        org, site, form = _packaged_customer(w, lambda f: not regulation.is_strict(f)
                                             and product(f).unit == "L")  # fmt: skip
    else:
        org, site, form = _gas_customer(w)
    item = yield from _deliver(w, form, org, site)
    yield w.now + int(w.rng.uniform(2, 20) * HOUR)
    return item, org


def _counted(item: Item, ratio: Decimal) -> Decimal:
    """kg of ``ratio`` × the book, rounded down to 0.001 of the base unit (realised)."""
    base = (in_base(item.product, item.kg) * ratio).quantize(MILLI, rounding=ROUND_DOWN)
    return amount(item.product, base)


def _growth(w: World, n: int) -> Process:
    item, org = yield from _delivered(w, strict=False)
    tol = params.get("mass.growth_tolerance")
    f = Decimal(str(round(_side(w, n), 5)))
    counted = _counted(item, 1 + tol * f)
    ratio = float((counted - item.kg) / item.kg / tol)
    w.count(org, item, counted)
    _record(
        w,
        "count_above_book",
        ratio,
        ratio > 1,
        item.code,
        f"counted {ratio:.4f} × the growth tolerance above the book",
    )


def _shortfall(w: World, n: int) -> Process:
    item, org = yield from _delivered(w, strict=False)
    tol = params.get("mass.count_tolerance")
    f = Decimal(str(round(_side(w, n), 5)))
    counted = _counted(item, 1 - tol * f)
    ratio = float((item.kg - counted) / item.kg / tol)
    w.count(org, item, counted)
    _record(
        w,
        "count_short",
        ratio,
        ratio > 1,
        item.code,
        f"counted {ratio:.4f} × the count tolerance below the book",
    )


def _toxic_count(w: World, n: int) -> Process:
    """R-TOX-6 zero tolerance: one gram short (or, near miss, exact in another unit)."""
    item, org = yield from _delivered(w, strict=True)
    bad = n % 2 == 0
    counted = item.kg - MILLI if bad else item.kg
    w.count(org, item, counted)
    if bad:
        w.label("toxic_loss_at_count", item.code, f"{item.form} counted 1 g short")
    else:
        w.near_miss("toxic_loss_at_count", item.code)


def _toxic_use(w: World, n: int) -> Process:
    item, org = yield from _delivered(w, strict=True)
    used = _counted(item, Decimal("0.4"))
    w.use(org, item, used)
    yield w.now + HOUR
    bad = n % 2 == 0
    w.count(org, item, item.kg - MILLI if bad else item.kg)
    if bad:
        w.label("toxic_loss_at_use", item.code, f"{item.form}: 1 g gone beyond the declared use")
    else:
        w.near_miss("toxic_loss_at_use", item.code)


def _toxic_receive(w: World, n: int) -> Process:
    org, site, form = _packaged_customer(w, regulation.is_strict)
    bad = n % 2 == 0
    item = yield from _deliver(w, form, org, site, Flaw("short", 0.001 if bad else 0.0))
    if bad:
        w.label("toxic_loss_at_receive", item.code, f"{form} received 1 g short of shipped")
    else:
        w.near_miss("toxic_loss_at_receive", item.code)


def _double_holder(w: World, n: int) -> Process:
    """The filler's handheld syncs a count it signed before the cylinder left (offline)."""
    item, _ = yield from _delivered(w)
    filler = w.city.orgs[item.origin]
    w.writer.event(filler.id, "stock_count", [item.code], {
        "count_id": f"SC-OFF-{item.code}", "quantity": w.q(item, item.kg),
    }, item.shipped_at - 600)  # fmt: skip
    w.label(
        "count_by_former_holder",
        item.code,
        f"{filler.id}'s offline count, signed before it shipped, synced after delivery",
    )


def _travel(w: World, n: int) -> Process:
    """A cloned label: the same code scanned ``d`` km away, ``d / (f × max speed)`` later."""
    item, org = yield from _delivered(w)
    assert item.site is not None
    w.count(org, item)
    max_speed = float(params.get("clone.max_speed_kmh"))
    f = _side(w, n)
    f = 0.995 if f == 1.0 else f  # whole seconds cannot sit exactly on a speed
    far = nearby(item.site.point, w.rng, w.rng.uniform(20, 60))
    km = distance_km(item.site.point, far)
    seconds = max(1, round(km / (max_speed * f) * HOUR))
    ratio = km / (seconds / HOUR) / max_speed
    yield w.now + seconds
    w.writer.event(org.id, "inspect", [item.code], {
        "outcome": "observation",
        "inspector": w.writer.disclosure("person", "roadside inspector").commitment,
    }, w.now, geo=far)  # fmt: skip
    _record(
        w,
        "cloned_label_impossible_trip",
        ratio,
        ratio > 1,
        item.code,
        f"scanned {km:.1f} km away at {ratio:.4f} × the maximum speed",
    )


def _early_use(w: World, n: int) -> Process:
    org, site, form = _gas_customer(w)
    item = yield from _deliver(w, form, org, site, Flaw("early-use"))
    w.label("used_before_received", item.code, f"{org.id} used it before receiving it")


def _unit(w: World, n: int) -> Process:
    """A use written in ``piece`` (no mass) on a liquid drum; near miss: in m³."""
    item, org = yield from _delivered(w, strict=False)
    bad = n % 2 == 0
    if bad and item.site is not None:
        refused = w.writer.attempt(org.id, "use", item.code,
                                   {"quantity": {"value": "1", "unit": "piece"}}, w.now,
                                   item.site.id, item.site.district)  # fmt: skip
        w.label("unit_not_convertible", item.code, f"{item.form} used in pieces",
                refused=refused)  # fmt: skip
    else:
        w.use(org, item, _counted(item, Decimal("0.25")))
        w.near_miss("unit_not_convertible", item.code)


def _unshipped(w: World, n: int) -> Process:
    """The holder scans its item at another of its sites with no shipment (or, near miss,
    after shipping it there under a waybill)."""
    item, org = yield from _delivered(w)
    assert item.site is not None
    home = item.site
    other = _new_site(w, org, home.family, home.district, nearby(home.point, w.rng, 12))
    yield w.now + DAY
    if n % 2 == 0:
        w.place(item, org.id, other)
        w.count(org, item)
        w.label("item_at_unshipped_site", item.code, f"counted at {other.id} with no shipment")
    else:
        yield from w.trip([item], org, home, org, other)
        w.count(org, item)
        w.near_miss("item_at_unshipped_site", item.code)


# -- lifecycle, clones, disposal --------------------------------------------------------------


def _to_disposer(kind: str) -> Story:
    def story(w: World, n: int) -> Process:
        _, site, form = _gas_customer(w)
        disposer, bin_ = w.nearest(w.city.disposers, family_of(form), site.point)
        supplier, home, item = _fresh(w, form, bin_)
        yield w.now + HOUR
        yield from w.trip([item], supplier, home, disposer, bin_)
        yield w.now + HOUR
        destroy = kind == "scanned_after_destruction"
        w.dispose(disposer, item, destroy=destroy)
        yield w.now + DAY
        if destroy:
            w.inspect(disposer, item, "observation")
            w.label(kind, item.code, "destroyed cylinder scanned again")
        else:
            w.count(disposer, item)
            w.label(kind, item.code, "stock count on a disposed item")

    return story


def _waste(kind: str) -> Story:
    """Disposal gone wrong: a non-disposer disposes, no manifest, or a reused manifest."""

    def story(w: World, n: int) -> Process:
        item, org = yield from _delivered(w, strict=False)
        assert item.site is not None
        if kind == "disposed_to_non_disposer":
            hub, _ = w.nearest(w.city.hubs, family_of(item.form), item.site.point)
            yield w.now + HOUR
            w.dispose(org, item, disposer=hub.id)
            w.label(kind, item.code, f"handed for disposal to {hub.id}, which holds no "
                    "hazardous-waste licence")  # fmt: skip
            return
        disposer, bin_ = w.nearest(w.city.disposers, family_of(item.form), item.site.point)
        yield from w.trip([item], org, item.site, disposer, bin_)
        yield w.now + HOUR
        if kind == "disposal_without_manifest":
            w.dispose(disposer, item, manifest=None)
            w.label(kind, item.code, "disposed with no transfer manifest")
        else:
            reused = w.manifests[-1] if w.manifests else "HW000000001"
            w.dispose(disposer, item, manifest=reused)
            w.label(kind, item.code, f"disposed under manifest {reused}, already used")

    return story


def _producer(w: World, want: Callable[[str], bool]) -> tuple[Org, Site, str]:
    options = [(o, f) for o, forms in w.city.producers for f in forms
               if want(f) and f != PROHIBITED_FORM]  # fmt: skip
    org, form = options[w.rng.randrange(len(options))]
    return org, next(iter(org.sites.values())), form


def _second_commission(w: World, n: int) -> Process:
    org, plant, form = _producer(w, lambda f: True)
    item = w.commission(org, plant, form)
    yield w.now + 2 * HOUR
    w.writer.event(org.id, "commission", [item.code], {
        "chemical": form, "quantity": w.q(item, item.kg), "lot": "DUP",
        "packaging": item.packaging,
    }, w.now, site=plant.id)  # fmt: skip
    w.label("code_commissioned_twice", item.code, f"{org.id} commissioned a code twice")


def unlicensed_options(w: World) -> list[tuple[Org, Site, str]]:
    """(producer, its plant, a packaged form of the plant's family its licence does not
    cover): a producer licensed for its whole family has none."""
    options: list[tuple[Org, Site, str]] = []
    for org, forms in w.city.producers:
        if PROHIBITED_FORM in forms:
            continue
        plant = next(iter(org.sites.values()))
        licensed = {_seq(f) for o, held in w.city.producers if o is org for f in held}
        options += [(org, plant, f) for f in FAMILIES[plant.family]
                    if f in PACKAGED and _seq(f) not in licensed
                    and f != PROHIBITED_FORM]  # fmt: skip
    return options


def _unlicensed(w: World, n: int) -> Process:
    options = unlicensed_options(w)
    org, plant, form = options[w.rng.randrange(len(options))]
    item = w.commission(org, plant, form)
    w.label("produced_without_licence", item.code, f"{org.id} produced {form} outside its licence")
    yield w.now


def _prohibited(w: World, n: int) -> Process:
    org = next(o for o, forms in w.city.producers if PROHIBITED_FORM in forms)
    item = w.commission(org, next(iter(org.sites.values())), PROHIBITED_FORM)
    w.label("prohibited_chemical", item.code, "acrylonitrile produced (simulation-only ban)")
    yield w.now


def _two_person(w: World, n: int) -> Process:
    forms = [f for f in regulation.forms() if "highly_toxic" in regulation.categories(f)]
    form = forms[n % len(forms)]
    _, site, _ = _gas_customer(w)
    org, _, item = _fresh(w, form, site)
    bad = n % 2 == 0
    w.store(org, [item], "store_in", two=not bad)
    if bad:
        w.label("toxic_stored_by_one_keeper", item.code, f"{form} stored in by one signer")
    else:
        w.near_miss("toxic_stored_by_one_keeper", item.code)
    yield w.now


def _overdue(w: World, n: int) -> Process:
    """A fill in the Beijing night (00:00–08:00, the UTC date is the day before), with the
    inspection due the Beijing day before (breach) or that same Beijing day (on time)."""
    _, site, form = _gas_customer(w)
    at = _beijing_night(w, w.now)
    yield at
    today = regulation.beijing_date(at)
    bad = n % 2 == 0
    due = (today - timedelta(days=1) if bad else today).isoformat()
    _, _, item = _fresh(w, form, site, due=due)
    if bad:
        w.label(
            "cylinder_filled_past_inspection",
            item.code,
            f"filled {regulation.utc_text(at)} (Beijing {today}) with inspection due {due}",
        )
    else:
        w.near_miss("cylinder_filled_past_inspection", item.code)


def _failed_fill(w: World, n: int) -> Process:
    _, site, form = _gas_customer(w)
    org, home = _supplier(w, form, site)
    item = w.commission(org, home, form, empty=True)
    yield w.now + HOUR
    w.inspect(org, item, "fail")
    yield w.now + HOUR
    bad = n % 2 == 0
    if not bad:  # near miss: re-tested and passed before the fill
        w.inspect(org, item, "pass")
        yield w.now + HOUR
    w.fill(org, item)
    if bad:
        w.label("cylinder_filled_after_failed_inspection", item.code, "filled after a failed test")
    else:
        w.near_miss("cylinder_filled_after_failed_inspection", item.code)


def _imbalance(w: World, n: int) -> Process:
    org, plant, form = _producer(w, lambda f: product(f).unit == "L" and f != PROHIBITED_FORM)
    drum = w.commission(org, plant, form)
    yield w.now + HOUR
    tol = params.get("mass.transform_tolerance")
    f = Decimal(str(round(_side(w, n), 5)))
    sign = 1 if n % 4 < 2 else -1  # both directions: mass gained and mass lost
    taken = amount(drum.product, Decimal(20))
    out_base = (Decimal(20) * (1 + sign * tol * f)).quantize(MILLI, rounding=ROUND_DOWN)
    per = (out_base / 4).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
    total = amount(drum.product, per * 4)
    codes = [w.writer.code(org.id, form, "bottle", w.now) for _ in range(4)]
    w.writer.event(org.id, "transform", [(drum.code, "input"), *[(c, "output") for c in codes]], {
        "kind": "decant",
        "inputs": [{"code": drum.code, "quantity": w.q(drum, taken)}],
        "outputs": [{"code": c, "quantity": w.q(drum, amount(drum.product, per))} for c in codes],
    }, w.now, site=plant.id)  # fmt: skip
    w.items += 4
    drum.kg -= taken
    ratio = float(abs(total - taken) / taken / tol)
    _record(
        w,
        "decant_mass_mismatch",
        ratio,
        ratio > 1,
        drum.code,
        f"decant out/in off by {ratio:.4f} × the transform tolerance",
    )


# -- permits and licences -----------------------------------------------------------------


def _sale(kind: str) -> Story:
    """Controlled sales gone wrong: no permit, an individual, no precursor filing."""

    def story(w: World, n: int) -> Process:
        want: Callable[[str], bool]
        if kind == "sold_to_individual":
            want = regulation.is_strict
        elif kind == "precursor_bought_unfiled":

            def precursor(f: str) -> bool:
                cats = regulation.categories(f)
                return bool({"drug_precursor_cat2", "drug_precursor_cat3"} & cats) and not (
                    cats & regulation.STRICT
                )

            want = precursor
        else:

            def explosive(f: str) -> bool:
                return regulation.is_strict(f) and "highly_toxic" not in regulation.categories(f)

            want = explosive
        maker, plant, form = _producer(w, want)
        item = w.commission(maker, plant, form)
        yield w.now + HOUR
        if kind == "sold_to_individual":
            buyer = next(a.org for a in w.city.lpg_accounts)
            w.sell(maker, buyer, [item], individual=True)
            w.label(kind, item.code, f"{form} sold to {buyer.id}")
            return
        rogue = (
            w.city.rogues[plant.family]
            if plant.family in w.city.rogues
            else next(iter(w.city.rogues.values()))
        )
        target = next(iter(rogue.sites.values()))
        w.sell(maker, rogue, [item])
        yield from w.trip([item], maker, plant, rogue, target)
        w.buy(rogue, maker, [item])
        w.label(kind, item.code, f"{form} sold by {maker.id} to {rogue.id}")
        # the rogue holds it unlicensed too (a holder of a regulated category)
        w.label("unlicensed_holder_receives", item.code, f"{rogue.id} holds {form} unlicensed")

    return story


def _filing(w: World, n: int) -> Process:
    """R-TOX-4: the buyer files (its ``buy`` with the police number) around day 5's 24:00."""
    org, site, form = _packaged_customer(
        w, lambda f: regulation.is_strict(f) and "highly_toxic" not in regulation.categories(f)
    )
    maker, plant = _supplier(w, form, site)
    item = w.commission(maker, plant, form)
    w.sell(maker, org, [item])
    sold = w.now
    deadline = regulation.filing_deadline(sold)
    offsets = (-60, 0, 1, 60, -DAY, DAY)
    delta = offsets[n % len(offsets)]
    yield w.now + HOUR
    yield from w.trip([item], maker, plant, org, site)
    yield deadline + delta
    w.buy(org, maker, [item])
    bad = delta > 0
    ratio = (deadline + delta - sold) / (deadline - sold)
    _record(
        w,
        "toxic_purchase_filed_late",
        ratio,
        bad,
        item.code,
        f"buyer filed {delta:+d} s from the deadline {regulation.utc_text(deadline)}",
    )


def _holder(kind: str) -> Story:
    """R-TOX-1 / R-PRE-1: a regulated chemical moved (no sale) to an unlicensed holder."""

    def story(w: World, n: int) -> Process:
        def want(f: str) -> bool:
            return (
                regulation.needs_holder_licence(f)
                and "highly_toxic" not in (regulation.categories(f))
                and f in PACKAGED
                and f != PROHIBITED_FORM
            )

        options = [f for f in PACKAGED if want(f)]
        form = options[w.rng.randrange(len(options))]
        bad = n % 2 == 0
        if kind == "unlicensed_holder_receives":
            org, site = _new_org(w, family_of(form), [_seq(form)], licensed=not bad)
        else:  # licensed to buy and store, not to use (near miss: to use as well)
            acts = ("buy", "store") if bad else ("buy", "use", "store")
            org, site = _new_org(w, family_of(form), [_seq(form)], activities=acts)
        item = yield from _deliver(w, form, org, site)
        if kind == "unlicensed_holder_uses":
            yield w.now + HOUR
            w.use(org, item, _counted(item, Decimal("0.3")))
        if bad:
            w.label(kind, item.code, f"{org.id} holds {form} with no licence for it")
        else:
            w.near_miss(kind, item.code)

    return story


# -- storage and city -------------------------------------------------------------------------


def _hazard(w: World, n: int) -> Process:
    """GB 18218: a fresh site filled to S = f (tanks of chlorine, Q = 5 t)."""
    form = "1.1"
    q = regulation.forms()[form].threshold_t
    assert q is not None
    org, site = _new_org(w, "oxidizing", [_seq(form)])
    f = Decimal(str(round(_side(w, n), 5)))
    total = (q * 1000 * f).quantize(MILLI, rounding=ROUND_DOWN)
    yield from _deliver(w, form, org, site, quantity=total)
    s = regulation.hazard_sum({form: total})
    _record(
        w,
        "major_hazard_unit",
        float(s),
        s >= regulation.MHI_LIMIT,
        site.id,
        f"S = {s} at an unregistered site",
    )


def _hazard_unit(w: World, n: int) -> Process:
    """Two sites of one enterprise at 500 m × f, each S = 0.6: one unit (S = 1.2) iff < 500 m."""
    form = "1.1"
    q = regulation.forms()[form].threshold_t
    assert q is not None
    org, first = _new_org(w, "oxidizing", [_seq(form)])
    f = _side(w, n)
    f = 0.995 if f == 1.0 else f
    second = _new_site(
        w,
        org,
        "oxidizing",
        first.district,
        nearby(first.point, w.rng, regulation.MHI_UNIT_M * f / 1000),
    )
    metres = regulation.distance_m(first.point, second.point)
    each = (q * 1000 * Decimal("0.6")).quantize(MILLI)
    for target in (first, second):
        yield from _deliver(w, form, org, target, quantity=each)
    ratio = metres / regulation.MHI_UNIT_M
    _record(
        w,
        "major_hazard_across_sites",
        ratio,
        ratio < 1,
        f"{first.id}|{second.id}",
        f"two sites {metres:.1f} m apart, S = 0.6 each",
    )


def _clash(kind: str, first: str, second: tuple[str, ...], neutral: str) -> Story:
    """Two forms the §2.8 reading keeps apart, in one fresh store (near miss: a neutral one)."""

    def story(w: World, n: int) -> Process:
        other = second[n % len(second)]
        bad = n % 2 == 0
        arriving = other if bad else neutral
        assert regulation.may_share_store(first, arriving) != bad
        org, site = _new_org(w, family_of(first), sorted({_seq(first), _seq(arriving)}))
        item = yield from _deliver(w, first, org, site)
        yield w.now + DAY
        item = yield from _deliver(w, arriving, org, site)
        if bad:
            w.label(kind, item.code, f"{arriving} put beside {first}")
        else:
            w.near_miss(kind, item.code)

    return story


def _restricted(w: World, n: int) -> Process:
    """R-BJ-1: a package of 25 kg × f of a non-exempt liquid in 东城/西城."""
    form = w.rng.choice([f for f in PACKAGED if product(f).unit == "L"
                         and not regulation.is_strict(f) and f != PROHIBITED_FORM])  # fmt: skip
    limit = params.get("city.bulk_limit_kg")
    f = Decimal(str(round(_side(w, n), 5)))
    made = product(form)
    base = (limit * f / made.per_unit_kg).quantize(MILLI, rounding=ROUND_DOWN)
    kg = amount(made, base)
    if f == 1 and kg != limit:  # exactly the limit needs kg units
        kg = limit
    org, site = _new_org(w, family_of(form), [_seq(form)], district=w.rng.choice(CORE))
    item = yield from _deliver(w, form, org, site, quantity=kg)
    ratio = float(kg / limit)
    _record(
        w,
        "bulk_in_capital_core",
        ratio,
        kg > limit,
        item.code,
        f"{kg} kg package of {form} in {site.district}",
    )


def _dormant(w: World, n: int) -> Process:
    item, org = yield from _delivered(w)
    assert item.site is not None
    filler, _ = _supplier(w, item.form, item.site)
    w.give_back(org, [item], filler)
    w.label("return_never_collected", item.code, "returned, never collected")
    w.label("return_never_received", item.code, "a return never received")


def _org_balance(kind: str) -> Story:
    """An organisation uses more than it ever received: by ``T × f`` (ordinary, T = max(min
    kg, tolerance × in)) or by one gram (剧毒/易制爆, zero tolerance; near miss: exactly)."""

    def story(w: World, n: int) -> Process:
        strict = kind == "toxic_org_imbalance"
        options = [f for f in PACKAGED if regulation.is_strict(f) == strict and f != PROHIBITED_FORM
                   and "highly_toxic" not in regulation.categories(f)]  # fmt: skip
        form = options[w.rng.randrange(len(options))]
        org, site = _new_org(w, family_of(form), [_seq(form)])
        item = yield from _deliver(w, form, org, site)
        yield w.now + HOUR
        if strict:
            over = MILLI if n % 2 == 0 else Decimal(0)
            ratio = 1.0 + float(over)
        else:
            limit = max(params.get("mass.org_min_kg"), params.get("mass.org_tolerance") * item.kg)
            f = Decimal(str(round(_side(w, n), 5)))
            over = amount(item.product, (limit * f / item.product.per_unit_kg).quantize(MILLI))
            ratio = float(over / limit)
        used = item.kg + over
        w.use(org, item, used)
        bad = over > 0 if strict else ratio > 1
        _record(w, kind, ratio, bad, org.id, f"{org.id} used {over} kg more than it received")

    return story


def _unissued(kind: str) -> Story:
    def story(w: World, n: int) -> Process:
        org = w.city.hubs[n % len(w.city.hubs)]
        site = next(iter(org.sites.values()))
        form = w.rng.choice([f for f in PACKAGED if f in FAMILIES.get(site.family, ())])
        if kind == "forged_label_unissued":
            code = w.writer.unissued_code()
        else:
            other = w.city.fillers[n % len(w.city.fillers)]
            code = w.writer.code(other.id, form, product(form).packaging, w.now)
        w.writer.attempt(org.id, "commission", code, {
            "chemical": form, "quantity": {"value": "10", "unit": "kg"}, "lot": "X1",
            "packaging": product(form).packaging,
        }, w.now, site.id, site.district)  # fmt: skip
        w.label(kind, code, f"{org.id} presented a forged label")
        yield w.now

    return story


def _revocation(w: World, n: int) -> Process:
    """A device key revoked from a moment before events it signed (or, near miss, after)."""
    item, org = yield from _delivered(w)
    device = w.writer.second_device(org.id, f"spare-{n}")
    signed = w.now
    w.writer.event(org.id, "stock_count", [item.code], {
        "count_id": f"SC-SP-{n}", "quantity": w.q(item, item.kg),
    }, signed, site=item.site.id if item.site else None, device=device)  # fmt: skip
    yield w.now + DAY
    bad = n % 2 == 0
    effective = signed - HOUR if bad else w.now
    w.writer.revoke(org.id, device, effective, w.now)
    if bad:
        w.label("backdated_key_revocation", org.id, "a key revoked from before events it signed")
    else:
        w.near_miss("backdated_key_revocation", org.id)


STORIES: dict[str, Story] = {
    "used_before_received": _early_use,
    "scanned_after_disposal": _to_disposer("scanned_after_disposal"),
    "code_commissioned_twice": _second_commission,
    "count_above_book": _growth,
    "receipt_after_deadline": _late,
    "carrier_signs_receipt": _wrong_receiver,
    "count_by_former_holder": _double_holder,
    "offline_receipt_synced_late": _sync,
    "item_at_unshipped_site": _unshipped,
    "cloned_label_impossible_trip": _travel,
    "scanned_after_destruction": _to_disposer("scanned_after_destruction"),
    "forged_label_unissued": _unissued("forged_label_unissued"),
    "label_of_another_org": _unissued("label_of_another_org"),
    "decant_mass_mismatch": _imbalance,
    "count_short": _shortfall,
    "toxic_loss_at_count": _toxic_count,
    "toxic_loss_at_use": _toxic_use,
    "toxic_loss_at_receive": _toxic_receive,
    "org_overdraws": _org_balance("org_overdraws"),
    "toxic_org_imbalance": _org_balance("toxic_org_imbalance"),
    "unit_not_convertible": _unit,
    "produced_without_licence": _unlicensed,
    "unlicensed_holder_receives": _holder("unlicensed_holder_receives"),
    "unlicensed_holder_uses": _holder("unlicensed_holder_uses"),
    "disposed_to_non_disposer": _waste("disposed_to_non_disposer"),
    "disposal_without_manifest": _waste("disposal_without_manifest"),
    "disposal_manifest_reused": _waste("disposal_manifest_reused"),
    "toxic_sold_without_permit": _sale("toxic_sold_without_permit"),
    "toxic_purchase_filed_late": _filing,
    "sold_to_individual": _sale("sold_to_individual"),
    "precursor_bought_unfiled": _sale("precursor_bought_unfiled"),
    "shipped_without_escort": _trip_story("shipped_without_escort", "documents",
                                          "shipped without an escort"),
    "vehicle_class_not_permitted": _trip_story("vehicle_class_not_permitted", "vehicle",
                                               "vehicle not permitted for the goods' class"),
    "gps_silence": _gps,
    "received_away_from_site": _far,
    "route_deviation": _detour,
    "gps_track_stops": _stops,
    "toxic_road_without_pass": _toxic_pass,
    "major_hazard_unit": _hazard,
    "major_hazard_across_sites": _hazard_unit,
    "chlorine_beside_ammonia": _clash("chlorine_beside_ammonia", "1.1", ("2.1",), "16.1"),
    "oxidizer_beside_flammable": _clash("oxidizer_beside_flammable", "15.1",
                                        ("9.1", "4.1", "13.1", "11.1", "23.1"), "17.1"),
    "acid_beside_cyanide": _clash("acid_beside_cyanide", "25.1", ("32.1", "31.1"), "25.1"),
    "toxic_stored_by_one_keeper": _two_person,
    "cylinder_filled_past_inspection": _overdue,
    "cylinder_filled_after_failed_inspection": _failed_fill,
    "prohibited_chemical": _prohibited,
    "bulk_in_capital_core": _restricted,
    "return_never_collected": _dormant,
    "backdated_key_revocation": _revocation,
}  # fmt: skip
"""One story per kind that starts a story (some stories also label a second kind)."""
EARLY: dict[str, int] = {
    "return_never_collected": 17 * DAY, "toxic_purchase_filed_late": 10 * DAY,
    "offline_receipt_synced_late": 6 * DAY, "gps_track_stops": 4 * DAY,
}  # fmt: skip
"""How long before the end a deadline story must start."""


def schedule(w: World, total: int) -> None:
    """Spawn ``total`` stories (at least three per kind), round-robin over the kinds."""
    kinds = list(STORIES)
    boundary = (w.start // w.window + 1) * w.window
    runs: dict[str, int] = {}
    for n in range(max(total, 3 * len(kinds))):
        kind = kinds[n % len(kinds)]
        latest = w.end - 6 * DAY
        if kind in ("org_overdraws", "toxic_org_imbalance"):
            latest = boundary - 2 * DAY if boundary + DAY < w.end else latest
        elif kind in EARLY:
            latest = w.end - EARLY[kind]
        earliest = w.start + DAY
        at = w.rng.randint(earliest, max(earliest, latest))
        run = runs.get(kind, 0)
        runs[kind] = run + 1
        w.spawn(STORIES[kind](w, run), at)
