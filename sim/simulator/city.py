"""The simulated city: organisations, sites, vehicles, crew, licences, permits and filings.

Everything is registered through the writer (so logged and signed like real registry
entries) before the first event. Sites hold one storage family each; producers, fillers,
hubs and disposers are registered major hazard sources, the others keep Σq/Q small.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sim.simulator import regulation
from sim.simulator.geo import CORE, OUTER, Point, nearby, scatter, text
from sim.simulator.products import FAMILIES, GASES, PACKAGED, PROHIBITED_FORM
from sim.simulator.writer import LedgerWriter

PRECURSORS = tuple(sorted(
    c.seq for c in regulation.chemicals().values()
    if any(cat.startswith("drug_precursor") for cat in c.categories)
))  # fmt: skip
TOXIC = tuple(sorted(
    c.seq for c in regulation.chemicals().values() if c.categories & regulation.STRICT
))  # fmt: skip
"""剧毒 and 易制爆: sales and purchases filed with the police (R-TOX-4)."""
TOXIC_ROAD = tuple(sorted(
    c.seq for c in regulation.chemicals().values() if "highly_toxic" in c.categories
))  # fmt: skip
"""剧毒: road transport needs a 剧毒化学品道路运输通行证 (R-TOX-7)."""
VEHICLE_CLASSES = {
    "gas": ["2"], "tanker": ["3", "8"], "general": ["3", "4.1", "5.1", "6.1", "8", "9"],
    "toxic": ["2.3", "6.1"], "explosive": ["1", "5.1"],
}  # fmt: skip


@dataclass
class Site:
    id: str
    org: str
    family: str
    district: str
    point: Point


@dataclass
class Org:
    id: str
    type: str
    district: str
    sites: dict[str, Site] = field(default_factory=dict)
    """By family."""


@dataclass
class Carrier:
    org: Org
    vehicles: list[tuple[str, list[str]]]
    drivers: list[str]
    escorts: list[str]


@dataclass
class Account:
    """A customer site's standing demand for one form."""

    org: Org
    site: Site
    form: str
    count: int


@dataclass
class City:
    fillers: list[Org] = field(default_factory=list)
    producers: list[tuple[Org, tuple[str, ...]]] = field(default_factory=list)
    hubs: list[Org] = field(default_factory=list)
    distributors: list[Org] = field(default_factory=list)
    disposers: list[Org] = field(default_factory=list)
    carriers: list[Carrier] = field(default_factory=list)
    gas_accounts: list[Account] = field(default_factory=list)
    lpg_accounts: list[Account] = field(default_factory=list)
    packaged_accounts: list[Account] = field(default_factory=list)
    rogues: dict[str, Org] = field(default_factory=dict)
    """Buyers holding no permits or filings (used only by injected anomalies)."""
    orgs: dict[str, Org] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    covered: set[str] = field(default_factory=set)
    """Forms some account already stands for (every form gets at least one)."""
    unpassed: Carrier | None = None
    """A carrier with no 剧毒 road transport pass (used only by injected anomalies)."""


