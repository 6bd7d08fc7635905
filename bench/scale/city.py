"""The generated city: organisations, sites, carriers and the lifecycle stories they live.

Sized from the wanted number of events. The registry (org and site records, vehicles,
crew, licences, org and device certificates, code batches) is logged through the real
append paths of :class:`api.deployment.Deployment`; only the events take the bulk path.
Every key is derived from the seed (throwaway, named ``scale:<seed>:…``); nothing here
is ever committed.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from decimal import Decimal

from api.deployment import CERT_FROM, CERT_UNTIL, Deployment
from ledger.commitments import Disclosure
from ledger.licences import issue_licence
from ledger.signing import Ed25519Signer
from sim.simulator.products import PRODUCTS

DAY = 86_400
HOUR = 3_600
START = 1_772_409_600
"""2026-03-02T00:00:00Z: the first event; the registry is logged just before."""

GAS_FORMS = (
    "1.1",
    "2.1",
    "4.1",
    "8.1",
    "9.1",
    "11.1",
    "13.1",
    "14.1",
    "15.1",
    "16.1",
    "17.1",
    "18.1",
    "19.1",
    "20.1",
    "21.1",
    "22.1",
    "23.1",
    "32.2",
)
PACKAGED_FORMS = (
    "3.1",
    "5.1",
    "6.1",
    "7.1",
    "10.1",
    "12.1",
    "31.1",
    "31.2",
    "32.1",
    "33.1",
    "34.1",
    "35.1",
)
"""Forms without the highly-toxic controls (no police filing, no second keeper)."""
DISTRICTS = (
    "chaoyang",
    "haidian",
    "fengtai",
    "daxing",
    "tongzhou",
    "changping",
    "shunyi",
    "fangshan",
)
VEHICLE_CLASSES = {"gas": ["2"], "general": ["3", "4.1", "5.1", "6.1", "8", "9"]}


@dataclass(frozen=True, slots=True)
class Org:
    id: str
    type: str
    district: str
    lat: float
    lon: float

    @property
    def site(self) -> str:
        return f"{self.id}-store"


@dataclass(frozen=True, slots=True)
class Carrier:
    org: Org
    plates: tuple[str, ...]
    drivers: tuple[str, ...]
    escorts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Story:
    """One account's lifecycle: ``count`` items of ``form`` from ``origin`` to ``customer``."""

    id: int
    kind: str  # "gas" (cylinders, refilled in cycles) or "packaged" (used up, then waste)
    origin: str
    customer: str
    form: str
    count: int
    cycles: int
    start: int
    codes: tuple[str, ...] = ()


@dataclass(slots=True)
class City:
    seed: int
    fillers: list[Org] = field(default_factory=list)
    producers: list[Org] = field(default_factory=list)
    customers: list[Org] = field(default_factory=list)
    disposers: list[Org] = field(default_factory=list)
    carriers: list[Carrier] = field(default_factory=list)

    @property
    def orgs(self) -> list[Org]:
        return [
            *self.fillers,
            *self.producers,
            *self.customers,
            *self.disposers,
            *(c.org for c in self.carriers),
        ]

    def org(self, org_id: str) -> Org:
        return next(o for o in self.orgs if o.id == org_id)


def derived_signer(seed: int, name: str) -> Ed25519Signer:
    """A throwaway key derived from the seed (never stored)."""
    return Ed25519Signer.from_seed(hashlib.sha256(f"scale:{seed}:{name}".encode()).digest())


def person(seed: int, name: str) -> Disclosure:
    salt = hashlib.sha256(f"scale-salt:{seed}:{name}".encode()).digest()[:16]
    return Disclosure(kind="person", value=name, salt=salt)


