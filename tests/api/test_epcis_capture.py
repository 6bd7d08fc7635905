"""EPCIS 2.0 capture end to end on a real server (SQLite, and PostgreSQL with Redis).

Each party's ERP document is a plain EPCIS 2.0 document (standard fields, and the
``chemtrace:`` extension for what EPCIS has no field for), with no signer and no chain links:
``chemtrace epcis push`` maps, signs with the party's own device and captures it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from ledger.epcis.hash_id import event_hash_id, namespaces_of
from ledger.epcis.mapping import CaptureContext, epcis_document, to_epcis
from ledger.events import may_start_chain, parse_body
from ledger.store.epcis_schema import SCHEMA_PATH
from scanners.client import ChemtraceClient
from scanners.device.home import DeviceHome, Profile
from scanners.epcis_push import SIGNATURE, ServerLookup, push, sign_document
from tests.api._cli import run_cli
from tests.api.live import CATALOG, VALID, World, wait_for, world_fixture
from tests.conftest import SHARED_DIR

LIMIT: Final = 60
SIZE_LIMIT: Final = 400_000
world = world_fixture(
    "epcisc",
    CHEMTRACE_EPCIS_CAPTURE_LIMIT=str(LIMIT),
    CHEMTRACE_EPCIS_CAPTURE_FILE_SIZE_LIMIT=str(SIZE_LIMIT),
)
EXCEPTION: Final = "https://ns.gs1.org/epcis/"
CREATED: Final = "2026-10-01T08:00:00Z"
PLACEHOLDER_KEY: Final = "0" * 32


def erp_event(
    world: World, org: str, event_type: str, items: list[Any], data: dict[str, Any],
    **fields: Any,
) -> dict[str, Any]:  # fmt: skip
    """The EPCIS event an ERP would send: what happened, without a signer or chain links."""
    links = []
    for item in items:
        code, role = (item, "subject") if isinstance(item, str) else item
        starts = may_start_chain(event_type, role)  # placeholders: the ERP knows no heads
        links.append({"code": code, "role": role, "seq": 0 if starts else 1,
                      "prev": None if starts else "sha256:" + "0" * 64})  # fmt: skip
    raw: dict[str, Any] = {
        "v": 1, "type": event_type, "time": world.tick(), "org": org,
        "device_key": PLACEHOLDER_KEY, "actor": world.actors[org].device.actor, "items": links,
        "catalog_version": CATALOG, "data": data, **fields,
    }  # fmt: skip
    raw.setdefault("site", world.actors[org].site)
    event = to_epcis(parse_body(raw))
    event.pop("chemtrace:envelope")
    return event


def erp_document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return epcis_document(events, created=CREATED)


def commissioning(world: World, org: str, code: str) -> dict[str, Any]:
    return erp_event(world, org, "commission", [code], {
        "chemical": "1", "quantity": {"value": "40", "unit": "kg"}, "lot": "L1",
        "packaging": "cylinder",
    })  # fmt: skip


def context(world: World, org: str) -> CaptureContext:
    device = world.actors[org].device
    return CaptureContext(org=org, device_key=device.signer.key_id, actor=device.actor,
                          catalog_version=CATALOG)  # fmt: skip


def push_as(world: World, org: str, document: dict[str, Any], **options: Any) -> Any:
    actor = world.actors[org]
    return push(document, actor.client, actor.device.signer, context(world, org), **options)


def signed(world: World, org: str, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` mapped and signed by ``org``'s device, as the push client sends it."""
    actor = world.actors[org]
    lookup = ServerLookup(actor.client)
    events = sign_document(document, lookup, actor.device.signer, context(world, org))
    return epcis_document(events, created=CREATED)


def post(world: World, org: str, path: str, body: Any, **headers: str) -> httpx.Response:
    token = world.actors[org].client.token
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json",
               **headers}  # fmt: skip
    return httpx.post(world.server.base_url + path, content=json.dumps(body), headers=headers)


