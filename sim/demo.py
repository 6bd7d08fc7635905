"""A realistic demo city, seeded through the typed HTTP client like any enterprise would.

Everything goes through the real service (registries, device enrolment, code issuing,
signed events in batches) and so through the real ingest path. The flows: every one of
the 35 catalog chemicals produced, shipped and stored; chlorine, ammonia and oxygen
cylinders sold, delivered, used, returned and refilled (one cylinder twice); a drum of
hydrochloric acid decanted into four lab bottles; highly toxic sodium cyanide sold with a
permit and police filing, stored by two signers and carried with driver and escort; a
pallet of acetone aggregated and broken down; a bottle lost and recovered; a
hazardous-waste disposal with its manifest; a drum destroyed; a correction. And a handful
of suspicious flows for the anomaly engine to find: a shipment that never arrives, a
receive by someone other than the consignee, cyanide sold to an individual with no permit
or police filing, and a drum used after it was destroyed. The anomaly engine finds those,
and what the catalog tour does wrong on purpose: all 35 chemicals kept in one depot
(incompatible groups side by side) and chlorine cylinders delivered to a hospital in the
capital core (``chemtrace findings rescan``).

The flows are deterministic; codes and keys are random per deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from api.deployment import CERT_FROM, CERT_UNTIL
from api.keystore import FileKeystore
from ledger.builder import DeviceSession, Head
from ledger.canonical import JsonValue, format_hash
from ledger.catalog import Catalog
from ledger.codes import SignedCode
from ledger.commitments import disclose
from ledger.signing import Ed25519Signer
from scanners.client import ApiError, ChemtraceClient

CATALOG_VERSION = "2026-draft.1"

ORGS = {
    # org: (type, site, (lat, lon), district)
    "yanshan-chem": ("producer", "fangshan-plant", ("39.7351", "115.9968"), "fangshan"),
    "jingcheng-gas": ("filler", "daxing-fill", ("39.7267", "116.3414"), "daxing"),
    "huabei-trade": ("trader", "chaoyang-office", ("39.9219", "116.4436"), "chaoyang"),
    "tongzhou-store": ("warehouse", "tongzhou-depot", ("39.9097", "116.6566"), "tongzhou"),
    "anxin-logistics": ("carrier", "shunyi-yard", ("40.1300", "116.6546"), "shunyi"),
    "pku-lab": ("laboratory", "haidian-lab", ("39.9925", "116.3059"), "haidian"),
    "ditan-hospital": ("end_user", "dongcheng-ward", ("39.9573", "116.4136"), "dongcheng"),
    "jinghuan-waste": ("disposer", "changping-incinerator", ("40.2207", "116.2312"), "changping"),
    "zhang-wei": ("individual", "zhang-home", ("39.9390", "116.3520"), "xicheng"),
}
DISTRICTS = sorted({district for *_, district in ORGS.values()})
SITE_POINTS = {site: point for _, site, point, _ in ORGS.values()}
DEPOT_KEEPER = disclose("person", "tongzhou-store second keeper").commitment
MAJOR_HAZARD_SITES = {"fangshan-plant", "tongzhou-depot"}

LICENCE_OF = {
    "producer": "production", "filler": "production", "trader": "business",
    "warehouse": "storage", "carrier": "transport", "laboratory": "safe_use",
    "end_user": "safe_use", "disposer": "disposal",
}  # fmt: skip
ACTIVITIES_OF = {
    "producer": ("produce", "store", "sell"), "filler": ("fill", "store", "sell"),
    "trader": ("buy", "sell", "store"), "warehouse": ("store",), "carrier": ("ship",),
    "laboratory": ("buy", "use", "store"), "end_user": ("buy", "use", "store"),
    "disposer": ("receive", "dispose"),
}  # fmt: skip


@dataclass
class _Clock:
    moment: datetime = field(default_factory=lambda: datetime(2026, 10, 1, 8, 0, tzinfo=UTC))

    def tick(self, minutes: int = 17) -> str:
        self.moment += timedelta(minutes=minutes)
        return self.moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DemoReport:
    """What the seeder wrote."""

    events: int = 0
    items: int = 0
    certificates: int = 0
    code_batches: int = 0
    licences: int = 0
    records: int = 0
    checkpoint: str = ""
    codes: list[str] = field(default_factory=list)
    signed_codes: list[SignedCode] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    """API tokens of the demo users, by user id (written to var/demo-tokens.json)."""
    showcase: str = ""
    """The code of the cylinder refilled twice: the demo's offline bundle is for it."""


