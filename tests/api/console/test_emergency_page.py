"""The emergency page renders the real nearby answer (``service.emergency.nearby``) for the
demo city, and refuses the roles the API refuses."""

from __future__ import annotations

import re

from tests.api.console.conftest import Demo, login

TONGZHOU = "lat=39.9097&lon=116.6566&radius_m=800"  # the demo's Tongzhou depot


def test_the_sheet_shows_the_nearby_answer(demo: Demo) -> None:
    client = login(demo.browser(), demo.tokens["regulator-city"])
    page = client.get(f"/console/emergency?{TONGZHOU}&lang=en")
    assert page.status_code == 200
    html = page.text
    assert "Tongzhou Depot" in html or "tongzhou-depot" in html
    assert "UTC+8" in html
    assert 'id="print"' in html
    # each chemical's item count, not the answer dict's ``items`` method (Jinja's c.items)
    assert "built-in method" not in html
    assert re.search(r'<td class="num">\d+</td><td class="num">[0-9.]+</td></tr>', html)


def test_no_point_no_query(demo: Demo) -> None:
    client = login(demo.browser(), demo.tokens["regulator-city"])
    page = client.get("/console/emergency")
    assert page.status_code == 200
    assert "tongzhou-depot" not in page.text and "Tongzhou Depot" not in page.text


def test_enterprises_may_not_ask(demo: Demo) -> None:
    client = login(demo.browser(), demo.tokens["huabei-trade-ops"])
    assert client.get(f"/console/emergency?{TONGZHOU}").status_code == 403


def test_the_page_offers_the_responder_pack_of_the_districts_in_scope(demo: Demo) -> None:
    city = login(demo.browser(), demo.tokens["regulator-city"])
    offered = _pack_districts(city.get("/console/emergency").text)
    assert "tongzhou" in offered and "chaoyang" in offered
    district = login(demo.browser(), demo.tokens["regulator-tongzhou"])
    assert _pack_districts(district.get("/console/emergency").text) == ["tongzhou"]


def _pack_districts(html: str) -> list[str]:
    select = re.search(r'<select id="pack-district" name="district">(.*?)</select>', html)
    assert select is not None
    return re.findall(r'<option value="([a-z]+)">', select.group(1))


def test_the_pack_downloads_signed_and_another_district_is_unknown(demo: Demo) -> None:
    from ledger.emergency_pack import verify_pack
    from ledger.note import NoteVerifier

    demo.service.deployment.checkpoint()  # a pack is cut from a signed checkpoint
    client = login(demo.browser(), demo.tokens["regulator-tongzhou"])
    pack = client.get("/console/emergency/pack?district=tongzhou&format=json")
    assert pack.status_code == 200, pack.text
    log_key = demo.service.deployment.keys.log_signer()
    verify_pack(pack.json(), NoteVerifier.for_key(pack.json()["origin"], log_key.public_key))
    pdf = client.get("/console/emergency/pack?district=tongzhou")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    other = client.get("/console/emergency/pack?district=chaoyang&format=json")
    unknown = client.get("/console/emergency/pack?district=nowhere&format=json")
    assert other.status_code == unknown.status_code == 404
    assert (
        login(demo.browser(), demo.tokens["huabei-trade-ops"])
        .get("/console/emergency/pack?district=chaoyang")
        .status_code
        == 403
    )