def get(world: World, client: ChemtraceClient, path: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {client.token}"}
    return httpx.get(world.server.base_url + path, headers=headers)


def chain(world: World, code: str) -> list[dict[str, Any]]:
    answer = get(world, world.admin, f"/v1/items/{code}/events")
    return [] if answer.status_code == 404 else list(answer.json()["steps"])


def receipt_hash(report: Any, world: World, org: str, index: int) -> str:
    job = get(world, world.actors[org].client, f"/epcis/capture/{report.jobs[-1]}").json()
    return str(job["events"][index]["receipt"]["entry_hash"])


@dataclass
class Chain:
    code: str
    reports: dict[str, list[Any]]


@pytest.fixture(scope="module")
def custody_chain(world: World) -> Chain:
    """producer → carrier → warehouse → user, each party pushing its own ERP document."""
    (code,) = world.issue("p-chem", 1)
    reports: dict[str, list[Any]] = {}

    def party(org: str, *events: dict[str, Any]) -> Any:
        report = push_as(world, org, erp_document(list(events)))
        assert not report.rejected, report.rejected
        reports.setdefault(org, []).append(report)
        return report

    ship_to = {"carrier": "c-move", "consignee": "t-trade", "consignee_site": "t-trade-site",
               "waybill_no": "WB-1"}  # fmt: skip
    producer = party("p-chem", commissioning(world, "p-chem", code),
                     erp_event(world, "p-chem", "ship", [code], ship_to))  # fmt: skip
    first_ship = receipt_hash(producer, world, "p-chem", 1)
    geo = {"lat": "39.5", "lon": "116.5"}
    party("c-move", erp_event(world, "c-move", "waypoint", [code], {"ship": first_ship},
                              geo=geo, site=None))  # fmt: skip
    onward = {"carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site",
              "waybill_no": "WB-2"}  # fmt: skip
    warehouse = party(
        "t-trade",
        erp_event(world, "t-trade", "receive", [code], {"ship": first_ship}),
        erp_event(world, "t-trade", "store_in", [code], {}),
        erp_event(world, "t-trade", "ship", [code], onward),
    )
    second_ship = receipt_hash(warehouse, world, "t-trade", 2)
    party(
        "u-lab",
        erp_event(world, "u-lab", "receive", [code], {"ship": second_ship}),
        erp_event(world, "u-lab", "use", [code], {"quantity": {"value": "5", "unit": "kg"}}),
    )
    return Chain(code, reports)


def test_four_parties_each_push_their_own_document_into_one_custody_chain(
    world: World, custody_chain: Chain
) -> None:
    steps = chain(world, custody_chain.code)
    assert [(s["type"], s["org"]) for s in steps] == [
        ("commission", "p-chem"), ("ship", "p-chem"), ("waypoint", "c-move"),
        ("receive", "t-trade"), ("store_in", "t-trade"), ("ship", "t-trade"),
        ("receive", "u-lab"), ("use", "u-lab"),
    ]  # fmt: skip
    keys = {org: world.actors[org].device.signer.key_id for org in custody_chain.reports}
    assert [s["device_key"] for s in steps] == [keys[s["org"]] for s in steps]
    assert [s["seq"] for s in steps] == list(range(len(steps)))
    verified = get(world, world.admin, f"/v1/items/{custody_chain.code}/verify").json()
    assert verified["verified"] is True, verified
    for org, reports in custody_chain.reports.items():  # each job is its party's, and scoped
        for report in reports:
            own = get(world, world.actors[org].client, f"/epcis/capture/{report.jobs[0]}")
            assert own.status_code == 200 and own.json()["success"] is True
            other = "u-lab" if org != "u-lab" else "p-chem"
            foreign = get(world, world.actors[other].client, f"/epcis/capture/{report.jobs[0]}")
            assert foreign.status_code == 404
        listed = get(world, world.actors[org].client, "/epcis/capture").json()
        assert {r.jobs[0] for r in reports} <= {job["captureID"] for job in listed}
        assert all(job["captureID"] not in {r.jobs[0] for r in reports}
                   for o, rs in custody_chain.reports.items() if o != org
                   for job in get(world, world.actors[o].client, "/epcis/capture").json()
                   for r in rs)  # fmt: skip


def test_capture_query_export_gives_the_same_events_and_hash_ids(
    world: World, custody_chain: Chain
) -> None:
    captured = []
    for org in ("p-chem", "c-move", "t-trade", "u-lab"):
        for report in custody_chain.reports[org]:
            job = get(world, world.actors[org].client, f"/epcis/capture/{report.jobs[0]}").json()
            captured += [(e["receipt"]["index"], e["eventID"]) for e in job["events"]]
    answer = get(world, world.admin, f"/epcis/items/{custody_chain.code}/events").json()
    exported = answer["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [(e["chemtrace:log"]["index"], e["eventID"]) for e in exported] == sorted(captured)
    namespaces = namespaces_of(answer["@context"])
    for event in exported:  # the ID is the CBV hash of what happened, without the signer's
        bare = {k: v for k, v in event.items()
                if k not in ("chemtrace:log", "chemtrace:envelope", "eventID")}  # fmt: skip
        assert event_hash_id(bare, namespaces) == event["eventID"]


def test_an_event_captured_before_is_a_409(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    document = signed(world, "p-chem", erp_document([commissioning(world, "p-chem", code)]))
    (event,) = document["epcisBody"]["eventList"]
    single = {"@context": document["@context"], **event}
    first = post(world, "p-chem", "/epcis/events", single)
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/epcis/capture/{first.json()['captureID']}"
    again = post(world, "p-chem", "/epcis/events", single)
    assert again.status_code == 409, again.text
    problem = again.json()
    assert again.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == EXCEPTION + "ResourceAlreadyExistsException"
    assert problem["code"] == "epcis_duplicate"
    assert problem["eventID"] == first.json()["events"][0]["eventID"]
    as_document = post(world, "p-chem", "/epcis/capture", document)  # the same, in a document
    assert as_document.status_code == 202
    job = as_document.json()
    assert job["success"] is False and job["errors"][0]["code"] == "epcis_duplicate"
    twice = copy.deepcopy(document)  # one document holding one new event twice
    (fresh,) = world.issue("p-chem", 1)
    new = signed(world, "p-chem", erp_document([commissioning(world, "p-chem", fresh)]))
    twice["epcisBody"]["eventList"] = new["epcisBody"]["eventList"] * 2
    job = post(world, "p-chem", "/epcis/capture", twice,
               **{"GS1-Capture-Error-Behaviour": "proceed"}).json()  # fmt: skip
    assert [e["status"] for e in job["events"]] == ["captured", "rejected"]
    assert job["events"][1]["error"]["code"] == "epcis_duplicate"
    assert len(chain(world, fresh)) == 1


def test_rollback_captures_nothing_and_proceed_each_good_event_once(world: World) -> None:
    good = world.issue("p-chem", 2)
    (foreign,) = world.issue("t-trade", 1)  # issued to another organisation: the ledger refuses
    for behaviour in ("rollback", "proceed"):
        codes = good if behaviour == "rollback" else world.issue("p-chem", 2)
        document = signed(world, "p-chem", erp_document(
            [commissioning(world, "p-chem", codes[0]), commissioning(world, "p-chem", foreign),
             commissioning(world, "p-chem", codes[1])]
        ))  # fmt: skip
        answer = post(world, "p-chem", "/epcis/capture", document,
                      **{"GS1-Capture-Error-Behaviour": behaviour})  # fmt: skip
        assert answer.status_code == 202, answer.text
        job = get(world, world.actors["p-chem"].client, answer.headers["location"]).json()
        assert job["captureErrorBehaviour"] == behaviour and job["running"] is False
        assert job["success"] is False
        statuses = [e["status"] for e in job["events"]]
        if behaviour == "rollback":
            assert statuses == ["rejected"] * 3
            assert job["events"][1]["error"]["code"] == "code_issued_to_another_org"
            assert {job["events"][i]["error"]["code"] for i in (0, 2)} == {"group_rejected"}
            assert chain(world, codes[0]) == [] and chain(world, codes[1]) == []
        else:
            assert statuses == ["captured", "rejected", "captured"]
            assert [len(chain(world, c)) for c in codes] == [1, 1]
        assert chain(world, foreign) == []
    # rollback also when an event fails before the ledger: nothing is appended
    (code,) = world.issue("p-chem", 1)
    document = signed(world, "p-chem", erp_document([commissioning(world, "p-chem", code)]))
    unsigned = commissioning(world, "p-chem", world.issue("p-chem", 1)[0])
    document["epcisBody"]["eventList"].append(unsigned)
    job = post(world, "p-chem", "/epcis/capture", document).json()
    assert [e["error"]["code"] for e in job["events"]] == ["epcis_rolled_back", "epcis_unsigned"]
    assert job["errors"][1]["type"] == EXCEPTION + "ValidationException"
    assert chain(world, code) == []


def test_the_schema_the_limits_and_the_headers(world: World) -> None:
    options = httpx.options(world.server.base_url + "/epcis/capture")
    assert options.status_code == 204
    assert options.headers["GS1-EPCIS-Capture-Limit"] == str(LIMIT)
    assert options.headers["GS1-EPCIS-Capture-File-Size-Limit"] == str(SIZE_LIMIT)
    assert options.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert options.headers["GS1-CBV-Version"] == "2.0.0"
    listed = get(world, world.actors["p-chem"].client, "/epcis/capture")
    assert listed.headers["GS1-EPCIS-Capture-Limit"] == str(LIMIT)
    (code,) = world.issue("p-chem", 1)
    event = commissioning(world, "p-chem", code)
    broken = erp_document([{**event, "eventTime": "yesterday"}])
    answer = post(world, "p-chem", "/epcis/capture", broken)
    assert answer.status_code == 400
    assert answer.json()["type"] == EXCEPTION + "ValidationException"
    assert answer.json()["code"] == "epcis_schema"
    assert answer.json()["field"] == "/epcisBody/eventList/0/eventTime"
    many = erp_document([event] * (LIMIT + 1))
    answer = post(world, "p-chem", "/epcis/capture", many)
    assert answer.status_code == 413
    assert answer.json()["type"] == EXCEPTION + "CaptureLimitExceededException"
    assert answer.json()["code"] == "epcis_capture_limit"
    padded = erp_document([{**event, "chemtrace:data": {"note": "x" * SIZE_LIMIT}}])
    answer = post(world, "p-chem", "/epcis/capture", padded)
    assert answer.status_code == 413 and answer.json()["code"] == "epcis_capture_file_size"
    answer = post(world, "p-chem", "/epcis/capture", erp_document([event]),
                  **{"GS1-Capture-Error-Behaviour": "ignore"})  # fmt: skip
    assert answer.status_code == 400 and answer.json()["field"] == "GS1-Capture-Error-Behaviour"
    answer = post(world, "p-chem", "/epcis/capture", erp_document([event]),
                  **{"GS1-EPCIS-Version": "1.2"})  # fmt: skip
    assert answer.status_code == 400 and answer.json()["code"] == "epcis_version"
    regulator = world.regulators["d1"].token
    answer = httpx.post(world.server.base_url + "/epcis/capture", json=erp_document([event]),
                        headers={"Authorization": f"Bearer {regulator}"})  # fmt: skip
    assert answer.status_code == 403


def test_a_captured_event_obeys_the_signature_and_the_token(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    document = signed(world, "p-chem", erp_document([commissioning(world, "p-chem", code)]))
    tampered = copy.deepcopy(document)
    tampered["epcisBody"]["eventList"][0]["ilmd"]["cbvmda:lotNumber"] = "L9"
    job = post(world, "p-chem", "/epcis/capture", tampered).json()
    assert job["events"][0]["error"]["code"] == "bad_signature"
    job = post(world, "t-trade", "/epcis/capture", document).json()  # another org's token
    assert job["events"][0]["error"]["code"] == "forbidden"  # as on /v1/events, journalled
    assert job["errors"][0]["type"] == EXCEPTION + "SecurityException"
    assert chain(world, code) == []
    bare = copy.deepcopy(document)
    del bare["epcisBody"]["eventList"][0][SIGNATURE]
    job = post(world, "p-chem", "/epcis/capture", bare).json()
    assert job["events"][0]["error"]["code"] == "epcis_unsigned"


def test_push_rebases_when_another_device_moved_the_chain(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    producer = world.actors["p-chem"]
    producer.client.submit(world.commission("p-chem", code))
    world.heads.clear()

    class Racing(ChemtraceClient):
        """Another device stores the item between this push's signing and its capture."""

        raced = False

        def capture(self, document: Any, *, behaviour: str = "rollback") -> dict[str, Any]:
            if not self.raced:
                self.raced = True
                world.heads.clear()
                producer.client.sync_head(producer.device, code)
                producer.client.submit(world.event("p-chem", "store_in", [code], {}))
            return super().capture(document, behaviour=behaviour)

    racing = Racing(world.server.base_url, token=producer.client.token)
    ship = {"carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site"}
    document = erp_document([erp_event(world, "p-chem", "store_out", [code], {}),
                             erp_event(world, "p-chem", "ship", [code], ship)])  # fmt: skip
    report = push(document, racing, producer.device.signer, context(world, "p-chem"))
    racing.close()
    assert racing.raced and report.rebases == 1 and report.captured == 2, report
    assert len(report.jobs) == 2
    assert [s["type"] for s in chain(world, code)] == [
        "commission",
        "store_in",
        "store_out",
        "ship",
    ]


def test_the_vendored_schema_is_the_official_one() -> None:
    official = SHARED_DIR / "conformance/gs1/epcis-examples/gs1-EPCIS/EPCIS-JSON-Schema.json"
    assert SCHEMA_PATH.read_bytes() == official.read_bytes()


def test_the_integrator_covers_captured_events(world: World, custody_chain: Chain) -> None:
    def covered() -> bool:
        answer = get(world, world.admin, f"/epcis/items/{custody_chain.code}/events").json()
        events = answer["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return all("inclusion" in e["chemtrace:log"] for e in events)

    assert wait_for(covered)


def test_the_push_command_signs_with_the_device_keystore(world: World, tmp_path: Path) -> None:
    home = DeviceHome(tmp_path / "device")
    signer = home.generate_key()
    world.admin.enrol_device("p-chem", signer.public_key, **VALID)
    home.save_profile(Profile(server=world.server.base_url, org="p-chem",
                              actor=world.actors["p-chem"].device.actor, key_id=signer.key_id,
                              valid_until=VALID["valid_until"], catalog_version=CATALOG))  # fmt: skip
    (code,) = world.issue("p-chem", 1)
    erp = tmp_path / "erp.jsonld"
    erp.write_text(json.dumps(erp_document([commissioning(world, "p-chem", code)])))
    token = world.actors["p-chem"].client.token
    assert token is not None
    done = run_cli("epcis", "push", str(erp), "--server", world.server.base_url, "--token",
                   token, "--home", str(home.root), "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["captured"] == 1
    (step,) = chain(world, code)
    assert step["device_key"] == signer.key_id
    again = run_cli("epcis", "push", str(erp), "--server", world.server.base_url, "--token",
                    token, "--home", str(home.root), "--json", cwd=tmp_path)  # fmt: skip
    assert again.returncode == 1  # the same document again: the same occurrence, a 409
    assert json.loads(again.stdout)["rejected"][0]["error"]["code"] == "epcis_duplicate"
    assert len(chain(world, code)) == 1
    erp.write_text(json.dumps({"type": "EPCISDocument"}))
    invalid = run_cli("epcis", "push", str(erp), "--token", token, "--home", str(home.root),
                      cwd=tmp_path)  # fmt: skip
    assert invalid.returncode == 2
    assert "epcis_schema" in invalid.stderr


class _CheckedError(Exception):
    pass


@pytest.mark.parametrize("route", ["capture", "capture_event"])
def test_the_schema_check_runs_off_the_event_loop(
    route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validating a 1,000-event document takes about a second of CPU: on the event loop it
    stalled every other request of the process for that long (py-spy: a quarter of the
    server's samples during capture)."""
    import asyncio
    from types import SimpleNamespace

    from starlette.requests import Request

    from api.routes import epcis_capture

    where: list[str] = []

    def check(document: object) -> None:
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("worker thread")
        raise _CheckedError

    monkeypatch.setattr(epcis_capture, "validate_document", check)
    body = json.dumps(erp_document([]) if route == "capture" else {"type": "ObjectEvent"})
    limits = SimpleNamespace(epcis_capture=SimpleNamespace(file_size_limit=1 << 20))
    scope = {"type": "http", "method": "POST", "path": "/epcis/capture", "query_string": b"",
             "headers": [(b"content-type", b"application/ld+json")],
             "app": SimpleNamespace(state=SimpleNamespace(service=limits))}  # fmt: skip

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body.encode(), "more_body": False}

    call = getattr(epcis_capture, route)
    with pytest.raises(_CheckedError):
        asyncio.run(call(Request(scope, receive), principal=None, epcis_version=None,
                         cbv_version=None))  # fmt: skip
    assert where == ["worker thread"]
