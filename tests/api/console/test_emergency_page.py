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
