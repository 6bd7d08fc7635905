"""The authorization matrix: every role against every endpoint, over real HTTP.

One real ``chemtrace serve`` process per backend (SQLite; PostgreSQL + Redis) and one
seeded world per process (module-scoped: a server per case would be far too slow). Each
row of :data:`ENDPOINTS` is one endpoint with the exact outcome expected for each of the
nine callers in :data:`ROLES`: the status, the problem+json ``code`` of a refusal, what a
listing must show and hide, and whether a refused write really left no trace.

The item used for reads is ``item:A``: issued to p-chem and commissioned at p-chem's
``p-store`` in district d1. Its mirror ``item:B`` belongs to u-lab (d2). So for item A,
"own" means p-chem / d1 and "other" means u-lab / d2. Write rows that must succeed create
what they need afresh (codes, devices, tokens), so rows do not depend on their order.

:func:`test_the_matrix_covers_every_route` (the app's routes, in the schema or not) and
:func:`test_the_matrix_covers_every_openapi_operation` (the live server's OpenAPI) fail when
an endpoint exists that no row covers, so a new endpoint cannot escape the matrix. Known
service bugs are strict xfails whose reason names the bug.
"""

from __future__ import annotations

import base64
import itertools
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import fastapi.routing
import httpx
import pytest

from api.app import create_app
from ledger.builder import DeviceSession
from ledger.codes import generate_code
from ledger.commitments import disclose
from ledger.rules import Finding
from ledger.signing import Ed25519Signer
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore
from tests.api.live import (
    BACKENDS,
    CATALOG,
    ORGS,
    VALID,
    LiveServer,
    World,
    shared_server,
    wait_for,
    without_request_id,
)

PROBLEM_JSON = "application/problem+json"
ROLES = (
    "anon", "bad_token", "disabled", "admin", "ent_own", "ent_other", "reg_own", "reg_other",
    "inspector",
)  # fmt: skip
UNAUTHENTICATED_ROLES = ("anon", "bad_token", "disabled")
D1_ORGS = frozenset(org for org, (_, district) in ORGS.items() if district == "d1")
D2_ORGS = frozenset(org for org, (_, district) in ORGS.items() if district == "d2")
FAR_DISTRICT = "d9"  # orgs the matrix creates live here, outside every scoped caller's view
BAD_TOKEN = "ct_" + "A" * 43
INSPECTOR = disclose("person", "d1 duty inspector").commitment
MISSING_FINDING = "f-" + "0" * 32


# --------------------------------------------------------------------------------------------
# the table's vocabulary


@dataclass(frozen=True)
class Call:
    """One concrete request, and what the row's checks need to know about it."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    refs: dict[str, Any] = field(default_factory=dict)


Check = Callable[["Matrix", Call, httpx.Response], None]


@dataclass(frozen=True)
class Expect:
    """The outcome one caller must get from one endpoint.

    ``sees``/``hides``/``only`` apply to listings, through the endpoint's ``keys`` (what is
    listed) and ``owners`` (who each listed thing belongs to); names like ``item:A`` are
    resolved against the seeded world (:meth:`Matrix.ref`).
    """

    status: int
    code: str | None = None
    sees: frozenset[str] = frozenset()
    hides: frozenset[str] = frozenset()
    only: frozenset[str] | None = None
    check: Check | None = None
    bug: str | None = None  # a known service bug: the case is a strict xfail with this reason


def E(  # noqa: N802 - a short constructor keeps the table readable
    status: int,
    code: str | None = None,
    *,
    sees: tuple[str, ...] | frozenset[str] = (),
    hides: tuple[str, ...] | frozenset[str] = (),
    only: tuple[str, ...] | frozenset[str] | None = None,
    check: Check | None = None,
) -> Expect:
    return Expect(status, code, frozenset(sees), frozenset(hides),
                  None if only is None else frozenset(only), check)  # fmt: skip


OK, CREATED = E(200), E(201)
UNAUTHENTICATED = E(401, "unauthenticated")
FORBIDDEN = E(403, "forbidden")


def authed(
    *, admin: Expect, ent_own: Expect, ent_other: Expect, reg_own: Expect, reg_other: Expect,
    inspector: Expect,
) -> dict[str, Expect]:  # fmt: skip
    """An endpoint behind a token: no token, a bad one and a disabled user's are all 401."""
    return {**dict.fromkeys(UNAUTHENTICATED_ROLES, UNAUTHENTICATED), "admin": admin,
            "ent_own": ent_own, "ent_other": ent_other, "reg_own": reg_own,
            "reg_other": reg_other, "inspector": inspector}  # fmt: skip


def everyone(expect: Expect) -> dict[str, Expect]:
    """A public endpoint: every caller, tokens good, bad or disabled, gets the same."""
    return dict.fromkeys(ROLES, expect)


def admin_only(created: Expect, refused_check: Check | None = None) -> dict[str, Expect]:
    refused = replace(FORBIDDEN, check=refused_check)
    return authed(admin=created, ent_own=refused, ent_other=refused, reg_own=refused,
                  reg_other=refused, inspector=refused)  # fmt: skip


def with_check(expect: Expect, check: Check) -> Expect:
    return replace(expect, check=check)


def bug(expect: Expect, reason: str) -> Expect:
    return replace(expect, bug=reason)


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str  # as the OpenAPI document (and the router) spell it
    call: Callable[[Matrix], Call]
    expect: Mapping[str, Expect]
    keys: Callable[[Any], set[str]] | None = None
    owners: Callable[[Any], set[str]] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.template)


# --------------------------------------------------------------------------------------------
# the running world