class _Seeder:
    def __init__(self, admin: ChemtraceClient, keys: FileKeystore, catalog: Catalog) -> None:
        self.admin, self.keys, self.catalog = admin, keys, catalog
        self.clock = _Clock()
        self.heads: dict[str, Head] = {}
        self.sessions: dict[str, DeviceSession] = {}
        self.clients: dict[str, ChemtraceClient] = {}
        self.pending: list[tuple[str, dict[str, JsonValue]]] = []
        self.crew: dict[str, str] = {}
        self.report = DemoReport()
        self.batches = 0

    def issue(self, org: str, form: str, packaging: str, count: int) -> list[str]:
        """Issue ``count`` registry-signed codes to ``org`` through the API."""
        self.batches += 1
        issued = self.admin.issue_codes(
            org=org, form=form, packaging=packaging, batch=f"B{self.batches:04d}", count=count
        )
        signed = [SignedCode.from_json(entry["record"]) for entry in issued]
        self.report.signed_codes.extend(signed)
        return [entry.code for entry in signed]

    def enrol(self) -> None:
        """Registries, licences, users and one enrolled handheld per organisation."""
        admin = self.admin
        for number, (org, (kind, site, (lat, lon), district)) in enumerate(ORGS.items(), 1):
            admin.put_org(org, name=org.replace("-", " ").title(), type=kind, district=district)
            admin.put_site(
                site, org=org, name=site.replace("-", " ").title(),
                address=f"{number} {district.title()} Road, Beijing", district=district,
                lat=lat, lon=lon, capacity_t="500" if kind != "individual" else "0.1",
                major_hazard=site in MAJOR_HAZARD_SITES,
            )  # fmt: skip
            self.report.records += 2
            if kind in LICENCE_OF:
                admin.put_licence(
                    licence_no=f"BJ-2026-{number:04d}", org=org, kind=LICENCE_OF[kind],
                    activities=list(ACTIVITIES_OF[kind]), chemicals=["all"],
                    valid_from="2026-01-01T00:00:00Z", valid_until="2029-01-01T00:00:00Z",
                )  # fmt: skip
                self.report.licences += 1
            device = self.keys.signer(f"device-{org}-handheld-1")
            admin.enrol_device(org, device.public_key, valid_from=CERT_FROM, valid_until=CERT_UNTIL)
            self.report.certificates += 2  # the organisation's key, then the device's
            self.sessions[org] = DeviceSession(
                signer=device, org=org, actor=disclose("person", f"{org} duty officer").commitment,
                catalog_version=CATALOG_VERSION, heads=self.heads,
            )  # fmt: skip
            self.clients[org] = self._user(f"{org}-ops", role="enterprise", org=org,
                                           name=f"{org} operations")  # fmt: skip
        for district in DISTRICTS:
            self._user(f"regulator-{district}", role="regulator", districts=[district],
                       name=f"{district.title()} emergency management bureau")  # fmt: skip
        self._user("regulator-city", role="regulator", districts=DISTRICTS,
                   name="City emergency management bureau")  # fmt: skip
        admin.put_vehicle("jing-a-d1234", org="anxin-logistics", plate="京A·D1234",
                          transport_licence="JY-110-2026-0007",
                          un_classes=["2", "3", "4", "5.1", "6.1", "8"],
                          valid_until="2028-01-01T00:00:00Z")  # fmt: skip
        for crew_id, role, name in (("driver-li", "driver", "Li Qiang"),
                                    ("escort-wang", "escort", "Wang Fang")):  # fmt: skip
            admin.put_crew(crew_id, org="anxin-logistics", role=role,
                           certificate_no=f"YS-{crew_id}",
                           valid_from="2026-01-01T00:00:00Z", valid_until="2029-01-01T00:00:00Z",
                           person={"name": name, "id_number": "110101199001011234",
                                   "phone": "13800000000"})  # fmt: skip
            # events name the crew by the commitment the registry keeps, not a new one
            self.crew[role] = admin.record("crew", crew_id)["current"]["attrs"]["person"]
        admin.put_permit("ga-jd-2026-0042", kind="purchase_permit", number="GA-JD-2026-0042",
                         org="pku-lab", counterparty="yanshan-chem", chemicals=["25"],
                         quantity="150", valid_from="2026-09-01T00:00:00Z",
                         valid_until="2026-12-31T00:00:00Z")  # fmt: skip
        self.report.records += 4

    def _user(self, user_id: str, **attrs: object) -> ChemtraceClient:
        self.admin.put_user(user_id, **attrs)
        self.report.records += 1
        token = self.admin.issue_token(user_id)
        self.report.tokens[user_id] = token
        return self.admin.with_token(token)

    def emit(
        self,
        org: str,
        event_type: str,
        items: list[str | tuple[str, str]],
        data: dict[str, JsonValue],
        **extra: object,
    ) -> bytes:
        site = str(extra.pop("site", ORGS[org][1]))
        lat, lon = SITE_POINTS[site]
        geo = extra.pop("geo", {"lat": lat, "lon": lon})  # where the event happened
        envelope = self.sessions[org].event(
            event_type,
            items,
            data,
            time=self.clock.tick(),
            site=site,
            geo=geo,  # type: ignore[arg-type]
            **extra,  # type: ignore[arg-type]
        )
        self.pending.append((org, envelope))
        first = items[0] if isinstance(items[0], str) else items[0][0]
        return self.heads[first].head_hash

    def flush(self) -> None:
        """Upload pending events, each organisation's run with its own token, in order."""
        while self.pending:
            org = self.pending[0][0]
            run = 0
            while run < len(self.pending) and self.pending[run][0] == org:
                run += 1
            batch = [envelope for _, envelope in self.pending[:run]]
            outcome = self.clients[org].submit_batch(batch)
            if outcome.rejected:
                errors = [r["error"] for r in outcome.results if r["status"] == "rejected"]
                raise RuntimeError(f"demo events rejected: {errors[:3]}")
            self.report.events += len(batch)
            del self.pending[:run]

    def commission(
        self, org: str, code: str, chemical: str, value: str, unit: str, packaging: str
    ) -> None:
        self.emit(
            org,
            "commission",
            [code],
            {
                "chemical": chemical,
                "quantity": {"value": value, "unit": unit},
                "lot": f"L{self.clock.moment:%y%m%d}",
                "packaging": packaging,
            },
        )
        self.report.items += 1
        self.report.codes.append(code)

    def ship(self, sender: str, receiver: str, codes: list[str],
             carrier: str = "anxin-logistics") -> bytes:  # fmt: skip
        data: dict[str, JsonValue] = {
            "carrier": carrier, "consignee": receiver, "consignee_site": ORGS[receiver][1],
            "vehicle": "京A·D1234", "driver": self.crew["driver"], "escort": self.crew["escort"],
            "waybill_no": f"EW{self.clock.moment:%m%d%H%M}",
        }  # fmt: skip
        # the holder hands the load to the carrier: a carrier with no custody yet is a
        # stranger to the item, and the custody policy refuses it
        ship = self.emit(sender, "ship", list(codes), data, site=ORGS[sender][1])
        (lat0, lon0), (lat1, lon1) = SITE_POINTS[ORGS[sender][1]], SITE_POINTS[ORGS[receiver][1]]
        halfway = {"lat": f"{(float(lat0) + float(lat1)) / 2:.4f}",
                   "lon": f"{(float(lon0) + float(lon1)) / 2:.4f}"}  # fmt: skip
        self.emit(carrier, "waypoint", list(codes), {"ship": format_hash(ship)}, geo=halfway)
        return ship

    def deliver(
        self, sender: str, receiver: str, codes: list[str], *, controlled: bool = False
    ) -> None:
        ship = self.ship(sender, receiver, codes)
        received: dict[str, JsonValue] = {"ship": format_hash(ship)}
        if controlled:
            received["quantity"] = {"value": "50", "unit": "kg"}
        self.emit(receiver, "receive", list(codes), received)


