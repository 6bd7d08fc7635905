"""A small, realistic demo ledger: a few dozen items of several chemicals through full lifecycles.

Everything goes through the real ingest path (strict parsing, signatures,
certificates, chain heads, atomic appends), in batches the way an ERP would
upload. The flows: chlorine, ammonia and oxygen cylinders sold, delivered,
used, returned and refilled (one cylinder twice); a drum of hydrochloric acid
decanted into four lab bottles; highly toxic sodium cyanide sold with a permit
and police filing, stored by two signers and carried with driver and escort;
a pallet of acetone aggregated and broken down; a bottle lost and recovered; a
hazardous-waste disposal with its manifest; a drum destroyed; a correction.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from api.deployment import Deployment
from ledger.append import Rejected
from ledger.builder import DeviceSession, Head
from ledger.canonical import JsonValue, format_hash
from ledger.codes import Packaging, SignedCode
from ledger.commitments import disclose
from ledger.licences import issue_licence

CATALOG_VERSION = "2026-draft.1"

ORGS = {
    "yanshan-chem": ("producer", "fangshan-plant", ("39.7351", "115.9968")),
    "jingcheng-gas": ("filler", "daxing-fill", ("39.7267", "116.3414")),
    "huabei-trade": ("trader", "chaoyang-office", ("39.9219", "116.4436")),
    "tongzhou-store": ("warehouse", "tongzhou-depot", ("39.9097", "116.6566")),
    "anxin-logistics": ("carrier", "shunyi-yard", ("40.1300", "116.6546")),
    "pku-lab": ("laboratory", "haidian-lab", ("39.9925", "116.3059")),
    "ditan-hospital": ("end_user", "dongcheng-ward", ("39.9573", "116.4136")),
    "jinghuan-waste": ("disposer", "changping-incinerator", ("40.2207", "116.2312")),
}


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
    checkpoint: str = ""
    codes: list[str] = field(default_factory=list)
    signed_codes: list[SignedCode] = field(default_factory=list)
    showcase: str = ""
    """The code of the cylinder refilled twice: the demo's offline bundle is for it."""


class _Seeder:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.clock = _Clock()
        self.heads: dict[str, Head] = {}
        self.sessions: dict[str, DeviceSession] = {}
        self.pending: list[dict[str, JsonValue]] = []
        self.report = DemoReport()
        self.random = random.Random(20261001)
        self.batches = 0

    def issue(self, org: str, form: str, packaging: Packaging, count: int) -> list[str]:
        """Issue ``count`` registry-signed codes (deterministic for a given keystore)."""
        self.batches += 1
        codes = self.deployment.issue_codes(
            org, form, packaging, f"B{self.batches:04d}", count,
            issued_at="2026-09-28", random_bytes=self.random.randbytes,
        )  # fmt: skip
        self.report.signed_codes.extend(codes)
        return [signed.code for signed in codes]

    def enrol(self) -> None:
        for number, (org, (kind, _, _)) in enumerate(ORGS.items(), start=1):
            self.deployment.license(issue_licence(
                self.deployment.keys.root_signer(), licence_no=f"BJ-2026-{number:04d}", org=org,
                kind=LICENCE_OF[kind], activities=ACTIVITIES_OF[kind], chemicals=("all",),
                valid_from="2026-01-01T00:00:00Z", valid_until="2029-01-01T00:00:00Z",
                status="active",
            ))  # fmt: skip
            self.report.licences += 1
            self.deployment.certify_org(org)
            device = self.deployment.certify_device(org, "handheld-1")
            worker = disclose("person", f"{org} duty officer")
            self.sessions[org] = DeviceSession(
                signer=device,
                org=org,
                actor=worker.commitment,
                catalog_version=CATALOG_VERSION,
                heads=self.heads,
            )
            self.report.certificates += 2

    def emit(
        self,
        org: str,
        event_type: str,
        items: list[str | tuple[str, str]],
        data: dict[str, JsonValue],
        **extra: object,
    ) -> bytes:
        _, site, (lat, lon) = ORGS[org]
        envelope = self.sessions[org].event(
            event_type,
            items,
            data,
            time=self.clock.tick(),
            site=str(extra.pop("site", site)),
            geo={"lat": lat, "lon": lon},
            **extra,  # type: ignore[arg-type]
        )
        self.pending.append(envelope)
        first = items[0] if isinstance(items[0], str) else items[0][0]
        return self.heads[first].head_hash

    def flush(self) -> None:
        outcomes = self.deployment.ingestor.submit(self.pending)
        for outcome in outcomes:
            if isinstance(outcome, Rejected):
                raise RuntimeError(f"demo event rejected: {outcome.error.diagnostics()}")
        self.report.events += len(self.pending)
        self.pending = []

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

    def deliver(
        self, sender: str, receiver: str, codes: list[str], *, controlled: bool = False
    ) -> None:
        driver, escort = disclose("person", "driver Li"), disclose("person", "escort Wang")
        _, receiver_site, _ = ORGS[receiver]
        ship = self.emit(
            "anxin-logistics",
            "ship",
            list(codes),
            {
                "carrier": "anxin-logistics",
                "consignee": receiver,
                "consignee_site": receiver_site,
                "vehicle": "京A·D1234",
                "driver": driver.commitment,
                "escort": escort.commitment,
                "waybill_no": f"EW{self.clock.moment:%m%d%H%M}",
            },
            site=ORGS[sender][1],
        )
        self.emit("anxin-logistics", "waypoint", list(codes), {"ship": format_hash(ship)})
        received: dict[str, JsonValue] = {"ship": format_hash(ship)}
        if controlled:
            received["quantity"] = {"value": "50", "unit": "kg"}
        self.emit(receiver, "receive", list(codes), received)


def seed(deployment: Deployment) -> DemoReport:
    """Write the demo ledger and end with a checkpoint that covers every entry."""
    seeder = _Seeder(deployment)
    seeder.enrol()
    _cylinders(seeder)
    _acid_decant(seeder)
    _cyanide(seeder)
    _pallet_and_exceptions(seeder)
    seeder.report.code_batches = seeder.batches
    seeder.report.checkpoint = deployment.checkpoint() or ""
    return seeder.report


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
    s.flush()