class Matrix:
    """One server, its seeded world, one raw HTTP client and a token for every role."""

    def __init__(self, backend: str, server: LiveServer, world: World) -> None:
        self.backend, self.server, self.world = backend, server, world
        self.http = httpx.Client(base_url=server.base_url, timeout=30)
        self.tokens: dict[str, str | None] = {"anon": None, "bad_token": BAD_TOKEN}
        self.refs: dict[str, str] = {}
        self._serial = itertools.count(1)

    def close(self) -> None:
        self.http.close()

    def uid(self, prefix: str) -> str:
        return f"{prefix}-{next(self._serial)}"

    def ref(self, name: str) -> str:
        return self.refs.get(name, name)

    def headers(self, token: str | None) -> dict[str, str]:
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    def send(self, role: str, call: Call) -> httpx.Response:
        return self.http.request(call.method, call.path, params=call.params, json=call.json,
                                 headers=self.headers(self.tokens[role]))  # fmt: skip

    def as_token(self, token: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers(token), **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.as_token(self.server.admin_token, method, path, **kwargs)
        assert response.status_code < 400, response.text
        return response.json()

    def journal(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/v1/security/journal", params={"limit": 1000}))

    def code_for(self, org: str) -> str:
        (code,) = self.world.issue(org, 1)
        return code

    def commission(self, org: str, code: str, site: str | None = None) -> dict[str, Any]:
        return self.world.event(org, "commission", [code], {
            "chemical": "1", "quantity": {"value": "40", "unit": "kg"}, "lot": "L1",
            "packaging": "cylinder",
        }, **({"site": site} if site else {}))  # fmt: skip

    def commissioned(self, org: str, site: str | None = None) -> str:
        """A fresh item, commissioned by ``org``."""
        code = self.code_for(org)
        response = self.as_token(self.world.actors[org].client.token, "POST", "/v1/events",
                                 json=self.commission(org, code, site))  # fmt: skip
        assert response.status_code == 201, response.text
        return code

    def events_of(self, code: str) -> int:
        return int(self.admin("GET", f"/v1/items/{code}")["events"])


@pytest.fixture(scope="module", params=BACKENDS)
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    backend = str(request.param)
    home = tmp_path_factory.mktemp("authz")
    # the matrix subscribes hooks on 127.0.0.1, which webhooks may reach only when allowed
    allow = {"CHEMTRACE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32"}
    with shared_server(request, home, backend, **allow) as (server, world):
        m = Matrix(backend, server, world)
        try:
            _seed(m)
            yield m
        finally:
            m.close()


def _seed(m: Matrix) -> None:
    """Items A (p-chem, d1) and B (u-lab, d2), records of both orgs, journal entries in
    both districts, a victim for token revocation and a disabled user."""
    world, admin = m.world, m.world.admin
    m.tokens.update(
        admin=m.server.admin_token,
        ent_own=world.actors["p-chem"].client.token,
        ent_other=world.actors["u-lab"].client.token,
        ent_peer=world.actors["t-trade"].client.token,  # another org in p-chem's district
        reg_own=world.regulators["d1"].token,
        reg_other=world.regulators["d2"].token,
        inspector=world.actors["d1-inspect"].client.token,
    )
    for org, tag, district, item in (("p-chem", "p", "d1", "A"), ("u-lab", "u", "d2", "B")):
        admin.put_site(f"{tag}-store", org=org, name=f"{org} store", address="1 Store Road",
                       district=district, lat="39.5", lon="116.5", capacity_t="50",
                       major_hazard=False)  # fmt: skip
        admin.put_vehicle(f"{tag}-van", org=org, plate=f"京A{item}0001",
                          transport_licence=f"TL-{tag}", un_classes=["2.3"],
                          valid_until=VALID["valid_until"])  # fmt: skip
        admin.put_crew(f"{tag}-driver", org=org, role="driver", certificate_no=f"DC-{tag}",
                       person={"name": f"{org} driver", "id_number": "110101199001011234"},
                       **VALID)  # fmt: skip
        admin.put_permit(f"{tag}-permit", kind="purchase_permit", number=f"PP-{tag}", org=org,
                         chemicals=["1"], **VALID)  # fmt: skip
        admin.put_licence(licence_no=f"LIC-{tag}", org=org, kind="production",
                          activities=["produce"], chemicals=["1"], **VALID)  # fmt: skip
        m.refs[f"item:{item}"] = m.commissioned(org, site=f"{tag}-store")
        chain = m.admin("GET", f"/v1/items/{m.refs[f'item:{item}']}/events")
        m.refs[f"event:{item}"] = chain["steps"][0]["event_hash"]
    m.refs["label:A"] = "/" + admin.item(m.ref("item:A"))["label_url"].split("/", 3)[3]
    m.refs["gs1:A"] = "(01)09506000134352(21)MATRIX-A"
    (keyed,) = admin.issue_codes(org="p-chem", form="1.1", packaging="cylinder", count=1,
                                 batch="GS1A", gs1_keys=[m.refs["gs1:A"]])  # fmt: skip
    m.refs["gs1-code:A"] = keyed["code"]
    # one fraud-journal entry per district: each enterprise writes for the other's org
    for author, victim, district in (("u-lab", "p-chem", "d1"), ("p-chem", "u-lab", "d2")):
        code = m.code_for(victim)
        refused = m.as_token(world.actors[author].client.token, "POST", "/v1/events",
                             json=m.commission(victim, code))  # fmt: skip
        assert refused.status_code == 403, refused.text
        m.refs[f"journal:{district}"] = code
    admin.put_user("victim", role="enterprise", org="t-trade", name="token revocation target")
    admin.put_user("gone", role="enterprise", org="p-chem", name="left the company")
    m.tokens["disabled"] = admin.issue_token("gone")
    assert m.as_token(m.tokens["disabled"], "GET", "/v1/orgs").status_code == 200
    admin.put_user("gone", role="enterprise", org="p-chem", name="left the company",
                   status="disabled")  # fmt: skip
    # findings A (p-chem, d1) and B (u-lab, d2), as the anomaly engine would store them
    found_a, found_b = matrix_finding("p-chem", "d1"), matrix_finding("u-lab", "d2")
    save_findings(m, found_a, found_b)
    m.refs.update({"finding:A": found_a.id, "finding:B": found_b.id,
                   "missing:finding": MISSING_FINDING})  # fmt: skip
    # a named EPCIS query of each organisation's, by the same name in neither
    for org, name in (("p-chem", "matrix-query-a"), ("u-lab", "matrix-query-b")):
        made = m.as_token(world.actors[org].client.token, "POST", "/epcis/queries",
                          json={"name": name, "query": {}})  # fmt: skip
        assert made.status_code == 201, made.text
        m.refs[f"query:{name[-1].upper()}"] = name
    # bundles and verification need a checkpoint covering the seeded items
    wait_for(lambda: all(_verified(m, m.ref(n)) for n in ("item:A", "item:B")), timeout=20)


def matrix_finding(org: str, district: str) -> Finding:
    """A finding that is its own group (``transport.documents_missing`` keeps subject = key,
    so each call makes a fresh open one)."""
    return Finding(rule="transport.documents_missing", key=uuid.uuid4().hex, severity="low",
                   at="2026-10-02T08:00:00Z", message=f"matrix finding of {org}",
                   evidence=("sha256:" + "ef" * 32,), org=org, site=f"{org}-site",
                   district=district, chemical="1")  # fmt: skip


def save_findings(m: Matrix, *findings: Finding) -> None:
    engine = make_engine(m.server.db_url)
    try:
        FindingStore(engine).save(list(findings))
    finally:
        engine.dispose()


def _verified(m: Matrix, code: str) -> bool:
    response = m.as_token(m.server.admin_token, "GET", f"/v1/items/{code}/verify")
    return response.status_code == 200 and bool(response.json()["verified"])


# --------------------------------------------------------------------------------------------
# checks run after a row's request


def no_events(m: Matrix, call: Call, _: httpx.Response) -> None:
    """A refused write left the item untouched."""
    for code in call.refs["codes"]:
        assert m.events_of(code) == 0, f"{code} got an event from a refused write"


def written(m: Matrix, call: Call, _: httpx.Response) -> None:
    for code in call.refs["codes"]:
        assert m.events_of(code) == 1


def journaled(user_id: str) -> Check:
    """The refused write is in the security journal, attributed to the caller."""

    def check(m: Matrix, call: Call, _: httpx.Response) -> None:
        entries = m.journal()
        assert any(
            e["code"] == "org_mismatch" and e["user_id"] == user_id
            and e["item_code"] == call.refs["codes"][0]
            for e in entries
        ), f"no org_mismatch by {user_id} for {call.refs['codes'][0]} in the journal"  # fmt: skip

    return check


def batch_accepted(m: Matrix, call: Call, response: httpx.Response) -> None:
    assert response.json()["accepted"] == 1
    written(m, call, response)


def issued_to(org: str) -> Check:
    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        body = response.json()
        assert body["org"] == org and body["count"] == 1
        assert body["codes"][0]["record"]["facts"]["org"] == org

    return check


def media(kind: str) -> Check:
    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        assert response.headers["content-type"].startswith(kind)

    return check


def verdict(expected: str) -> Check:
    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        assert f'data-verdict="{expected}"' in response.text

    return check


def record_absent(path: str) -> Check:
    def check(m: Matrix, call: Call, _: httpx.Response) -> None:
        found = m.as_token(m.server.admin_token, "GET", f"/v1/{path}/{call.refs['id']}")
        assert found.status_code == 404, "a refused registry write was logged"

    return check


def record_present(path: str) -> Check:
    def check(m: Matrix, call: Call, _: httpx.Response) -> None:
        m.admin("GET", f"/v1/{path}/{call.refs['id']}")

    return check


def licence_absent(m: Matrix, call: Call, _: httpx.Response) -> None:
    numbers = {lic["licence_no"] for lic in m.admin("GET", "/v1/licences")}
    assert call.refs["id"] not in numbers


def device_absent(m: Matrix, call: Call, _: httpx.Response) -> None:
    keys = {d["subject"]["public_key"] for d in m.admin("GET", "/v1/devices")}
    assert call.refs["public_key"] not in keys, "a refused enrolment certified the key"


def device_writes(expected: int, code: str | None) -> Check:
    """After the revocation attempt, the device's next event gets ``expected`` (and ``code``)."""

    def check(m: Matrix, call: Call, _: httpx.Response) -> None:
        session: DeviceSession = call.refs["session"]
        item = m.code_for("p-chem")
        envelope = session.event("commission", [item], {
            "chemical": "1", "quantity": {"value": "1", "unit": "kg"}, "lot": "L9",
            "packaging": "cylinder",
        }, time=m.world.tick(), site="p-chem-site")  # fmt: skip
        answer = m.as_token(m.tokens["ent_own"], "POST", "/v1/events", json=envelope)
        assert answer.status_code == expected, answer.text
        if code is not None:
            assert answer.json()["code"] == code

    return check


def token_works(expected: int) -> Check:
    def check(m: Matrix, call: Call, _: httpx.Response) -> None:
        status = m.as_token(call.refs["token"], "GET", "/v1/orgs").status_code
        assert status == expected, f"the victim's token answers {status}"

    return check


def revoked_some(m: Matrix, call: Call, response: httpx.Response) -> None:
    assert response.json()["revoked"] >= 1
    token_works(401)(m, call, response)


def new_token_works(m: Matrix, _: Call, response: httpx.Response) -> None:
    token = response.json()["token"]
    assert m.as_token(token, "GET", "/v1/orgs").status_code == 200


def inventory_totals_match(_: Matrix, __: Call, response: httpx.Response) -> None:
    body = response.json()
    assert sum(total["items"] for total in body["totals"]) == len(body["items"])


def journal_within(*districts: str) -> Check:
    """A regulator's journal holds only entries of its districts (by org or by place)."""

    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        for entry in response.json():
            org_district = ORGS[entry["org"]][1] if entry["org"] in ORGS else None
            assert entry["district"] in districts or org_district in districts, entry

    return check


def json_at(name: str | None, expected: Any) -> Check:
    """The JSON body (or its member ``name``) is exactly ``expected``."""

    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        body = response.json()
        assert (body if name is None else body[name]) == expected, body

    return check


def packs_sites(present: str, absent: str) -> Check:
    """The responder pack holds the district's site and not the other district's."""

    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        sites = {site["site"] for site in response.json()["sites"]}
        assert present in sites and absent not in sites, sites

    return check


def nearby_sites(*expected: str) -> Check:
    """The emergency answer lists exactly these sites (both stores sit on one point)."""

    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        assert sorted(site["site"] for site in response.json()["sites"]) == sorted(expected)

    return check


def graded(org: str) -> Check:
    """A risk grade of ``org`` whose reasons add up to its points."""

    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        body = response.json()
        assert body["org"] == org and body["grade"] in "ABCD"
        assert body["points"] == sum(reason["points"] for reason in body["reasons"])

    return check


def listed_ids(*expected: str) -> Check:
    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        assert [record["id"] for record in response.json()] == list(expected), response.text

    return check


def also(*checks: Check) -> Check:
    def check(m: Matrix, call: Call, response: httpx.Response) -> None:
        for each in checks:
            each(m, call, response)

    return check


# --------------------------------------------------------------------------------------------
# requests


def get(path: str, **params: Any) -> Callable[[Matrix], Call]:
    """A GET of ``path``, with ``{ref}`` placeholders filled from the seeded world."""

    def make(m: Matrix) -> Call:
        return Call("GET", re.sub(r"\{([^}]+)\}", lambda g: m.ref(g.group(1)), path),
                    params={k: m.ref(v) if isinstance(v, str) else v for k, v in params.items()}
                    or None)  # fmt: skip

    return make


def commission_call(batch: bool) -> Callable[[Matrix], Call]:
    """p-chem's device commissions a fresh p-chem item: the write p-chem's token may make."""

    def make(m: Matrix) -> Call:
        code = m.code_for("p-chem")
        envelope = m.commission("p-chem", code)
        return Call("POST", "/v1/events:batch" if batch else "/v1/events",
                    json={"events": [envelope]} if batch else envelope,
                    refs={"codes": [code]})  # fmt: skip

    return make


EMPTY_EPCIS = {
    "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
    "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-12-07T00:00:00Z",
    "epcisBody": {"eventList": []},
}  # fmt: skip


_NO_JOB = E(404, "capture_job_not_found")
_NO_QUERY = E(404, "epcis_query_not_found")


def query_names(body: Any) -> set[str]:
    return {query["name"] for query in body}


def create_query_call(m: Matrix) -> Call:
    return Call("POST", "/epcis/queries", json={"name": m.uid("mq"), "query": {}})


def query_created(m: Matrix, call: Call, response: httpx.Response) -> None:
    name = call.json["name"]
    assert response.headers["location"] == f"/epcis/queries/{name}"
    assert response.json() == {"name": name, "query": {}}


def delete_query_call(m: Matrix) -> Call:
    """A fresh query of p-chem's, and the request deleting it."""
    name = m.uid("mq-del")
    made = m.as_token(m.tokens["ent_own"], "POST", "/epcis/queries",
                      json={"name": name, "query": {}})  # fmt: skip
    assert made.status_code == 201, made.text
    return Call("DELETE", f"/epcis/queries/{name}", refs={"name": name})


def query_kept(expected: bool) -> Check:
    def check(m: Matrix, call: Call, _: httpx.Response) -> None:
        found = m.as_token(m.tokens["ent_own"], "GET", f"/epcis/queries/{call.refs['name']}")
        assert found.status_code == (200 if expected else 404), found.text

    return check


_QUERY_STAYS = E(404, "epcis_query_not_found", check=query_kept(True))


def capture_call(path: str) -> Callable[[Matrix], Call]:
    """An EPCIS capture whose document captures nothing: who may capture at all."""

    def make(m: Matrix) -> Call:
        return Call("POST", path, json=EMPTY_EPCIS)

    return make


def issue_call(m: Matrix) -> Call:
    return Call("POST", "/v1/codes:issue", json={"org": "p-chem", "form": "1.1",
                "packaging": "cylinder", "batch": "MX", "count": 1})  # fmt: skip


REGISTRY_BODIES: dict[str, Callable[[str], dict[str, Any]]] = {
    "orgs": lambda rid: {"id": rid, "name": "Matrix Org", "type": "trader",
                         "district": FAR_DISTRICT},
    "sites": lambda rid: {"id": rid, "org": "p-chem", "name": "Matrix site", "address": "9 Road",
                          "district": "d1", "lat": "39.9", "lon": "116.9", "capacity_t": "10",
                          "major_hazard": False},
    "vehicles": lambda rid: {"id": rid, "org": "p-chem", "plate": "京A99999",
                             "transport_licence": "TL-9", "un_classes": ["2.3"],
                             "valid_until": VALID["valid_until"]},
    "crew": lambda rid: {"id": rid, "org": "p-chem", "role": "escort", "certificate_no": "EC-9",
                         "person": {"name": "Li Na", "id_number": "110101199202022345"},
                         **VALID},
    "permits": lambda rid: {"id": rid, "kind": "police_filing", "number": "PF-9",
                            "org": "p-chem", "chemicals": ["1"], **VALID},
    "users": lambda rid: {"id": rid, "role": "enterprise", "org": "p-chem",
                          "name": "Matrix user"},
}  # fmt: skip
ONE_RECORD = {"orgs": "p-chem", "sites": "p-chem-site", "vehicles": "p-van",
              "crew": "p-driver", "permits": "p-permit", "users": "user-p-chem"}  # fmt: skip
OTHER_RECORD = {"orgs": "u-lab", "sites": "u-lab-site", "vehicles": "u-van",
                "crew": "u-driver", "permits": "u-permit", "users": "user-u-lab"}  # fmt: skip


def registry_create(path: str) -> Callable[[Matrix], Call]:
    def make(m: Matrix) -> Call:
        rid = m.uid(f"mx-{path}")
        return Call("POST", f"/v1/{path}", json=REGISTRY_BODIES[path](rid), refs={"id": rid})

    return make


def licence_call(m: Matrix) -> Call:
    number = m.uid("LX").upper()
    return Call("POST", "/v1/licences", json={
        "licence_no": number, "org": "p-chem", "kind": "storage", "activities": ["store"],
        "chemicals": ["1"], **VALID,
    }, refs={"id": number})  # fmt: skip


def enrol_call(m: Matrix) -> Call:
    key = base64.b64encode(Ed25519Signer.generate().public_key).decode()
    return Call("POST", "/v1/devices", json={"org": "p-chem", "public_key": key, **VALID},
                refs={"public_key": key})  # fmt: skip


def revoke_call(m: Matrix) -> Call:
    """A fresh p-chem device (enrolled by the admin) whose revocation is attempted."""
    signer = Ed25519Signer.generate()
    key_id = m.world.admin.enrol_device("p-chem", signer.public_key, **VALID)
    actor = m.world.actors["p-chem"].device.actor
    session = DeviceSession(signer=signer, org="p-chem", actor=actor, catalog_version=CATALOG,
                            heads=m.world.heads)  # fmt: skip
    return Call("POST", f"/v1/devices/{key_id}:revoke",
                json={"effective_from": "2026-01-02T00:00:00Z", "reason": "lost handset"},
                refs={"session": session})  # fmt: skip


def tokens_call(method: str) -> Callable[[Matrix], Call]:
    def make(m: Matrix) -> Call:
        token = m.world.admin.issue_token("victim") if method == "DELETE" else None
        return Call(method, "/v1/users/victim/tokens", refs={"token": token})

    return make


def findings_within(*, districts: tuple[str, ...] | None = None, org: str | None = None) -> Check:
    """Every listed finding is in the caller's districts (or about its organisation)."""

    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        for found in response.json()["findings"]:
            assert districts is None or found["district"] in districts, found
            assert org is None or found["org"] == org, found

    return check


def transition_call(m: Matrix) -> Call:
    """A fresh open finding of p-chem in d1, and the request acknowledging it."""
    made = matrix_finding("p-chem", "d1")
    save_findings(m, made)
    return Call("POST", f"/v1/findings/{made.id}:transition",
                json={"status": "acknowledged", "comment": "matrix review"},
                refs={"finding": made.id})  # fmt: skip


def finding_status(expected: str) -> Check:
    def check(m: Matrix, call: Call, _: httpx.Response) -> None:
        detail = m.admin("GET", f"/v1/findings/{call.refs['finding']}")
        assert detail["finding"]["status"] == expected
        assert len(detail["transitions"]) == (0 if expected == "open" else 1)

    return check


def _hook_ids(m: Matrix) -> set[str]:
    return {hook["id"] for hook in m.admin("GET", "/v1/webhooks")}


def webhook_call(m: Matrix) -> Call:
    return Call("POST", "/v1/webhooks", json={"url": "http://127.0.0.1:9/matrix"},
                refs={"before": _hook_ids(m)})  # fmt: skip


def hook_created(m: Matrix, call: Call, response: httpx.Response) -> None:
    assert _hook_ids(m) == call.refs["before"] | {response.json()["id"]}


def no_hook_created(m: Matrix, call: Call, _: httpx.Response) -> None:
    assert _hook_ids(m) == call.refs["before"], "a refused subscription was stored"


def hooks_of(user_id: str) -> Check:
    def check(_: Matrix, __: Call, response: httpx.Response) -> None:
        assert {hook["user_id"] for hook in response.json()} <= {user_id}

    return check


def unsubscribe_call(m: Matrix) -> Call:
    """A fresh webhook of d1's regulator, and the request ending it."""
    made = m.as_token(m.tokens["reg_own"], "POST", "/v1/webhooks",
                      json={"url": "http://127.0.0.1:9/matrix"})  # fmt: skip
    assert made.status_code == 201, made.text
    hook = made.json()["id"]
    return Call("DELETE", f"/v1/webhooks/{hook}", refs={"hook": hook})


def hook_kept(expected: bool) -> Check:
    def check(m: Matrix, call: Call, _: httpx.Response) -> None:
        assert (call.refs["hook"] in _hook_ids(m)) is expected

    return check


# --------------------------------------------------------------------------------------------
# listings: what is listed, and whose it is


def _codes(items: list[dict[str, Any]]) -> set[str]:
    return {item["code"] for item in items}


def _holders(items: list[dict[str, Any]]) -> set[str]:
    return {item["holder"] for item in items}


def _record_owners(path: str) -> Callable[[Any], set[str]]:
    if path in ("orgs", "users"):
        return lambda body: {record["id"] for record in body}
    return lambda body: {record["attrs"]["org"] for record in body}


ITEM_LISTING = authed(
    admin=E(200, sees=("item:A", "item:B")),
    ent_own=E(200, sees=("item:A",), hides=("item:B",), only=("p-chem",)),
    ent_other=E(200, sees=("item:B",), hides=("item:A",), only=("u-lab",)),
    reg_own=E(200, sees=("item:A",), hides=("item:B",), only=D1_ORGS),
    reg_other=E(200, sees=("item:B",), hides=("item:A",), only=D2_ORGS),
    inspector=E(200, sees=("item:A",), hides=("item:B",), only=D1_ORGS),
)


def _epcis_codes(body: Any) -> set[str]:
    """The trace codes named by the events of an EPCIS query document."""
    events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    fields = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
    epcs = [epc for event in events for name in fields for epc in event.get(name, [])]
    return {epc.removeprefix("urn:chemtrace:code:") for epc in epcs}


def _members(body: Any) -> set[str]:
    """The members of an EPCIS collection, trace codes without their URN prefix."""
    return {member.removeprefix("urn:chemtrace:code:") for member in body["member"]}


def epcis_event_call(m: Matrix) -> Call:
    """Item A's commissioning, by the CBV hash ID the query exports it with."""
    chain = m.admin("GET", f"/epcis/items/{m.ref('item:A')}/events")
    event_id = chain["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["eventID"]
    return Call("GET", "/epcis/events/" + quote(event_id, safe=""))


def epcis_path(
    resource: str, value: str, tail: str = "/events", **params: Any
) -> Callable[[Matrix], Call]:
    """``/epcis/{resource}/{value}{tail}``, the value URL-encoded (``{ref}``s filled)."""

    def make(m: Matrix) -> Call:
        filled = re.sub(r"\{([^}]+)\}", lambda g: m.ref(g.group(1)), value)
        return get(f"/epcis/{resource}/{quote(filled, safe='')}{tail}", **params)(m)

    return make


EPCIS_SITES = authed(  # the bizLocations of items A (p-store, d1) and B (u-store, d2)
    admin=E(200, sees=("urn:chemtrace:site:p-store", "urn:chemtrace:site:u-store")),
    ent_own=E(200, sees=("urn:chemtrace:site:p-store",), hides=("urn:chemtrace:site:u-store",)),
    ent_other=E(200, sees=("urn:chemtrace:site:u-store",), hides=("urn:chemtrace:site:p-store",)),
    reg_own=E(200, sees=("urn:chemtrace:site:p-store",), hides=("urn:chemtrace:site:u-store",)),
    reg_other=E(200, sees=("urn:chemtrace:site:u-store",), hides=("urn:chemtrace:site:p-store",)),
    inspector=E(200, sees=("urn:chemtrace:site:p-store",), hides=("urn:chemtrace:site:u-store",)),
)
ITEM_A_EPCIS = authed(  # item A's events: an empty answer, never a 404, out of scope
    admin=E(200, sees=("item:A",)), ent_own=E(200, sees=("item:A",)),
    ent_other=E(200, hides=("item:A",)), reg_own=E(200, sees=("item:A",)),
    reg_other=E(200, hides=("item:A",)), inspector=E(200, sees=("item:A",)),
)  # fmt: skip
_NO_EVENT = E(404, "epcis_event_not_found")
EVENT_TYPES = ["AggregationEvent", "AssociationEvent", "ObjectEvent", "TransactionEvent",
               "TransformationEvent"]  # fmt: skip


def redirects_to_label(m: Matrix, call: Call, response: httpx.Response) -> None:
    """The resolver's redirect opens the keyed code's genuine label page."""
    page = m.http.get(response.headers["location"])
    verdict("genuine")(m, call, page)
    assert m.ref("gs1-code:A") in page.text


ITEM_LISTING_EPCIS = {  # the events of the items in scope: no holder to check "only" against
    role: replace(expect, only=None) for role, expect in ITEM_LISTING.items()
}
ITEM_LISTING_EPCIS_ANY = {  # what any custody reader may list: no owner to check
    role: replace(expect, sees=frozenset(), hides=frozenset(), only=None)
    for role, expect in ITEM_LISTING.items()
}


def readers_alike(check: Check) -> dict[str, Expect]:
    """What every custody reader gets alike, with ``check``."""
    return {role: with_check(e, check) if e.status == 200 else e
            for role, e in ITEM_LISTING_EPCIS_ANY.items()}  # fmt: skip


ORG_LISTING = authed(  # registries, licences and devices: owners are organisations
    admin=E(200, sees=("p-chem", "u-lab")),
    ent_own=E(200, sees=("p-chem",), only=("p-chem",)),
    ent_other=E(200, sees=("u-lab",), only=("u-lab",)),
    reg_own=E(200, sees=("p-chem",), only=D1_ORGS),
    reg_other=E(200, sees=("u-lab",), only=D2_ORGS),
    inspector=E(200, sees=("p-chem",), only=D1_ORGS),
)
USER_LISTING = authed(
    admin=E(200, sees=("user-p-chem", "reg-d1", "admin")),
    ent_own=E(200, only=()), ent_other=E(200, only=()), reg_own=E(200, only=()),
    reg_other=E(200, only=()), inspector=E(200, only=()),
)  # fmt: skip


def item_read(check: Check | None = None) -> dict[str, Expect]:
    """Item A's reads: in scope for p-chem, d1 and the admin; missing for everyone else."""
    ok = E(200, check=check)
    hidden = E(404, "item_not_found")
    return authed(admin=ok, ent_own=ok, ent_other=hidden, reg_own=ok, reg_other=hidden,
                  inspector=ok)  # fmt: skip


def resolves_to(ref: str) -> Check:
    def check(m: Matrix, call: Call, response: httpx.Response) -> None:
        assert response.json()["code"] == m.ref(ref)

    return check


def label_read(check: Check) -> dict[str, Expect]:
    ok = E(200, check=check)
    return authed(admin=ok, ent_own=ok, ent_other=E(404, "unknown_code"), reg_own=ok,
                  reg_other=E(404, "unknown_code"), inspector=ok)  # fmt: skip


def record_read(path: str) -> dict[str, Expect]:
    kind = {"orgs": "org", "sites": "site", "vehicles": "vehicle", "crew": "crew",
            "permits": "permit", "users": "user"}[path]  # fmt: skip
    hidden = E(404, f"{kind}_not_found")
    if path == "users":  # user records are the admin's alone
        return authed(admin=OK, ent_own=hidden, ent_other=hidden, reg_own=hidden,
                      reg_other=hidden, inspector=hidden)  # fmt: skip
    return authed(admin=OK, ent_own=OK, ent_other=hidden, reg_own=OK, reg_other=hidden,
                  inspector=OK)  # fmt: skip


def _registry_rows() -> list[Endpoint]:
    rows = []
    for path in REGISTRY_BODIES:
        rows += [
            Endpoint("POST", f"/v1/{path}", registry_create(path),
                     admin_only(E(201, check=record_present(path)), record_absent(path))),
            Endpoint("GET", f"/v1/{path}", get(f"/v1/{path}"),
                     USER_LISTING if path == "users" else ORG_LISTING,
                     keys=_record_owners(path), owners=_record_owners(path)),
            Endpoint("GET", f"/v1/{path}/{{record_id}}", get(f"/v1/{path}/{ONE_RECORD[path]}"),
                     record_read(path)),
        ]  # fmt: skip
    return rows


def _event_rows() -> list[Endpoint]:
    rows = []
    for batch in (False, True):
        refused = E(403, "forbidden", check=no_events)
        ok = E(200, check=batch_accepted) if batch else E(201, check=written)
        rows.append(Endpoint(
            "POST", "/v1/events:batch" if batch else "/v1/events", commission_call(batch),
            authed(admin=refused, ent_own=ok,
                   ent_other=E(403, "forbidden", check=also(no_events, journaled("user-u-lab"))),
                   reg_own=refused, reg_other=refused,
                   inspector=E(403, "forbidden",
                               check=also(no_events, journaled("user-d1-inspect")))),
        ))  # fmt: skip
    return rows


def _finding_ids(body: Any) -> set[str]:
    return {found["id"] for found in body["findings"]}


FINDING_LISTING = authed(
    admin=E(200, sees=("finding:A", "finding:B")),
    ent_own=E(200, sees=("finding:A",), hides=("finding:B",), check=findings_within(org="p-chem")),
    ent_other=E(200, sees=("finding:B",), hides=("finding:A",),
                check=findings_within(org="u-lab")),
    reg_own=E(200, sees=("finding:A",), hides=("finding:B",),
              check=findings_within(districts=("d1",))),
    reg_other=E(200, sees=("finding:B",), hides=("finding:A",),
                check=findings_within(districts=("d2",))),
    inspector=E(200, sees=("finding:A",), hides=("finding:B",),
                check=findings_within(districts=("d1",))),
)  # fmt: skip
_UNMOVED = E(403, "forbidden", check=finding_status("open"))
_UNSUBSCRIBED = E(403, "forbidden", check=no_hook_created)
_HOOK_STAYS = E(403, "forbidden", check=hook_kept(True))
PUBLIC = everyone(OK)


def _console_rows() -> list[Endpoint]:
    """The web console answers bearer tokens like no credentials at all: its pages send
    everyone to the login (a session cookie is the console's only credential, see
    tests/api/console), its forms refuse a request without the session's CSRF token, and
    its assets and login page are public."""
    to_login = everyone(E(303, check=_to_login))
    pages = [
        "/console",
        "/console/",
        "/console/dashboard",
        "/console/search",
        "/console/items/{code}",
        "/console/items/{code}/label.svg",
        "/console/sites/{site}",
        "/console/sites/{site}/bundle",
        "/console/orgs/{org}",
        "/console/findings",
        "/console/findings/{finding_id}",
        "/console/map",
        "/console/map/data.json",
        "/console/emergency",
        "/console/emergency/pack",
        "/console/journal",
    ]
    concrete = {
        "{code}": "{item:A}",
        "{site}": "p-chem-site",
        "{org}": "p-chem",
        "{finding_id}": MISSING_FINDING,
    }
    rows = []
    for page in pages:
        path = page
        for name, value in concrete.items():
            path = path.replace(name, value)
        rows.append(Endpoint("GET", page, get(path), to_login))
    refused = everyone(E(403, check=media("text/html")))
    for form in ("/console/login", "/console/logout", "/console/findings/transition"):
        rows.append(Endpoint("POST", form, lambda m, f=form: Call("POST", f, json={}), refused))
    return [
        *rows,
        Endpoint("GET", "/", get("/"), everyone(E(307, check=_to_login))),
        Endpoint("GET", "/console/login", get("/console/login"), PUBLIC),
        Endpoint(
            "GET", "/console/geo/beijing.geojson", get("/console/geo/beijing.geojson"), PUBLIC
        ),
        Endpoint(
            "GET", "/console/static/vendor/{name}", get("/console/static/vendor/leaflet.js"), PUBLIC
        ),
        Endpoint("GET", "/console/static/{name}", get("/console/static/console.css"), PUBLIC),
    ]


def _to_login(m: Matrix, call: Call, response: httpx.Response) -> None:
    assert response.headers["location"].startswith("/console/login"), response.headers


ENDPOINTS: list[Endpoint] = [
    *_event_rows(),
    # -- items -----------------------------------------------------------------------------
    Endpoint("GET", "/v1/items/{code}", get("/v1/items/{item:A}"), item_read()),
    Endpoint("GET", "/v1/items/{code}/events", get("/v1/items/{item:A}/events"), item_read()),
    Endpoint("GET", "/v1/items/{code}/bundle", get("/v1/items/{item:A}/bundle"), item_read()),
    Endpoint("GET", "/v1/items/{code}/verify", get("/v1/items/{item:A}/verify"), item_read(
        json_at("verified", True))),
    Endpoint("GET", "/v1/sites/{site}/bundle", get("/v1/sites/p-store/bundle"), authed(
        admin=OK, ent_own=OK, ent_other=E(404, "site_not_found"), reg_own=OK,
        reg_other=E(404, "site_not_found"), inspector=OK)),
    Endpoint("GET", "/v1/items", get("/v1/items", limit=5000), ITEM_LISTING,
             keys=lambda body: _codes(body["items"]), owners=lambda body: _holders(body["items"])),
    Endpoint("GET", "/v1/events/{event_hash}", get("/v1/events/{event:A}"), authed(
        admin=OK, ent_own=OK, ent_other=E(404, "event_not_found"), reg_own=OK,
        reg_other=E(404, "event_not_found"), inspector=OK)),
    # -- the catalog: the same for every signed-in user --------------------------------------
    Endpoint("GET", "/v1/catalog", get("/v1/catalog"), authed(
        admin=OK, ent_own=OK, ent_other=OK, reg_own=OK, reg_other=OK, inspector=OK)),
    Endpoint("GET", "/v1/catalog/{chemical}", get("/v1/catalog/UN1017"), authed(
        **dict.fromkeys(("admin", "ent_own", "ent_other", "reg_own", "reg_other", "inspector"),
                        E(200, check=json_at("chemical", "1"))))),
    Endpoint("GET", "/v1/inventory", get("/v1/inventory"),
             {role: with_check(e, inventory_totals_match) if e.status == 200 else e
              for role, e in ITEM_LISTING.items()},
             keys=lambda body: _codes(body["items"]), owners=lambda body: _holders(body["items"])),
    Endpoint("GET", "/v1/emergency/nearby",
             get("/v1/emergency/nearby", lat=39.5, lon=116.5, radius_m=100.0), authed(
        admin=E(200, check=nearby_sites("p-store", "u-store")), ent_own=FORBIDDEN,
        ent_other=FORBIDDEN, reg_own=E(200, check=nearby_sites("p-store")),
        reg_other=E(200, check=nearby_sites("u-store")), inspector=FORBIDDEN)),
    Endpoint("GET", "/v1/emergency/pack", get("/v1/emergency/pack", district="d1"), authed(
        admin=E(200, check=packs_sites("p-store", "u-store")),
        ent_own=E(404, "district_not_found"), ent_other=E(404, "district_not_found"),
        reg_own=E(200, check=packs_sites("p-store", "u-store")),
        reg_other=E(404, "district_not_found"), inspector=E(404, "district_not_found"))),
    # -- codes -----------------------------------------------------------------------------
    Endpoint("POST", "/v1/codes:issue", issue_call, authed(
        admin=E(201, check=issued_to("p-chem")), ent_own=E(201, check=issued_to("p-chem")),
        ent_other=E(403, "forbidden_org"), reg_own=FORBIDDEN, reg_other=FORBIDDEN,
        inspector=FORBIDDEN)),
    Endpoint("GET", "/v1/codes/{code}/label.png", get("/v1/codes/{item:A}/label.png"),
             label_read(media("image/png"))),
    Endpoint("GET", "/v1/codes/{code}/label.svg", get("/v1/codes/{item:A}/label.svg"),
             label_read(media("image/svg+xml"))),
    Endpoint("GET", "/v1/codes:sheet", get("/v1/codes:sheet", code="item:A"),
             label_read(media("image/png"))),
    Endpoint("GET", "/v1/codes:resolve", get("/v1/codes:resolve", gs1_key="gs1:A"),
             label_read(resolves_to("gs1-code:A"))),
    # -- registries ------------------------------------------------------------------------
    *_registry_rows(),
    Endpoint("GET", "/v1/orgs/{record_id}/risk-grade", get("/v1/orgs/p-chem/risk-grade"), authed(
        admin=E(200, check=graded("p-chem")), ent_own=E(200, check=graded("p-chem")),
        ent_other=E(404, "org_not_found"), reg_own=E(200, check=graded("p-chem")),
        reg_other=E(404, "org_not_found"), inspector=E(200, check=graded("p-chem")))),
    Endpoint("GET", "/v1/crew/{record_id}/person", get("/v1/crew/p-driver/person"), authed(
        admin=OK, ent_own=FORBIDDEN, ent_other=FORBIDDEN, reg_own=OK,
        reg_other=E(404, "crew_not_found"), inspector=FORBIDDEN)),
    Endpoint("GET", "/v1/audit/personal-reads", get("/v1/audit/personal-reads"),
             admin_only(OK)),
    Endpoint("POST", "/v1/users/{user_id}/tokens", tokens_call("POST"),
             admin_only(E(201, check=new_token_works))),
    Endpoint("DELETE", "/v1/users/{user_id}/tokens", tokens_call("DELETE"),
             admin_only(E(200, check=revoked_some), token_works(200))),
    Endpoint("POST", "/v1/licences", licence_call, admin_only(CREATED, licence_absent)),
    Endpoint("GET", "/v1/licences", get("/v1/licences"), ORG_LISTING,
             keys=lambda body: {lic["org"] for lic in body},
             owners=lambda body: {lic["org"] for lic in body}),
    Endpoint("POST", "/v1/devices", enrol_call, authed(
        admin=CREATED, ent_own=CREATED, ent_other=E(403, "forbidden", check=device_absent),
        reg_own=E(403, "forbidden", check=device_absent),
        reg_other=E(403, "forbidden", check=device_absent),
        inspector=E(403, "forbidden", check=device_absent))),
    Endpoint("GET", "/v1/devices", get("/v1/devices"), ORG_LISTING,
             keys=lambda body: {d["org"] for d in body},
             owners=lambda body: {d["org"] for d in body}),
    Endpoint("POST", "/v1/devices/{key_id}:revoke", revoke_call, authed(
        admin=E(201, check=device_writes(422, "key_revoked")),
        ent_own=E(201, check=device_writes(422, "key_revoked")),
        ent_other=E(403, "forbidden", check=device_writes(201, None)),
        reg_own=E(403, "forbidden", check=device_writes(201, None)),
        reg_other=E(403, "forbidden", check=device_writes(201, None)),
        inspector=E(403, "forbidden", check=device_writes(201, None)))),
    # -- the security journal ----------------------------------------------------------------
    Endpoint("GET", "/v1/security/journal", get("/v1/security/journal", limit=1000), authed(
        admin=E(200, sees=("journal:d1", "journal:d2")), ent_own=FORBIDDEN, ent_other=FORBIDDEN,
        reg_own=E(200, sees=("journal:d1",), hides=("journal:d2",), check=journal_within("d1")),
        reg_other=E(200, sees=("journal:d2",), hides=("journal:d1",), check=journal_within("d2")),
        inspector=FORBIDDEN), keys=lambda body: {e["item_code"] for e in body if e["item_code"]}),
    # -- findings and webhooks ----------------------------------------------------------------
    Endpoint("GET", "/v1/findings", get("/v1/findings", limit=500), FINDING_LISTING,
             keys=_finding_ids),
    Endpoint("GET", "/v1/findings/{finding_id}", get("/v1/findings/{finding:A}"), authed(
        admin=OK, ent_own=OK, ent_other=E(404, "finding_not_found"), reg_own=OK,
        reg_other=E(404, "finding_not_found"), inspector=OK)),
    Endpoint("POST", "/v1/findings/{finding_id}:transition", transition_call, authed(
        admin=E(200, check=finding_status("acknowledged")), ent_own=_UNMOVED,
        ent_other=_UNMOVED, reg_own=E(200, check=finding_status("acknowledged")),
        reg_other=E(404, "finding_not_found", check=finding_status("open")),
        inspector=_UNMOVED)),
    Endpoint("POST", "/v1/webhooks", webhook_call, authed(
        admin=E(201, check=hook_created), ent_own=_UNSUBSCRIBED, ent_other=_UNSUBSCRIBED,
        reg_own=E(201, check=hook_created), reg_other=E(201, check=hook_created),
        inspector=_UNSUBSCRIBED)),
    Endpoint("GET", "/v1/webhooks", get("/v1/webhooks"), authed(
        admin=OK, ent_own=FORBIDDEN, ent_other=FORBIDDEN, reg_own=E(200, check=hooks_of("reg-d1")),
        reg_other=E(200, check=hooks_of("reg-d2")), inspector=FORBIDDEN)),
    Endpoint("DELETE", "/v1/webhooks/{webhook_id}", unsubscribe_call, authed(
        admin=E(204, check=hook_kept(False)), ent_own=_HOOK_STAYS, ent_other=_HOOK_STAYS,
        reg_own=E(204, check=hook_kept(False)),
        reg_other=E(404, "webhook_not_found", check=hook_kept(True)), inspector=_HOOK_STAYS)),
    # -- EPCIS 2.0 query and the GS1 Digital Link resolver ------------------------------------
    Endpoint("GET", "/epcis/events", get("/epcis/events", perPage="1000"), ITEM_LISTING_EPCIS,
             keys=_epcis_codes),
    Endpoint("GET", "/epcis/items/{code}/events", get("/epcis/items/{item:A}/events"),
             item_read()),
    Endpoint("GET", "/epcis/events/{eventID}", epcis_event_call, authed(
        admin=OK, ent_own=OK, ent_other=_NO_EVENT, reg_own=OK, reg_other=_NO_EVENT,
        inspector=OK)),
    Endpoint("GET", "/epcis/eventTypes", get("/epcis/eventTypes"), authed(
        **dict.fromkeys(("admin", "ent_own", "ent_other", "reg_own", "reg_other", "inspector"),
                        E(200, check=json_at("member", EVENT_TYPES))))),
    Endpoint("GET", "/epcis/epcs", get("/epcis/epcs", perPage="1000"), ITEM_LISTING_EPCIS,
             keys=_members),
    Endpoint("GET", "/epcis/bizSteps", get("/epcis/bizSteps"), ITEM_LISTING_EPCIS_ANY),
    Endpoint("GET", "/epcis/bizLocations", get("/epcis/bizLocations", perPage="1000"),
             EPCIS_SITES, keys=_members),
    Endpoint("GET", "/epcis/readPoints", get("/epcis/readPoints"), ITEM_LISTING_EPCIS_ANY),
    Endpoint("GET", "/epcis/dispositions", get("/epcis/dispositions"), ITEM_LISTING_EPCIS_ANY),
    Endpoint("GET", "/epcis/eventTypes/{eventType}/events",
             get("/epcis/eventTypes/ObjectEvent/events", perPage="1000"), ITEM_LISTING_EPCIS,
             keys=_epcis_codes),
    Endpoint("GET", "/epcis/epcs/{epc}/events", epcis_path("epcs", "urn:chemtrace:code:{item:A}"),
             ITEM_A_EPCIS, keys=_epcis_codes),
    Endpoint("GET", "/epcis/bizSteps/{bizStep}/events",
             epcis_path("bizSteps", "commissioning", perPage="1000"), ITEM_LISTING_EPCIS,
             keys=_epcis_codes),
    Endpoint("GET", "/epcis/bizLocations/{bizLocation}/events",
             epcis_path("bizLocations", "urn:chemtrace:site:p-store"), ITEM_A_EPCIS,
             keys=_epcis_codes),
    Endpoint("GET", "/epcis/readPoints/{readPoint}/events",
             epcis_path("readPoints", "geo:0,0"), ITEM_LISTING_EPCIS_ANY),
    *(Endpoint("GET", f"/epcis/{resource}/{{{parameter}}}",
               epcis_path(resource, value, tail=""), readers_alike(json_at("member", ["events"])))
      for resource, parameter, value in (
          ("eventTypes", "eventType", "ObjectEvent"), ("epcs", "epc", "urn:chemtrace:code:{item:A}"),
          ("bizSteps", "bizStep", "shipping"), ("bizLocations", "bizLocation", "urn:chemtrace:site:p-store"),
          ("readPoints", "readPoint", "geo:0,0"), ("dispositions", "disposition", "active"),
      )),
    Endpoint("GET", "/epcis/dispositions/{disposition}/events",
             epcis_path("dispositions", "active", perPage="1000"), ITEM_LISTING_EPCIS,
             keys=_epcis_codes),
    Endpoint("POST", "/epcis/capture", capture_call("/epcis/capture"), authed(
        admin=FORBIDDEN, ent_own=E(202), ent_other=E(202), reg_own=FORBIDDEN,
        reg_other=FORBIDDEN, inspector=E(202))),
    Endpoint("POST", "/epcis/capture/signed", capture_call("/epcis/capture/signed"), authed(
        admin=FORBIDDEN, ent_own=E(401, "signature_missing"),
        ent_other=E(401, "signature_missing"), reg_own=FORBIDDEN, reg_other=FORBIDDEN,
        inspector=E(401, "signature_missing"))),  # the token first, then the signature
    Endpoint("POST", "/epcis/events", capture_call("/epcis/events"), authed(
        admin=FORBIDDEN, ent_own=E(400, "epcis_schema"), ent_other=E(400, "epcis_schema"),
        reg_own=FORBIDDEN, reg_other=FORBIDDEN, inspector=E(400, "epcis_schema"))),
    Endpoint("GET", "/epcis/capture", get("/epcis/capture"), authed(
        admin=OK, ent_own=OK, ent_other=OK, reg_own=FORBIDDEN, reg_other=FORBIDDEN,
        inspector=OK)),
    Endpoint("GET", "/epcis/capture/{capture_id}", get("/epcis/capture/no-such-job"), authed(
        admin=_NO_JOB, ent_own=_NO_JOB, ent_other=_NO_JOB, reg_own=FORBIDDEN,
        reg_other=FORBIDDEN, inspector=_NO_JOB)),
    Endpoint("OPTIONS", "/epcis/capture", lambda m: Call("OPTIONS", "/epcis/capture"),
             everyone(E(204))),
    # named queries: an organisation's own (a caller without one: its user's own)
    Endpoint("POST", "/epcis/queries", create_query_call, authed(
        **dict.fromkeys(("admin", "ent_own", "ent_other", "reg_own", "reg_other", "inspector"),
                        E(201, check=query_created)))),
    Endpoint("GET", "/epcis/queries", get("/epcis/queries", perPage="1000"), authed(
        admin=E(200, hides=("query:A", "query:B")),
        ent_own=E(200, sees=("query:A",), hides=("query:B",)),
        ent_other=E(200, sees=("query:B",), hides=("query:A",)),
        reg_own=E(200, hides=("query:A", "query:B")), reg_other=E(200, hides=("query:A", "query:B")),
        inspector=E(200, hides=("query:A", "query:B"))), keys=query_names),
    Endpoint("GET", "/epcis/queries/{queryName}", get("/epcis/queries/{query:A}"), authed(
        admin=_NO_QUERY, ent_own=E(200, check=json_at("query", {})), ent_other=_NO_QUERY,
        reg_own=_NO_QUERY, reg_other=_NO_QUERY, inspector=_NO_QUERY)),
    Endpoint("DELETE", "/epcis/queries/{queryName}", delete_query_call, authed(
        admin=_QUERY_STAYS, ent_own=E(204, check=query_kept(False)), ent_other=_QUERY_STAYS,
        reg_own=_QUERY_STAYS, reg_other=_QUERY_STAYS, inspector=_QUERY_STAYS)),
    Endpoint("GET", "/epcis/queries/{queryName}/events",
             get("/epcis/queries/{query:A}/events", perPage="1000"), authed(
        admin=_NO_QUERY, ent_own=E(200, sees=("item:A",), hides=("item:B",)),
        ent_other=_NO_QUERY, reg_own=_NO_QUERY, reg_other=_NO_QUERY, inspector=_NO_QUERY),
             keys=_epcis_codes),
    Endpoint("GET", "/01/{rest}", get("/01/09506000134352/21/MATRIX-A"),
             everyone(E(307, check=redirects_to_label))),  # public like the label page
    Endpoint("GET", "/00/{rest}", get("/00/095060001343520017"),
             everyone(E(404, "unknown_code"))),
    Endpoint("GET", "/8003/{rest}", get("/8003/09506000134352X"),
             everyone(E(404, "unknown_code"))),
    Endpoint("GET", "/{compressed}", get("/AQnYUc1gmi0Ajl5a0XzJYQ"),
             everyone(E(400, "compressed_digital_link"))),
    # -- public: the audit API, operations, label pages, API docs ----------------------------
    Endpoint("GET", "/v1/log/checkpoint", get("/v1/log/checkpoint"), PUBLIC),
    Endpoint("GET", "/v1/log/key", get("/v1/log/key"), PUBLIC),
    Endpoint("GET", "/v1/log/entries", get("/v1/log/entries", start=0, end=2), PUBLIC),
    Endpoint("GET", "/v1/log/proof/inclusion", get("/v1/log/proof/inclusion", index=0, size=2),
             PUBLIC),
    Endpoint("GET", "/v1/log/proof/consistency",
             get("/v1/log/proof/consistency", first=1, second=2), PUBLIC),
    Endpoint("GET", "/tlog/checkpoint", get("/tlog/checkpoint"), PUBLIC),
    Endpoint("GET", "/tlog/tile/{path}", get("/tlog/tile/0/x999/000"),
             everyone(E(404, "tile_not_found"))),  # a tile no checkpoint needs, to anyone
    Endpoint("GET", "/healthz", get("/healthz"), PUBLIC),
    Endpoint("GET", "/readyz", get("/readyz"),
             everyone(E(200, check=json_at("ready", True)))),
    Endpoint("GET", "/metrics", get("/metrics"), everyone(E(200, check=media("text/plain")))),
    Endpoint("GET", "/c/{code}", get("/c/{item:A}"), everyone(E(200, check=verdict("genuine")))),
    Endpoint("GET", "/C/{label}", get("{label:A}"), everyone(E(200, check=verdict("genuine")))),
    Endpoint("GET", "/openapi.json", get("/openapi.json"), PUBLIC),
    Endpoint("GET", "/docs", get("/docs"), PUBLIC),
    Endpoint("GET", "/redoc", get("/redoc"), PUBLIC),
    *_console_rows(),
]  # fmt: skip
NOT_IN_OPENAPI = {("GET", p) for p in ("/openapi.json", "/docs", "/redoc")}
NOT_IN_OPENAPI |= {row.key for row in _console_rows()}
NOT_IN_OPENAPI |= {("GET", "/tlog/checkpoint"), ("GET", "/tlog/tile/{path}")}  # C2SP's contract


def _show(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "")
    text = response.text[:800] if kind.startswith(("application/", "text/")) else "<binary>"
    return f"{response.request.method} {response.request.url.path}: {kind} {text}"


def _assert_outcome(
    m: Matrix, expect: Expect, call: Call, response: httpx.Response,
    keys: Callable[[Any], set[str]] | None = None, owners: Callable[[Any], set[str]] | None = None,
) -> None:  # fmt: skip
    assert response.status_code == expect.status, _show(response)
    if expect.status >= 400 and not call.path.startswith("/console/"):  # console: HTML pages
        assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
        problem = response.json()
        assert (problem["status"], problem["code"]) == (expect.status, expect.code), problem
    if expect.sees or expect.hides:
        assert keys is not None
        listed = keys(response.json())
        assert {m.ref(n) for n in expect.sees} <= listed, f"missing from {sorted(listed)}"
        assert not {m.ref(n) for n in expect.hides} & listed, f"leaked in {sorted(listed)}"
    if expect.only is not None:
        assert owners is not None
        extra = owners(response.json()) - expect.only
        assert not extra, f"out of scope: {sorted(extra)}"
    if expect.check is not None:
        expect.check(m, call, response)


def _params(endpoint: Endpoint) -> Iterator[Any]:
    for role in ROLES:
        expect = endpoint.expect[role]
        marks = [pytest.mark.xfail(strict=True, reason=expect.bug)] if expect.bug else []
        yield pytest.param(endpoint, role, id=f"{endpoint.method} {endpoint.template} as {role}",
                           marks=marks)  # fmt: skip


@pytest.mark.parametrize(("endpoint", "role"), [p for e in ENDPOINTS for p in _params(e)])
def test_matrix(matrix: Matrix, endpoint: Endpoint, role: str) -> None:
    call = endpoint.call(matrix)
    response = matrix.send(role, call)
    _assert_outcome(matrix, endpoint.expect[role], call, response, endpoint.keys,
                    endpoint.owners)  # fmt: skip


# --------------------------------------------------------------------------------------------
# coverage: no endpoint escapes the matrix


def _route_key(method: str, path: str) -> tuple[str, str]:
    return method, re.sub(r"\{(\w+):\w+\}", r"{\1}", path)  # /C/{label:path} -> /C/{label}


def test_every_row_answers_for_every_role() -> None:
    keys = [endpoint.key for endpoint in ENDPOINTS]
    assert len(keys) == len(set(keys)), "an endpoint has two rows"
    for endpoint in ENDPOINTS:
        assert set(endpoint.expect) == set(ROLES), endpoint.key


def _served_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, walking included routers."""
    routes: Any = create_app().routes
    walk = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.16x nests them
    served = set()
    for route in walk(routes) if walk is not None else routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        assert path and methods, f"cannot see the endpoints of {route!r}: update this walk"
        served |= {_route_key(method, path) for method in methods if method != "HEAD"}
    return served


def test_the_matrix_covers_every_route() -> None:
    """Every route the app serves (in the schema or not) has a row, and every row a route."""
    served = _served_routes()
    rows = {endpoint.key for endpoint in ENDPOINTS}
    assert served - rows == set(), "endpoints missing from the authorization matrix"
    assert rows - served == set(), "matrix rows for endpoints that no longer exist"


def test_the_matrix_covers_every_openapi_operation(matrix: Matrix) -> None:
    document = matrix.http.get("/openapi.json").json()
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    rows = {endpoint.key for endpoint in ENDPOINTS}
    assert operations - rows == set(), "operations missing from the authorization matrix"
    assert rows - operations == NOT_IN_OPENAPI


# --------------------------------------------------------------------------------------------
# scenarios beyond one role x one endpoint


def _commission_for(org: str) -> Callable[[Matrix], Call]:
    """``org``'s device commissions a fresh ``org`` item (whoever's token sends it)."""

    def make(m: Matrix) -> Call:
        code = m.code_for(org)
        return Call("POST", "/v1/events", json=m.commission(org, code), refs={"codes": [code]})

    return make


def _inspect(by: str, item_org: str = "p-chem") -> Callable[[Matrix], Call]:
    """``by``'s device writes an inspect event on a fresh item of ``item_org``."""

    def make(m: Matrix) -> Call:
        code = m.commissioned(item_org)
        envelope = m.world.event(by, "inspect", [code], {"outcome": "pass",
                                                         "inspector": INSPECTOR})  # fmt: skip
        return Call("POST", "/v1/events", json=envelope, refs={"codes": [code], "inspected": code})

    return make


def _store_in_by_inspectorate(m: Matrix) -> Call:
    code = m.commissioned("p-chem")
    envelope = m.world.event("d1-inspect", "store_in", [code], {})
    return Call("POST", "/v1/events", json=envelope, refs={"codes": [code]})


def inspected_once(m: Matrix, call: Call, _: httpx.Response) -> None:
    assert m.events_of(call.refs["inspected"]) == 2  # commission + inspect


def commission_only(m: Matrix, call: Call, _: httpx.Response) -> None:
    assert m.events_of(call.refs["codes"][0]) == 1  # the refused event is not there


def _mixed_batch(m: Matrix) -> Call:
    """p-chem's token sends its own event and, second, one of u-lab's."""
    own, foreign = m.code_for("p-chem"), m.code_for("u-lab")
    events = [m.commission("p-chem", own), m.commission("u-lab", foreign)]
    return Call("POST", "/v1/events:batch", json={"events": events}, refs={"codes": [own, foreign]})


def refused_at_index(index: int) -> Check:
    def check(m: Matrix, call: Call, response: httpx.Response) -> None:
        assert response.json()["index"] == index
        no_events(m, call, response)

    return check


def _resend_of_accepted(m: Matrix) -> Call:
    """p-chem's accepted event, resent by u-lab (a known receipt must not bypass the check)."""
    code = m.code_for("p-chem")
    envelope = m.commission("p-chem", code)
    first = m.as_token(m.tokens["ent_own"], "POST", "/v1/events", json=envelope)
    assert first.status_code == 201, first.text
    return Call("POST", "/v1/events", json=envelope, refs={"codes": [code]})


def _issue(org: str | None) -> Callable[[Matrix], Call]:
    def make(_: Matrix) -> Call:
        body = {"form": "1.1", "packaging": "drum", "batch": "SC", "count": 1}
        return Call("POST", "/v1/codes:issue", json=body if org is None else {**body, "org": org})

    return make


def _enrol_for(org: str) -> Callable[[Matrix], Call]:
    def make(m: Matrix) -> Call:
        call = enrol_call(m)
        return replace(call, json={**call.json, "org": org})

    return make


def _raw(headers: dict[str, str]) -> Callable[[Matrix], Call]:
    def make(_: Matrix) -> Call:
        return Call("GET", "/v1/orgs", refs={"headers": headers})

    return make


SCENARIOS: list[Any] = [
    # (id, role, request, expected outcome)
    ("inspector writes an inspect event for its own org", "inspector",
     _inspect("d1-inspect"), E(201, check=inspected_once)),
    ("inspector writes a non-inspect event for its own org", "inspector",
     _store_in_by_inspectorate,
     E(403, "forbidden", check=also(commission_only, journaled("user-d1-inspect")))),
    ("inspector sends p-chem's inspect event", "inspector",
     _inspect("p-chem"), E(403, "forbidden", check=commission_only)),
    ("regulator sends an inspect event", "reg_own",
     _inspect("d1-inspect"), E(403, "forbidden", check=commission_only)),
    ("inspector inspects an item outside its districts", "inspector",
     _inspect("d1-inspect", item_org="u-lab"),
     E(403, "forbidden", check=commission_only)),
    ("enterprise writes for another org of its own district", "ent_peer",
     _commission_for("p-chem"),
     E(403, "forbidden", check=also(no_events, journaled("user-t-trade")))),
    ("enterprise batch with one foreign event is refused whole", "ent_own",
     _mixed_batch, E(403, "forbidden", check=refused_at_index(1))),
    ("enterprise resends another org's accepted event", "ent_other",
     _resend_of_accepted,
     E(403, "forbidden", check=also(commission_only, journaled("user-u-lab")))),
    ("enterprise issues codes without naming its org", "ent_own",
     _issue(None), E(201, check=issued_to("p-chem"))),
    ("enterprise issues codes for another org", "ent_own",
     _issue("u-lab"), E(403, "forbidden_org")),
    ("admin issues codes without naming an org", "admin",
     _issue(None), E(422, "forbidden_org")),
    ("enterprise enrols a device for another org", "ent_own",
     _enrol_for("u-lab"), E(403, "forbidden", check=device_absent)),
    ("enterprise of the same district cannot read the item", "ent_peer",
     get("/v1/items/{item:A}"), E(404, "item_not_found")),
    ("enterprise of the same district cannot read the site bundle", "ent_peer",
     get("/v1/sites/p-store/bundle"), E(404, "site_not_found")),
    ("enterprise of the same district lists only its own org", "ent_peer",
     get("/v1/orgs"), E(200, check=listed_ids("t-trade"))),
    ("inspector cannot read item B of the other district", "inspector",
     get("/v1/items/{item:B}"), E(404, "item_not_found")),
    ("regulator filters inventory by the other district", "reg_own",
     get("/v1/inventory", district="d2"), E(403, "forbidden")),
    ("enterprise searches for another org's items", "ent_own",
     get("/v1/items", org="u-lab"), E(404, "org_not_found")),
    ("enterprise filters inventory by another org's site", "ent_own",
     get("/v1/inventory", site="u-store"), E(404, "site_not_found")),
    ("enterprise looks up an event of another org's item", "ent_own",
     get("/v1/events/{event:B}"), E(404, "event_not_found")),
    ("a non-bearer scheme", "anon", _raw({"Authorization": f"Basic {BAD_TOKEN}"}), UNAUTHENTICATED),
    ("a token without its scheme", "anon", _raw({"Authorization": BAD_TOKEN}), UNAUTHENTICATED),
    ("a bearer scheme without a token", "anon", _raw({"Authorization": "Bearer"}),
     UNAUTHENTICATED),
]  # fmt: skip


def _scenario_params() -> Iterator[Any]:
    for name, role, make, expect in SCENARIOS:
        marks = [pytest.mark.xfail(strict=True, reason=expect.bug)] if expect.bug else []
        yield pytest.param(role, make, expect, id=name, marks=marks)


@pytest.mark.parametrize(("role", "make", "expect"), list(_scenario_params()))
def test_scenario(
    matrix: Matrix, role: str, make: Callable[[Matrix], Call], expect: Expect
) -> None:
    call = make(matrix)
    if "headers" in call.refs:
        response = matrix.http.request(call.method, call.path, headers=call.refs["headers"])
    else:
        response = matrix.send(role, call)
    _assert_outcome(matrix, expect, call, response)


# --------------------------------------------------------------------------------------------
# out of scope looks exactly like missing

HIDDEN = [
    # (path template with {id}, the hidden id, a missing id of the same shape, callers)
    ("/v1/items/{id}", "item:A", "missing:item", ("ent_other", "reg_other")),
    ("/v1/items/{id}/events", "item:A", "missing:item", ("ent_other", "reg_other")),
    ("/v1/items/{id}/bundle", "item:A", "missing:item", ("ent_other", "reg_other")),
    ("/v1/items/{id}/verify", "item:A", "missing:item", ("ent_other", "reg_other")),
    ("/v1/codes/{id}/label.png", "item:A", "missing:item", ("ent_other",)),
    ("/v1/codes/{id}/label.svg", "item:A", "missing:item", ("ent_other",)),
    ("/v1/sites/{id}/bundle", "p-store", "x-store", ("ent_other", "reg_other")),
    ("/v1/crew/{id}/person", "p-driver", "x-driver", ("reg_other",)),
    ("/v1/findings/{id}", "finding:A", "missing:finding", ("ent_other", "reg_other")),
    *((f"/v1/{path}/{{id}}", ONE_RECORD[path], f"x-{path}-none", ("ent_other", "reg_other"))
      for path in ONE_RECORD),
    ("/v1/orgs/{id}/risk-grade", "p-chem", "x-orgs-none", ("ent_other", "reg_other")),
]  # fmt: skip


def _hidden_params() -> Iterator[Any]:
    for template, hidden, missing, roles in HIDDEN:
        for role in roles:
            yield pytest.param(template, hidden, missing, role, id=f"{template} as {role}")


@pytest.mark.parametrize(("template", "hidden", "missing", "role"), list(_hidden_params()))
def test_out_of_scope_looks_exactly_like_missing(
    matrix: Matrix, template: str, hidden: str, missing: str, role: str
) -> None:
    matrix.refs.setdefault("missing:item", generate_code())  # well formed, never issued
    answers = []
    for name in (hidden, missing):
        ident = matrix.ref(name)
        response = matrix.send(role, Call("GET", template.format(id=ident)))
        body = without_request_id(response).replace(ident, "<id>")
        answers.append((response.status_code, response.headers["content-type"], body))
    assert answers[0][0] == 404
    assert answers[0] == answers[1]


def test_the_other_orgs_records_are_hidden_from_the_own_enterprise(matrix: Matrix) -> None:
    """The mirror image of the read rows: p-chem's token cannot read u-lab's records."""
    for path, record_id in OTHER_RECORD.items():
        response = matrix.send("ent_own", Call("GET", f"/v1/{path}/{record_id}"))
        assert response.status_code == 404, (path, response.text)


def test_a_refused_write_does_not_disclose_an_out_of_scope_head(matrix: Matrix) -> None:
    code = matrix.commissioned("p-chem")
    assert matrix.send("ent_other", Call("GET", f"/v1/items/{code}")).status_code == 404
    head = matrix.admin("GET", f"/v1/items/{code}")["head"]["hash"]
    device = matrix.world.actors["u-lab"].device
    blind = DeviceSession(signer=device.signer, org="u-lab", actor=device.actor,
                          catalog_version=CATALOG, heads={})  # fmt: skip
    blind.learn(code, 0, b"\0" * 32)  # a guess: the item was commissioned, its head unknown
    envelope = blind.event("store_in", [code], {}, time=matrix.world.tick(), site="u-lab-site")
    response = matrix.send("ent_other", Call("POST", "/v1/events", json=envelope))
    assert response.status_code >= 400
    assert head not in response.text, _show(response)
    assert matrix.events_of(code) == 1
