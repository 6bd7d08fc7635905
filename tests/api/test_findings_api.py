"""The findings API over real HTTP: filters, scopes, and the append-only review workflow.

One real ``chemtrace serve`` process per backend (SQLite; PostgreSQL + Redis) and one seeded
world per module. Findings are written straight into the server's database with
:class:`FindingStore`, as the anomaly engine would (the engine itself is switched off, so
the only findings are the ones a test seeds). The base findings lie in October 2026; tests
that seed more use other months, so the base listing stays exact.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ledger.rules import Finding, Severity
from ledger.rules.grouping import group_of
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore
from ledger.timefmt import parse_utc
from tests.api.live import BACKENDS, LiveServer, World, shared_server, without_request_id

PROBLEM_JSON = "application/problem+json"
OCTOBER = {"since": "2026-10-01T00:00:00Z", "until": "2026-10-31T23:59:59Z"}
MISSING = "f-" + "0" * 32


def finding(
    rule: str, severity: Severity, at: str, *, org: str | None, district: str | None,
    chemical: str = "1", item: str | None = None,
) -> Finding:  # fmt: skip
    return Finding(rule=rule, key=uuid.uuid4().hex, severity=severity, at=at,
                   message=f"{rule} at {org}", evidence=("sha256:" + "ab" * 32,), org=org,
                   site=None if org is None else f"{org}-site", district=district,
                   chemical=chemical, item=item)  # fmt: skip


def seed(server: LiveServer, *findings: Finding) -> list[str]:
    """Save ``findings`` as the engine would; the ids of the groups they made new."""
    engine = make_engine(server.db_url)
    try:
        new = set(FindingStore(engine).save(list(findings)))
        return [group_of(f) for f in findings if f.id in new]
    finally:
        engine.dispose()


def role_tokens(server: LiveServer, world: World) -> dict[str, str | None]:
    """The token of each role the findings tests call as (``anon``: none)."""
    return {
        "anon": None,
        "admin": server.admin_token,
        "reg_d1": world.regulators["d1"].token,
        "reg_d2": world.regulators["d2"].token,
        "inspector": world.actors["d1-inspect"].client.token,
        "p_chem": world.actors["p-chem"].client.token,
        "t_trade": world.actors["t-trade"].client.token,
        "u_lab": world.actors["u-lab"].client.token,
    }


@dataclass
class Setup:
    server: LiveServer
    world: World
    http: httpx.Client
    tokens: dict[str, str | None]
    base: dict[str, Finding]

    def call(self, role: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self.tokens[role]
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return self.http.request(method, path, headers=headers, **kwargs)

    def listing(self, role: str, **params: Any) -> dict[str, Any]:
        response = self.call(role, "GET", "/v1/findings", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def ids(self, role: str = "admin", **params: Any) -> list[str]:
        return [f["id"] for f in self.listing(role, **params)["findings"]]

    def base_ids(self, *names: str) -> list[str]:
        return [group_of(self.base[name]) for name in names]


@pytest.fixture(scope="module", params=BACKENDS)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("findings")
    env = {"CHEMTRACE_FINDINGS": "false"}  # only the seeded findings exist
    with shared_server(request, home, request.param, **env) as (server, world):
        base = {
            "F1": finding("clone.unissued_code", "critical", "2026-10-02T08:00:00Z",
                          org="p-chem", district="d1", item="ITEM-1"),
            "F2": finding("dormancy.idle", "low", "2026-10-03T08:00:00Z",
                          org="t-trade", district="d1", chemical="2"),
            "F3": finding("licence.missing", "high", "2026-10-04T08:00:00Z",
                          org="u-lab", district="d2"),
            "F4": finding("transport.gps_gap", "medium", "2026-10-05T08:00:00Z",
                          org="c-move", district="d2"),
            # an organisation-wide finding placed in no district: its org and admins see it
            "F5": finding("mass.org_balance", "medium", "2026-10-06T08:00:00Z",
                          org="p-chem", district=None),
        }  # fmt: skip
        assert sorted(seed(server, *base.values())) == sorted(map(group_of, base.values()))
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            yield Setup(server, world, http, role_tokens(server, world), base)


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code), body
    return body


# -- filters ------------------------------------------------------------------------------------


def test_the_listing_is_newest_first_with_a_total(setup: Setup) -> None:
    body = setup.listing("admin", **OCTOBER)
    assert [f["id"] for f in body["findings"]] == setup.base_ids("F5", "F4", "F3", "F2", "F1")
    assert body["total"] == 5
    first = body["findings"][-1]
    f1 = setup.base["F1"]
    assert first == {**f1.to_json(), "status": "open", "log_position": -1,
                     "found_at": first["found_at"], "first_seen": f1.at, "last_seen": f1.at,
                     "count": 1, "openings": 1, "chemical_name": "氯(液氯、氯气)",
                     "chemical_name_en": "Chlorine", "cas": "7782-50-5", "un": "UN1017"}  # fmt: skip
    parse_utc(first["found_at"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"rule": "clone.unissued_code"}, ["F1"]),
        ({"severity": "low"}, ["F2"]),
        ({"severity": "medium"}, ["F5", "F4"]),
        ({"district": "d2"}, ["F4", "F3"]),
        ({"org": "p-chem"}, ["F5", "F1"]),
        ({"chemical": "2"}, ["F2"]),
        ({"item": "ITEM-1"}, ["F1"]),
        ({"status": "open"}, ["F5", "F4", "F3", "F2", "F1"]),
        ({"status": "resolved"}, []),
        ({"since": "2026-10-03T08:00:00Z", "until": "2026-10-04T08:00:00Z"}, ["F3", "F2"]),
        ({"since": "2026-10-05T00:00:00.000Z"}, ["F5", "F4"]),
        ({"until": "2026-10-02T08:00:00Z"}, ["F1"]),
        ({"district": "d1", "severity": "critical"}, ["F1"]),
        ({"org": "u-lab", "district": "d1"}, []),
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_each_filter_narrows_the_listing(
    setup: Setup, params: dict[str, str], expected: list[str]
) -> None:
    window = {**OCTOBER, **params}
    body = setup.listing("admin", **window)
    assert [f["id"] for f in body["findings"]] == setup.base_ids(*expected)
    assert body["total"] == len(expected)


def test_limit_and_offset_page_through_the_total(setup: Setup) -> None:
    pages = [setup.listing("admin", limit=2, offset=offset, **OCTOBER) for offset in (0, 2, 4, 6)]
    assert [len(p["findings"]) for p in pages] == [2, 2, 1, 0]
    assert all(p["total"] == 5 for p in pages)
    assert [f["id"] for p in pages for f in p["findings"]] == setup.ids(**OCTOBER)


@pytest.mark.parametrize(
    ("params", "status", "code", "field"),
    [
        ({"rule": "clone.nope"}, 400, "invalid_filter", "rule"),
        ({"severity": "urgent"}, 400, "invalid_filter", "severity"),
        ({"status": "closed"}, 400, "invalid_filter", "status"),
        ({"since": "yesterday"}, 400, "invalid_filter", "since"),
        ({"until": "2026-10-01T08:00:00+24:00"}, 400, "invalid_filter", "until"),
        ({"org": "p-chem\x00"}, 400, "invalid_filter", "org"),
        ({"limit": 0}, 422, "invalid_request", "limit"),
        ({"limit": 501}, 422, "invalid_request", "limit"),
        ({"offset": -1}, 422, "invalid_request", "offset"),
    ],
)
def test_bad_filters_are_problems_naming_the_field(
    setup: Setup, params: dict[str, Any], status: int, code: str, field: str
) -> None:
    response = setup.call("admin", "GET", "/v1/findings", params=params)
    assert _problem(response, status, code)["field"] == field


def test_every_rule_id_is_a_valid_filter(setup: Setup) -> None:
    from ledger.rules import RULES

    for rule in RULES:
        assert setup.call("admin", "GET", "/v1/findings", params={"rule": rule}).status_code == 200


# -- scopes -------------------------------------------------------------------------------------

SCOPES = {
    "admin": {"F1", "F2", "F3", "F4", "F5"},
    "reg_d1": {"F1", "F2"},
    "reg_d2": {"F3", "F4"},
    "inspector": {"F1", "F2"},  # d1's inspectorate
    "p_chem": {"F1", "F5"},  # its own organisation's, wherever they are
    "t_trade": {"F2"},  # the same district as p-chem, but not p-chem's findings
    "u_lab": {"F3"},
}


@pytest.mark.parametrize("role", sorted(SCOPES))
def test_each_role_sees_exactly_its_scope(setup: Setup, role: str) -> None:
    body = setup.listing(role, **OCTOBER)
    seen = {
        name for name, f in setup.base.items() if group_of(f) in {x["id"] for x in body["findings"]}
    }
    assert seen == SCOPES[role]
    assert body["total"] == len(SCOPES[role])
    for name, f in setup.base.items():
        response = setup.call(role, "GET", f"/v1/findings/{group_of(f)}")
        if name in SCOPES[role]:
            assert response.status_code == 200, response.text
            assert response.json()["finding"]["id"] == group_of(f)
        else:
            _problem(response, 404, "finding_not_found")


@pytest.mark.parametrize("role", ["reg_d1", "p_chem", "inspector"])
def test_a_filter_cannot_widen_the_scope(setup: Setup, role: str) -> None:
    """An out-of-scope filter is refused, never an empty 200 (docs/access-policy.md)."""
    response = setup.call(role, "GET", "/v1/findings", params={"district": "d2", **OCTOBER})
    if role == "p_chem":  # districts narrow an enterprise's own findings: none are in d2
        assert response.json()["findings"] == []
    else:
        _problem(response, 403, "forbidden")
    for org in ("u-lab", "no-such-org"):  # another's organisation answers like a missing one
        response = setup.call(role, "GET", "/v1/findings", params={"org": org, **OCTOBER})
        assert _problem(response, 404, "org_not_found")["detail"] == (
            f"no organisation {org!r} within your scope"
        )


@pytest.mark.parametrize("role", ["reg_d2", "u_lab", "t_trade"])
def test_out_of_scope_looks_exactly_like_missing(setup: Setup, role: str) -> None:
    hidden = group_of(setup.base["F1"])
    answers = []
    for ident in (hidden, MISSING):
        response = setup.call(role, "GET", f"/v1/findings/{ident}")
        answers.append((response.status_code, without_request_id(response).replace(ident, "<id>")))
    assert answers[0][0] == 404
    assert answers[0] == answers[1]


def test_no_token_is_unauthenticated(setup: Setup) -> None:
    for path in ("/v1/findings", f"/v1/findings/{group_of(setup.base['F1'])}"):
        _problem(setup.call("anon", "GET", path), 401, "unauthenticated")
    response = setup.call("anon", "POST", f"/v1/findings/{group_of(setup.base['F1'])}:transition",
                          json={"status": "acknowledged", "comment": "x"})  # fmt: skip
    _problem(response, 401, "unauthenticated")


def test_deliveries_are_shown_to_admins_and_regulators_only(setup: Setup) -> None:
    f1 = group_of(setup.base["F1"])
    for role, shown in (("admin", True), ("reg_d1", True), ("inspector", False),
                        ("p_chem", False)):  # fmt: skip
        detail = setup.call(role, "GET", f"/v1/findings/{f1}").json()
        assert (detail["deliveries"] is not None) is shown, role
        assert detail["transitions"] == []


# -- the workflow -------------------------------------------------------------------------------


def _fresh(setup: Setup, district: str = "d1", org: str = "p-chem") -> str:
    made = finding("storage.incompatible", "high", "2027-01-15T08:00:00Z", org=org,
                   district=district)  # fmt: skip
    (fid,) = seed(setup.server, made)
    return fid


def _move(setup: Setup, role: str, fid: str, status: str, comment: str = "checked on site",
          **extra: Any) -> httpx.Response:  # fmt: skip
    body = {"status": status, "comment": comment, **extra}
    return setup.call(role, "POST", f"/v1/findings/{fid}:transition", json=body)


def _detail(setup: Setup, fid: str) -> dict[str, Any]:
    response = setup.call("admin", "GET", f"/v1/findings/{fid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_transitions_are_recorded_with_who_when_and_why_and_never_rewritten(
    setup: Setup,
) -> None:
    fid = _fresh(setup)
    before = datetime.now(UTC).replace(microsecond=0)
    first = _move(setup, "reg_d1", fid, "acknowledged", "seen; inspector sent")
    assert first.status_code == 200, first.text
    t1 = first.json()
    assert {k: v for k, v in t1.items() if k != "at"} == {
        "finding_id": fid, "seq": 1, "from_status": "open", "to_status": "acknowledged",
        "user_id": "reg-d1", "comment": "seen; inspector sent", "occurrence": None,
    }  # fmt: skip
    assert before <= parse_utc(t1["at"]) <= datetime.now(UTC)
    detail = _detail(setup, fid)
    assert detail["finding"]["status"] == "acknowledged"
    assert detail["transitions"] == [t1]

    second = _move(
        setup, "admin", fid, "resolved", "licence produced", expected_status="acknowledged"
    )
    assert second.status_code == 200, second.text
    t2 = second.json()
    assert (t2["seq"], t2["from_status"], t2["to_status"], t2["user_id"]) == (
        2, "acknowledged", "resolved", "admin",
    )  # fmt: skip
    assert parse_utc(t2["at"]) >= parse_utc(t1["at"])
    history = _detail(setup, fid)["transitions"]
    assert history == [t1, t2]  # appended; the first row is exactly as it was
    # a resolved finding is final: nothing more is appended
    _problem(_move(setup, "admin", fid, "false_positive"), 409, "invalid_transition")
    assert _detail(setup, fid)["transitions"] == [t1, t2]
    assert _detail(setup, fid)["finding"]["status"] == "resolved"
    # and the listing filters on the new status
    assert setup.ids(status="resolved", since="2027-01-01T00:00:00Z").count(fid) == 1


@pytest.mark.parametrize("target", ["resolved", "false_positive"])
def test_an_open_finding_may_be_closed_directly(setup: Setup, target: str) -> None:
    fid = _fresh(setup, "d2", "u-lab")
    response = _move(setup, "reg_d2", fid, target)
    assert response.status_code == 200, response.text
    assert response.json()["from_status"] == "open"
    assert _detail(setup, fid)["finding"]["status"] == target


def test_the_workflow_refuses_illegal_moves(setup: Setup) -> None:
    fid = _fresh(setup)
    assert _move(setup, "admin", fid, "acknowledged").status_code == 200
    for status in ("open", "acknowledged"):
        problem = _problem(_move(setup, "admin", fid, status), 409, "invalid_transition")
        assert problem["current_status"] == "acknowledged"
    # expected_status guards against a concurrent reviewer
    stale = _move(setup, "reg_d1", fid, "resolved", expected_status="open")
    assert _problem(stale, 409, "invalid_transition")["current_status"] == "acknowledged"
    assert [t["to_status"] for t in _detail(setup, fid)["transitions"]] == ["acknowledged"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"status": "resolved", "comment": ""}, 400, "invalid_comment", "comment"),
        ({"status": "resolved", "comment": "   \n"}, 400, "invalid_comment", "comment"),
        ({"status": "closed", "comment": "x"}, 400, "invalid_status", "status"),
        ({"status": "resolved", "comment": "x", "expected_status": "new"}, 400,
         "invalid_status", "expected_status"),
        ({"status": "resolved"}, 422, "invalid_request", "comment"),
        ({"status": "resolved", "comment": "x", "extra": 1}, 422, "invalid_request", "extra"),
    ],
)  # fmt: skip
def test_malformed_transitions_are_refused_without_a_trace(
    setup: Setup, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    fid = _fresh(setup)
    response = setup.call("reg_d1", "POST", f"/v1/findings/{fid}:transition", json=body)
    assert _problem(response, status, code)["field"] == field
    assert _detail(setup, fid)["transitions"] == []


@pytest.mark.parametrize(
    ("role", "status", "code"),
    [
        ("p_chem", 403, "forbidden"),  # even about its own organisation
        ("inspector", 403, "forbidden"),
        ("reg_d2", 404, "finding_not_found"),  # outside its districts: as if missing
    ],
)
def test_only_admins_and_regulators_in_scope_may_transition(
    setup: Setup, role: str, status: int, code: str
) -> None:
    fid = _fresh(setup)
    _problem(_move(setup, role, fid, "acknowledged"), status, code)
    detail = _detail(setup, fid)
    assert detail["finding"]["status"] == "open"
    assert detail["transitions"] == []


def test_a_transition_of_a_missing_finding_is_not_found(setup: Setup) -> None:
    for ident in (MISSING, "not-a-finding"):
        _problem(_move(setup, "admin", ident, "acknowledged"), 404, "finding_not_found")


# -- grouped findings ---------------------------------------------------------------------------

MARCH = {"since": "2027-03-01T00:00:00Z", "until": "2027-03-31T23:59:59Z"}


def _late(day: int, org: str, district: str, item: str) -> Finding:
    """One more late sync at ``org``'s site: an occurrence of one finding per site."""
    return Finding(rule="device.late_sync", key=uuid.uuid4().hex, severity="low",
                   at=f"2027-03-{day:02d}T08:00:00Z", message=f"late sync {day} of {item}",
                   evidence=("sha256:" + "ab" * 32,), org=org, site=f"{org}-site",
                   district=district, chemical="1", item=item)  # fmt: skip


