"""The enterprise page shows the risk grade with every reason and its points, in Chinese and
in English, and the map's data carries the same grade."""

from __future__ import annotations

import re

from ledger.rules import Finding
from ledger.store.findings import FindingStore
from tests.api.console.conftest import Demo, login

GRADE = re.compile(
    r'id="grade">(?P<grade>[A-D])</p>.*?id="grade-points">(?P<points>-?\d+).*?'
    r'<ul id="grade-reasons">(?P<reasons>.*?)</ul>',
    re.S,
)
REASON = re.compile(r'<li data-reason="(?P<code>[a-z_]+)">(?P<text>.*?): (?P<points>[+-]\d+)</li>')


def _grade(html: str) -> tuple[str, int, list[tuple[str, str, int]]]:
    found = GRADE.search(html)
    assert found, "no grade on the page"
    reasons = [(m["code"], m["text"], int(m["points"])) for m in REASON.finditer(found["reasons"])]
    return found["grade"], int(found["points"]), reasons


def test_the_grade_shows_its_reasons_and_they_add_up(demo: Demo) -> None:
    client = login(demo.browser(), demo.admin_token)
    zh = client.get("/console/orgs/tongzhou-store?lang=zh")
    grade, points, reasons = _grade(zh.text)
    assert grade == "D" and points == sum(p for _, _, p in reasons) >= 60
    assert "risk-2026.1" in zh.text  # the weights' version is named
    codes = [code for code, _, _ in reasons]
    assert codes[0] == "hazard_ratio" and "category" in codes and "category_cap" in codes
    assert "场所 tongzhou-depot 的 Σq/Q" in reasons[0][1]
    assert any(text == "持有剧毒化学品" for _, text, _ in reasons)
    en = _grade(client.get("/console/orgs/tongzhou-store?lang=en").text)
    assert en[:2] == (grade, points)
    assert en[2][0][1].startswith("site tongzhou-depot: Σq/Q")
    assert any(text == "holds highly toxic chemicals" for _, text, _ in en[2])


def test_a_regulated_chemical_held_without_a_licence_is_a_reason(demo: Demo) -> None:
    """The demo's carrier signed for a drum of acetone (易制毒 cat. 3) at the gate: it holds
    it on its transport licence only."""
    client = login(demo.browser(), demo.admin_token)
    _, _, reasons = _grade(client.get("/console/orgs/anxin-logistics?lang=en").text)
    assert ("held_unlicensed", 30) in [(code, p) for code, _, p in reasons]


def test_the_inspection_history_is_shown_and_its_absence_said(demo: Demo) -> None:
    client = login(demo.browser(), demo.admin_token)
    _, _, inspected = _grade(client.get("/console/orgs/jingcheng-gas?lang=en").text)
    assert ("inspection", "2 inspection(s) with outcome pass in 365 days × 0", 0) in inspected
    _, _, never = _grade(client.get("/console/orgs/jinghuan-waste?lang=en").text)
    assert ("inspection_none", 0) in [(code, p) for code, _, p in never]


def test_an_open_finding_moves_the_grade_on_the_page_and_on_the_map(demo: Demo) -> None:
    client = login(demo.browser(), demo.admin_token)
    before = _grade(client.get("/console/orgs/zhang-wei?lang=en").text)
    assert before[:2] == ("A", 0)
    FindingStore(demo.service.deployment.store.engine).save([
        Finding("permit.individual_buyer", "grade-page-test", "critical", "2026-10-01T00:00:00Z",
                "test: a critical finding about zhang-wei", ("sha256:" + "0" * 64,),
                org="zhang-wei", district="xicheng"),
    ])  # fmt: skip
    grade, points, reasons = _grade(client.get("/console/orgs/zhang-wei?lang=en").text)
    assert (grade, points) == ("C", 40)
    assert ("finding", "1 open critical finding(s) × 40", 40) in reasons
    mapped = client.get("/console/map/data.json").json()["sites"]
    assert {(s["grade"], s["points"]) for s in mapped if s["org"] == "zhang-wei"} == {("C", 40)}
    assert {s["grade"] for s in mapped if s["org"] == "tongzhou-store"} == {"D"}


def test_the_api_answers_the_same_grade_with_its_reasons_in_both_languages(demo: Demo) -> None:
    client = login(demo.browser(), demo.admin_token)
    page = _grade(client.get("/console/orgs/tongzhou-store?lang=en").text)
    api = demo.browser()
    answer = api.get(
        "/v1/orgs/tongzhou-store/risk-grade",
        headers={"Authorization": f"Bearer {demo.admin_token}"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["grade"], body["points"], body["weights"]) == (page[0], page[1], "risk-2026.1")
    assert body["scale"] == "A < 10 ≤ B < 30 ≤ C < 60 ≤ D"
    assert [(r["code"], r["text"]["en"], r["points"]) for r in body["reasons"]] == page[2]
    assert body["reasons"][0]["facts"]["site"] == "tongzhou-depot"
    assert body["reasons"][0]["text"]["zh"].startswith("场所 tongzhou-depot")


def test_the_api_grade_keeps_to_the_callers_scope(demo: Demo) -> None:
    own = {"Authorization": f"Bearer {demo.tokens['huabei-trade-ops']}"}
    api = demo.browser()
    assert api.get("/v1/orgs/huabei-trade/risk-grade", headers=own).status_code == 200
    hidden = api.get("/v1/orgs/tongzhou-store/risk-grade", headers=own)
    assert hidden.status_code == 404 and hidden.json()["code"] == "org_not_found"
    assert api.get("/v1/orgs/tongzhou-store/risk-grade").status_code == 401