def plan_city(events: int, seed: int) -> City:
    """Organisations in proportion to the ledger's size (a customer per ~2,000 events)."""
    rng = random.Random(f"{seed}:city")
    city = City(seed)

    def org(org_id: str, kind: str) -> Org:
        return Org(
            org_id,
            kind,
            rng.choice(DISTRICTS),
            39.75 + rng.random() * 0.35,
            116.2 + rng.random() * 0.45,
        )

    city.fillers = [org(f"gas-filler-{n + 1}", "filler") for n in range(4)]
    city.producers = [org(f"chem-plant-{n + 1}", "producer") for n in range(3)]
    city.disposers = [org(f"waste-{n + 1}", "disposer") for n in range(2)]
    customers = max(4, min(5000, events // 2000))
    kinds = ("end_user", "end_user", "laboratory", "warehouse")
    city.customers = [org(f"customer-{n + 1}", kinds[n % 4]) for n in range(customers)]
    for n in range(6):
        carrier = org(f"carrier-{n + 1}", "carrier")
        plates = tuple(f"京A·{n + 1:02d}{v:03d}" for v in range(8))
        drivers = tuple(person(seed, f"{carrier.id} driver {p}").commitment for p in range(6))
        escorts = tuple(person(seed, f"{carrier.id} escort {p}").commitment for p in range(6))
        city.carriers.append(Carrier(carrier, plates, drivers, escorts))
    return city


def expected_events(story: Story) -> float:
    """About how many events a story writes (to size the plan; the count is measured)."""
    waypoints = 2 * 4.0
    if story.kind == "gas":
        per_cycle = story.count * (1 + 2.5 + 0.3 + 0.3) + 7 + 2 * waypoints
        return story.count + story.cycles * per_cycle + 0.25 * (3 + waypoints + story.count)
    return story.count * (2 + 2.5 + 0.5) + 8 + 2 * waypoints


def plan_stories(city: City, events: int, seed: int, days: int) -> list[Story]:
    """Stories until their expected events reach ``events``, starts spread over the run."""
    rng = random.Random(f"{seed}:stories")
    stories: list[Story] = []
    total = 0.0
    span = max(1, days - 20) * DAY
    while total < events / 0.65:  # the estimate runs high; the loader cuts at ``events``
        customer = rng.choice(city.customers).id
        if rng.random() < 0.55:
            story = Story(
                len(stories),
                "gas",
                rng.choice(city.fillers).id,
                customer,
                rng.choice(GAS_FORMS),
                rng.randint(1, 4),
                rng.randint(1, 3),
                START + rng.randrange(span),
            )
        else:
            story = Story(
                len(stories),
                "packaged",
                rng.choice(city.producers).id,
                customer,
                rng.choice(PACKAGED_FORMS),
                rng.randint(1, 3),
                1,
                START + rng.randrange(span),
            )
        stories.append(story)
        total += expected_events(story)
    return stories


def register(deployment: Deployment, city: City) -> int:
    """Log the city's registry through the real append paths; return the entries logged."""
    root = deployment.keys.root_signer()
    window = (CERT_FROM, CERT_UNTIL)
    before = deployment.store.log_size()
    licences = {
        "filler": ("production", ["produce", "fill", "sell", "store"]),
        "producer": ("production", ["produce", "sell", "store"]),
        "disposer": ("disposal", ["receive", "dispose"]),
        "carrier": ("transport", ["ship"]),
        "end_user": ("safe_use", ["buy", "use", "store"]),
        "laboratory": ("safe_use", ["buy", "use", "store"]),
        "warehouse": ("business", ["buy", "sell", "store"]),
    }
    for n, org in enumerate(city.orgs):
        deployment.record(
            "org",
            org.id,
            {"name": org.id.replace("-", " ").title(), "type": org.type, "district": org.district},
        )
        deployment.record(
            "site",
            org.site,
            {
                "org": org.id,
                "name": f"{org.id} store",
                "address": f"{org.district.title()}, Beijing",
                "district": org.district,
                "lat": f"{org.lat:.5f}",
                "lon": f"{org.lon:.5f}",
                "capacity_t": "5000" if org.type in ("filler", "producer") else "20",
                "major_hazard": org.type in ("filler", "producer"),
            },
        )
        org_key = derived_signer(city.seed, f"org-{org.id}")
        deployment.certify_key("org", org.id, org_key.public_key, root, window)
        device = derived_signer(city.seed, f"device-{org.id}")
        deployment.certify_key("device", org.id, device.public_key, org_key, window)
        kind, activities = licences[org.type]
        deployment.license(
            issue_licence(
                root,
                licence_no=f"BJ-{kind[:3].upper()}-{n + 1:05d}",
                org=org.id,
                kind=kind,
                activities=tuple(activities),
                chemicals=("all",),
                valid_from="2026-01-01T00:00:00Z",
                valid_until="2029-01-01T00:00:00Z",
                status="active",
            )
        )
    for n, carrier in enumerate(city.carriers):
        for v, plate in enumerate(carrier.plates):
            deployment.record(
                "vehicle",
                f"{carrier.org.id}-v{v:03d}",
                {
                    "org": carrier.org.id,
                    "plate": plate,
                    "transport_licence": f"JY-{n + 1:02d}-{v:04d}",
                    "un_classes": VEHICLE_CLASSES["gas" if v % 2 else "general"],
                    "valid_until": "2028-01-01T00:00:00Z",
                },
            )
        for role, people in (("driver", carrier.drivers), ("escort", carrier.escorts)):
            for p, commitment in enumerate(people):
                deployment.store.record_disclosure(
                    person(city.seed, f"{carrier.org.id} {role} {p}"),
                    retain_until="2031-01-01T00:00:00Z",
                )
                deployment.record(
                    "crew",
                    f"{carrier.org.id}-{role}-{p:03d}",
                    {
                        "org": carrier.org.id,
                        "role": role,
                        "person": commitment,
                        "certificate_no": f"YS-{n}-{role[0]}-{p:04d}",
                        "valid_from": "2026-01-01T00:00:00Z",
                        "valid_until": "2029-01-01T00:00:00Z",
                    },
                )
    return deployment.store.log_size() - before


def issue_codes(deployment: Deployment, stories: list[Story], seed: int) -> list[Story]:
    """Issue every story's codes (registry batches of up to 2,000 per org and form)."""
    rng = random.Random(f"{seed}:codes")
    wanted: dict[tuple[str, str], int] = {}
    for story in stories:
        key = (story.origin, story.form)
        wanted[key] = wanted.get(key, 0) + story.count
    pools: dict[tuple[str, str], list[str]] = {}
    batch = 0
    for (org, form), count in sorted(wanted.items()):
        packaging = PRODUCTS[form].packaging
        pool = pools.setdefault((org, form), [])
        while len(pool) < count:
            batch += 1
            size = min(2000, count - len(pool))
            issued = deployment.issue_codes(
                org,
                form,
                packaging,  # type: ignore[arg-type]
                f"B{batch:06d}",
                size,
                issued_at="2026-03-01",
                random_bytes=rng.randbytes,
            )
            pool.extend(c.code for c in issued)
    out = []
    for story in stories:
        pool = pools[(story.origin, story.form)]
        codes, pools[(story.origin, story.form)] = pool[: story.count], pool[story.count :]
        out.append(
            Story(
                story.id,
                story.kind,
                story.origin,
                story.customer,
                story.form,
                story.count,
                story.cycles,
                story.start,
                tuple(codes),
            )
        )
    return out


def full_kg(form: str) -> Decimal:
    return PRODUCTS[form].kg