def test_a_site_s_many_occurrences_are_listed_as_one_finding_with_a_count(setup: Setup) -> None:
    made = [_late(day, "t-trade", "d1", f"IT-{day}") for day in (3, 1, 2)]
    seed(setup.server, *made)
    seed(setup.server, _late(4, "u-lab", "d2", "IT-4"))
    body = setup.listing("admin", rule="device.late_sync", **MARCH)
    assert body["total"] == 2
    mine = next(f for f in body["findings"] if f["org"] == "t-trade")
    assert (mine["count"], mine["first_seen"], mine["last_seen"], mine["at"]) == (
        3, "2027-03-01T08:00:00Z", "2027-03-03T08:00:00Z", "2027-03-01T08:00:00Z"
    )  # fmt: skip
    # a filter on what occurrences differ in finds the group through any of them
    assert setup.ids(item="IT-3", **MARCH) == [mine["id"]]
    assert setup.ids(item="IT-9", **MARCH) == []
    page = setup.call("admin", "GET", f"/v1/findings/{mine['id']}",
                      params={"occurrences_limit": 2}).json()  # fmt: skip
    assert page["occurrences_total"] == 3
    assert [o["id"] for o in page["occurrences"]] == [made[0].id, made[2].id]
    rest = setup.call("admin", "GET", f"/v1/findings/{mine['id']}",
                      params={"occurrences_limit": 2, "occurrences_offset": 2}).json()  # fmt: skip
    assert [o["id"] for o in rest["occurrences"]] == [made[1].id]
    # scope holds for groups and their occurrences
    assert setup.ids("t_trade", rule="device.late_sync", **MARCH) == [mine["id"]]
    assert setup.ids("u_lab", rule="device.late_sync", **MARCH) != [mine["id"]]
    hidden = setup.call("u_lab", "GET", f"/v1/findings/{mine['id']}")
    _problem(hidden, 404, "finding_not_found")
    seen = setup.call("reg_d1", "GET", f"/v1/findings/{mine['id']}").json()
    assert seen["occurrences_total"] == 3