def seed(admin: ChemtraceClient, keys: FileKeystore, catalog: Catalog) -> DemoReport:
    """Write the demo through ``admin`` (an admin's client); the caller checkpoints after."""
    seeder = _Seeder(admin, keys, catalog)
    seeder.enrol()
    _catalog_tour(seeder)
    _cylinders(seeder)
    _acid_decant(seeder)
    _cyanide(seeder)
    _pallet_and_exceptions(seeder)
    _suspicious(seeder)
    seeder.report.code_batches = seeder.batches
    return seeder.report


def _packaging_for(transport_class: str) -> tuple[str, str, str]:
    """(packaging, quantity, unit) typical of a transport class."""
    if transport_class.startswith("2"):
        return "cylinder", "40", "kg"
    if transport_class in ("3", "8"):
        return "drum", "200", "kg"
    return "bag", "25", "kg"


def _catalog_tour(s: _Seeder) -> None:
    """Every one of the 35 chemicals: six containers produced, shipped and stored."""
    for chemical in s.catalog.chemicals:
        form = s.catalog.forms_of(chemical.seq)[0]
        packaging, value, unit = _packaging_for(form.transport_class)
        codes = s.issue("yanshan-chem", form.form_id, packaging, 6)
        for code in codes:
            s.commission("yanshan-chem", code, str(chemical.seq), value, unit, packaging)
        s.deliver("yanshan-chem", "tongzhou-store", codes,
                  controlled=chemical.is_highly_toxic)  # fmt: skip
        second = {"co_actor": DEPOT_KEEPER} if chemical.is_highly_toxic else {}  # 双人收发
        for code in codes:
            s.emit("tongzhou-store", "store_in", [code], {"location": f"zone {chemical.seq}"},
                   **second)  # fmt: skip
    s.flush()