PROFILES: dict[str, tuple[str, list[tuple[str, tuple[str, ...]]], bool]] = {
    # profile: (org type, [(family, forms)], may sit in the capital core)
    "hospital": ("end_user", [("oxidizing", ("15.1", "16.1", "17.1", "15.2")),
                              ("flammable", ("8.1",))], True),
    "water-plant": ("end_user", [("oxidizing", ("1.1",))], False),
    "ice-rink": ("end_user", [("flammable", ("2.1",))], True),
    "factory": ("end_user", [("flammable", ("9.1", "4.1", "18.1", "16.1", "6.1", "10.1", "33.1",
                                            "5.1", "12.1", "3.1", "19.1", "20.1", "11.1",
                                            "14.1", "22.1"))], False),
    "chem-works": ("end_user", [("oxidizing", ("15.1", "27.1", "27.2", "27.3", "31.1", "31.2",
                                               "32.1", "17.1", "26.1", "26.3", "28.1", "28.3",
                                               "29.1", "32.2"))], False),
    "cryo-user": ("end_user", [("flammable", ("4.2", "11.2", "14.2", "16.2")),
                               ("oxidizing", ("15.2", "17.2"))], False),
    "quarry": ("end_user", [("oxidizing", ("28.2", "28.3"))], False),
    "fab": ("end_user", [("toxic-24", ("24.1",)), ("flammable", ("23.1", "4.1", "21.1", "22.1"))],
            False),
    "plating": ("end_user", [("toxic-25", ("25.1",)), ("oxidizing", ("17.1", "32.1"))], False),
    "school-lab": ("laboratory", [("flammable", ("33.1", "35.1", "34.1", "10.1", "6.1")),
                                  ("oxidizing", ("27.2", "30.1", "31.1", "32.1", "26.2"))], True),
}  # fmt: skip
PROFILE_WEIGHTS = {"hospital": 3, "water-plant": 1, "ice-rink": 1, "factory": 4,
                   "chem-works": 2, "cryo-user": 1, "quarry": 1, "fab": 1, "plating": 1,
                   "school-lab": 5}  # fmt: skip
T_SETUP = "2026-01-01T00:00:00Z"


class Builder:
    def __init__(self, writer: LedgerWriter, rng: random.Random, at: int) -> None:
        self.w, self.rng, self.at, self.city = writer, rng, at, City()

    def org(self, org_id: str, kind: str, district: str, name: str) -> Org:
        self.w.record("org", org_id, self.at, name=name, type=kind, district=district)
        self.w.enrol(org_id, self.at)
        made = Org(org_id, kind, district)
        self.city.orgs[org_id] = made
        return made

    def site(self, org: Org, family: str, point: Point, *, major: bool, district: str = "",
             suffix: str = "") -> Site:  # fmt: skip
        district = district or org.district
        site_id = f"{org.id}-{family}{suffix}"
        self.w.record("site", site_id, self.at, org=org.id, name=f"{org.id} {family} store",
                      address=f"{district.title()}, Beijing", district=district,
                      lat=text(point[0]), lon=text(point[1]),
                      capacity_t="5000" if major else "20", major_hazard=major)  # fmt: skip
        made = Site(site_id, org.id, family, district, point)
        org.sites.setdefault(family, made)
        self.city.sites[site_id] = made
        return made

    def sited_org(self, org_id: str, kind: str, district: str, families: list[str],
                  *, major: bool) -> Org:  # fmt: skip
        made = self.org(org_id, kind, district, org_id.replace("-", " ").title())
        home = scatter(self.rng, district)
        for n, family in enumerate(families):
            self.site(made, family, nearby(home, self.rng, 0.05 * n) if n else home, major=major)
        return made

    def licence(self, org: Org, kind: str, activities: list[str], chemicals: list[str]) -> None:
        number = f"BJ-{kind[:3].upper()}-{len(self.city.orgs):05d}"
        self.w.licence(number, org.id, kind, activities, chemicals, self.at)

    def permit(self, org: Org, kind: str, chemicals: list[str]) -> None:
        self.w.record("permit", f"{kind[:4]}-{org.id}"[:64], self.at, kind=kind,
                      number=f"GA-{kind[:2].upper()}-{len(self.city.orgs):05d}", org=org.id,
                      chemicals=chemicals, valid_from=T_SETUP,
                      valid_until="2027-01-01T00:00:00Z")  # fmt: skip