def _suspicious(s: _Seeder) -> None:
    """A handful of flows that break the rules (accepted: the ledger records what happened)."""
    acetone = s.catalog.forms_of(33)[0].form_id
    overdue = s.issue("yanshan-chem", acetone, "drum", 2)
    for code in overdue:
        s.commission("yanshan-chem", code, acetone, "160", "kg", "drum")
    s.ship("yanshan-chem", "huabei-trade", overdue)  # and it never arrives
    (wrong,) = s.issue("yanshan-chem", acetone, "drum", 1)
    s.commission("yanshan-chem", wrong, acetone, "160", "kg", "drum")
    ship = s.ship("yanshan-chem", "pku-lab", [wrong])
    # the carrier signs for the drum at the gate instead of the consignee
    s.emit("anxin-logistics", "receive", [wrong], {"ship": format_hash(ship)})
    (bag,) = s.issue("yanshan-chem", "25.1", "bag", 1)
    s.commission("yanshan-chem", bag, "25", "50", "kg", "bag")
    s.emit("yanshan-chem", "sell", [bag], {
        "counterparty": "zhang-wei",
        "individual_buyer": disclose("person", "Zhang Wei").commitment,
    })  # fmt: skip  # highly toxic, to an individual, no permit, no police filing
    s.flush()
    # A handheld nobody enrolled tries to commission a label: refused, and journalled.
    rogue = DeviceSession(signer=Ed25519Signer.from_seed(bytes(32)), org="huabei-trade",
                          actor=disclose("person", "unknown").commitment,
                          catalog_version=CATALOG_VERSION)  # fmt: skip
    (label,) = s.issue("huabei-trade", acetone, "drum", 1)
    forged = rogue.event("commission", [label], {
        "chemical": "33", "quantity": {"value": "160", "unit": "kg"}, "lot": "X1",
        "packaging": "drum",
    }, time=s.clock.tick(), site="chaoyang-office")  # fmt: skip
    try:
        s.clients["huabei-trade"].submit(forged)
    except ApiError as exc:
        if exc.code != "unknown_key":
            raise


def _cylinder_codes(s: _Seeder) -> Iterator[tuple[str, str, str]]:
    for chemical, form in (("1", "1.1"), ("2", "2.1"), ("15", "15.1")):
        for code in s.issue("jingcheng-gas", form, "cylinder", 6):
            yield code, chemical, "jingcheng-gas"


def _cylinders(s: _Seeder) -> None:
    cylinders = list(_cylinder_codes(s))
    for code, chemical, filler in cylinders:
        s.commission(filler, code, chemical, "40", "kg", "cylinder")
        s.emit(filler, "store_in", [code], {"location": "cylinder bay A"})
    s.flush()
    for code, _, filler in cylinders:
        s.emit(filler, "store_out", [code], {})
        s.emit(
            filler, "sell", [code], {"counterparty": "ditan-hospital", "contract_no": "HT-2026-118"}
        )
    s.flush()
    codes = [code for code, _, _ in cylinders]
    s.deliver("jingcheng-gas", "ditan-hospital", codes)
    s.flush()
    refilled = codes[12]  # the first oxygen cylinder
    s.report.showcase = refilled
    for cycle in range(1, 3):  # the same cylinder goes round twice more
        s.emit("ditan-hospital", "use", [refilled], {"quantity": {"value": "38", "unit": "kg"}})
        s.emit("ditan-hospital", "return", [refilled], {"to_org": "jingcheng-gas"})
        s.deliver("ditan-hospital", "jingcheng-gas", [refilled])
        s.emit(
            "jingcheng-gas",
            "inspect",
            [refilled],
            {
                "outcome": "pass",
                "inspector": disclose("person", "cylinder inspector").commitment,
            },
        )
        s.emit(
            "jingcheng-gas",
            "fill",
            [refilled],
            {
                "quantity": {"value": "40", "unit": "kg"},
                "lot": f"R{cycle}",
                "inspection_due": "2028-06-30",
            },
        )
        s.deliver("jingcheng-gas", "ditan-hospital", [refilled])
        s.flush()
    for code in codes[1:]:
        s.emit("ditan-hospital", "use", [code], {"quantity": {"value": "12.5", "unit": "kg"}})
    s.flush()


def _acid_decant(s: _Seeder) -> None:
    (drum,) = s.issue("yanshan-chem", "32.1", "drum", 1)
    bottles = s.issue("tongzhou-store", "32.1", "bottle", 4)
    s.commission("yanshan-chem", drum, "32", "200", "kg", "drum")
    s.deliver("yanshan-chem", "tongzhou-store", [drum])
    s.emit("tongzhou-store", "store_in", [drum], {"location": "acid room 2"})
    s.emit(
        "tongzhou-store",
        "transform",
        [(drum, "input"), *[(b, "output") for b in bottles]],
        {
            "kind": "decant",
            "inputs": [{"code": drum, "quantity": {"value": "20", "unit": "kg"}}],
            "outputs": [{"code": b, "quantity": {"value": "5", "unit": "kg"}} for b in bottles],
        },
    )
    s.report.items += len(bottles)
    s.report.codes.extend(bottles)
    s.flush()
    s.deliver("tongzhou-store", "pku-lab", bottles)
    for bottle in bottles[:3]:
        s.emit(
            "pku-lab",
            "use",
            [bottle],
            {"quantity": {"value": "4.5", "unit": "kg"}, "purpose": "titration"},
        )
    s.emit(
        "pku-lab",
        "dispose",
        [bottles[0]],
        {
            "disposer": "jinghuan-waste",
            "manifest_no": "HW-2026-000317",
            "method": "neutralisation",
            "quantity": {"value": "0.5", "unit": "kg"},
        },
    )
    s.flush()