def build(writer: LedgerWriter, rng: random.Random, at: int, items: int) -> City:
    """Register a city sized for about ``items`` items."""
    b = Builder(writer, rng, at)
    city = b.city
    scale = max(1, items // 2000)
    gas_families = ["flammable", "oxidizing", "toxic-24"]
    for n, district in enumerate(("daxing", "fangshan", "changping", "shunyi", "tongzhou",
                                  "fengtai")[: 2 + min(4, scale)]):  # fmt: skip
        filler = b.sited_org(f"gas-filler-{n + 1}", "filler", district, gas_families, major=True)
        b.licence(filler, "production", ["produce", "fill", "sell", "store"], ["all"])
        city.fillers.append(filler)
    plants = [
        ("yanshan-petrochem", "fangshan", "flammable",
         ("5.1", "6.1", "10.1", "12.1", "33.1", "35.1", "34.1", PROHIBITED_FORM)),
        ("yanshan-refinery", "fangshan", "flammable", ("3.1", "4.2", "11.2", "14.2", "16.2")),
        ("jingxi-chemical", "daxing", "oxidizing",
         ("27.1", "27.2", "27.3", "28.1", "28.2", "28.3", "29.1", "30.1", "26.1", "26.2", "26.3",
          "31.1", "31.2", "32.1", "15.2", "17.2")),
        ("huabei-fine-chem", "changping", "flammable", ("33.1", "6.1", "35.1")),
        ("beijing-cyanide-works", "fangshan", "toxic-25", ("25.1",)),
    ]  # fmt: skip
    for org_id, district, family, forms in plants:
        producer = b.sited_org(org_id, "producer", district, [family], major=True)
        seqs = sorted({f.split(".")[0] for f in forms})
        b.licence(producer, "production", ["produce", "sell", "store"], seqs)
        city.producers.append((producer, forms))
    hub_families = ["flammable", "oxidizing", "toxic-25"]
    for n, (district, kind) in enumerate((("tongzhou", "warehouse"), ("fengtai", "trader"),
                                          ("changping", "warehouse"), ("daxing", "trader"))
                                         [: 2 + min(2, scale)]):  # fmt: skip
        hub = b.sited_org(f"hub-{n + 1}", kind, district, hub_families, major=True)
        b.licence(hub, "business", ["buy", "sell", "store"], ["all"])
        b.permit(hub, "precursor_filing", list(PRECURSORS))
        city.hubs.append(hub)
    for n in range(3 + 2 * scale):
        district = OUTER[n % len(OUTER)] if n >= 2 else CORE[n]
        dist = b.sited_org(f"lpg-station-{n + 1}", "trader", district, ["flammable"], major=False)
        b.licence(dist, "business", ["buy", "sell", "store"], ["13"])
        city.distributors.append(dist)
    for n, district in enumerate(("changping", "daxing", "tongzhou")[: 1 + min(2, scale)]):
        disposer = b.sited_org(f"waste-{n + 1}", "disposer", district, list(FAMILIES), major=True)
        b.licence(disposer, "disposal", ["receive", "dispose"], ["all"])
        city.disposers.append(disposer)
    for n in range(4 + min(9, scale)):
        district = OUTER[(n * 5) % len(OUTER)]
        org = b.sited_org(f"carrier-{n + 1}", "carrier", district, [], major=False)
        b.licence(org, "transport", ["ship"], ["all"])
        carrier = Carrier(org, [], [], [])
        for v in range(8 + scale):
            kind = ("gas", "general", "tanker", "toxic", "explosive")[v % 5]
            plate = f"京A·{n + 1:02d}{v:03d}"
            vid = f"{org.id}-v{v:03d}"
            writer.record("vehicle", vid, at, org=org.id, plate=plate,
                          transport_licence=f"JY-{n + 1:02d}-{v:04d}",
                          un_classes=VEHICLE_CLASSES[kind],
                          valid_until="2028-01-01T00:00:00Z")  # fmt: skip
            carrier.vehicles.append((plate, VEHICLE_CLASSES[kind]))
        for role, people in (("driver", carrier.drivers), ("escort", carrier.escorts)):
            for p in range(6 + scale):
                person = writer.disclosure("person", f"{org.id} {role} {p}")
                writer.deployment.store.record_disclosure(
                    person, retain_until="2031-01-01T00:00:00Z"
                )
                writer.record("crew", f"{org.id}-{role}-{p:03d}", at, org=org.id, role=role,
                              person=person.commitment, certificate_no=f"YS-{n}-{role[0]}-{p:04d}",
                              valid_from=T_SETUP, valid_until="2029-01-01T00:00:00Z")  # fmt: skip
                people.append(person.commitment)
        if n == 0:
            city.unpassed = carrier
            continue
        writer.record("permit", f"pass-{org.id}", at, kind="transport_permit",
                      number=f"GA-TX-{n + 1:05d}", org=org.id,
                      chemicals=sorted(TOXIC_ROAD), valid_from=T_SETUP,
                      valid_until="2027-01-01T00:00:00Z")  # fmt: skip
        city.carriers.append(carrier)
    _customers(b, items)
    return city


def _customers(b: Builder, items: int) -> None:
    """End users until their standing demand covers the item budget; LPG households too."""
    city, rng = b.city, b.rng
    profiles = list(PROFILE_WEIGHTS)
    weights = [PROFILE_WEIGHTS[p] for p in profiles]
    budget = items * 0.27
    n = 0
    while budget > 0:
        n += 1
        budget -= _customer(b, rng.choices(profiles, weights)[0], n)
    wanted = {f for _, lines, _ in PROFILES.values() for _, forms in lines for f in forms}
    for profile in profiles:  # every form of the catalogue has at least one account
        if any(f not in city.covered for _, forms in PROFILES[profile][1] for f in forms):
            n += 1
            _customer(b, profile, n)
    assert wanted <= city.covered, sorted(wanted - city.covered)
    households = max(2, int(items * 0.1))
    for h in range(households):
        station = city.distributors[h % len(city.distributors)]
        home = nearby(station.sites["flammable"].point, rng, rng.uniform(0.3, 3.0))
        org = b.org(f"household-{h + 1}", "individual", station.district, f"Household {h + 1}")
        site = b.site(org, "flammable", home, major=False)
        city.lpg_accounts.append(Account(org, site, "13.1", 1 + (rng.random() < 0.3)))
    for family, district in (("oxidizing", "chaoyang"), ("flammable", "fengtai")):
        rogue = b.sited_org(f"unlicensed-workshop-{family}", "end_user", district, [family],
                            major=False)  # fmt: skip
        city.rogues[family] = rogue


def _customer(b: Builder, profile: str, n: int) -> float:
    """One end user of ``profile`` with its accounts; returns the items it stands for."""
    city, rng = b.city, b.rng
    budget = 0.0
    kind, lines, core_ok = PROFILES[profile]
    district = rng.choice(CORE) if core_ok and rng.random() < 0.2 else rng.choice(OUTER)
    org = b.sited_org(f"{profile}-{n}", kind, district, [f for f, _ in lines], major=False)
    toxic = sorted({f.split(".")[0] for _, forms in lines for f in forms} & set(TOXIC))
    seqs = sorted({f.split(".")[0] for _, forms in lines for f in forms})
    if kind == "end_user":
        b.licence(org, "safe_use", ["buy", "use", "store"], seqs)
    elif toxic:
        b.permit(org, "purchase_permit", toxic)
    precursors = sorted(set(seqs) & set(PRECURSORS))
    if precursors:
        b.permit(org, "precursor_filing", precursors)
    for family, forms in lines:
        site = org.sites[family]
        for form in forms:
            if form in city.covered and rng.random() < 0.35 and len(forms) > 2:
                continue
            city.covered.add(form)
            if form in GASES:
                count = 1 if GASES[form].kg >= 50 else rng.randint(1, 4)
                city.gas_accounts.append(Account(org, site, form, count))
                budget += count * 1.0
            elif form in PACKAGED:
                city.packaged_accounts.append(Account(org, site, form, 1))
                budget += 4.0
    return budget