def _cyanide(s: _Seeder) -> None:
    bags = s.issue("yanshan-chem", "25.1", "bag", 3)
    for bag in bags:
        s.commission("yanshan-chem", bag, "25", "50", "kg", "bag")
    keeper = disclose("person", "second keeper Zhao").commitment
    for bag in bags:
        s.emit(
            "yanshan-chem",
            "store_in",
            [bag],
            {"location": "toxic store, double lock"},
            co_actor=keeper,
        )
    s.flush()
    for bag in bags:
        s.emit(
            "yanshan-chem",
            "sell",
            [bag],
            {
                "counterparty": "pku-lab",
                "permit_no": "GA-JD-2026-0042",
                "police_filing_no": "BA-110-77821",
            },
        )
    s.deliver("yanshan-chem", "pku-lab", bags, controlled=True)
    for bag in bags:
        s.emit(
            "pku-lab",
            "buy",
            [bag],
            {
                "counterparty": "yanshan-chem",
                "permit_no": "GA-JD-2026-0042",
                "police_filing_no": "BA-110-77822",
            },
        )
        s.emit("pku-lab", "store_in", [bag], {"location": "toxic cabinet"}, co_actor=keeper)
    s.emit(
        "pku-lab",
        "use",
        [bags[0]],
        {"quantity": {"value": "1.2", "unit": "kg"}, "purpose": "gold assay"},
    )
    s.emit(
        "pku-lab",
        "stock_count",
        [bags[0]],
        {"count_id": "SC-2026-10", "quantity": {"value": "48.8", "unit": "kg"}},
    )
    s.flush()


def _pallet_and_exceptions(s: _Seeder) -> None:
    (pallet,) = s.issue("yanshan-chem", "33.1", "pallet", 1)
    boxes = s.issue("yanshan-chem", "33.1", "box", 4)
    for box in boxes:
        s.commission("yanshan-chem", box, "33", "25", "L", "box")
    s.emit(
        "yanshan-chem",
        "aggregate",
        [(pallet, "parent"), *[(b, "child") for b in boxes]],
        {"parent": pallet, "children": boxes},
    )
    s.report.items += 1
    s.report.codes.append(pallet)
    s.deliver("yanshan-chem", "huabei-trade", [pallet, *boxes])
    s.emit(
        "huabei-trade",
        "disaggregate",
        [(pallet, "parent"), *[(b, "child") for b in boxes]],
        {"parent": pallet, "children": boxes},
    )
    lost = boxes[3]
    loss = s.emit(
        "huabei-trade", "report_loss", [lost], {"kind": "theft", "police_report_no": "JJ-2026-5531"}
    )
    s.emit("huabei-trade", "recover", [lost], {"report": format_hash(loss)})
    (drum,) = s.issue("yanshan-chem", "26.1", "drum", 1)
    s.commission("yanshan-chem", drum, "26", "250", "kg", "drum")
    wrong = s.emit(
        "yanshan-chem",
        "stock_count",
        [drum],
        {"count_id": "SC-2026-11", "quantity": {"value": "205", "unit": "kg"}},
    )
    s.emit(
        "yanshan-chem",
        "correct",
        [drum],
        {
            "corrects": format_hash(wrong),
            "reason": "typing error in the count",
            "changes": {"data.quantity.value": "250"},
        },
    )
    s.emit("yanshan-chem", "destroy", [drum], {"method": "neutralised on site after a leak"})
    s.emit("yanshan-chem", "use", [drum], {"quantity": {"value": "10", "unit": "kg"}})  # suspicious
    s.flush()
