"""``GET /v1/emergency/pack`` and ``chemtrace emergency pack / verify-pack`` over real HTTP,
on SQLite and on PostgreSQL (+ Redis)."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest

from ledger.emergency_pack import verify_pack
from ledger.note import parse_vkey
from tests.api._cli import chemtrace_command
from tests.api.live import BACKENDS, REPO, LiveServer, World, shared_server, wait_for

PROBLEM_JSON = "application/problem+json"
SITES = {  # id: (org, district, lat, lon)
    "pk-alpha": ("p-chem", "d1", "39.9100000", "116.4000000"),
    "pk-beta": ("t-trade", "d1", "39.9120000", "116.4020000"),
    "pk-gamma": ("u-lab", "d2", "39.9110000", "116.4010000"),
}
HOLDINGS = [  # (org, site, catalog form, kg)
    ("p-chem", "pk-alpha", "1.1", "40"),  # chlorine: toxic by inhalation
    ("p-chem", "pk-alpha", "4.1", "8"),  # hydrogen: flammable
    ("t-trade", "pk-beta", "3.1", "150"),
    ("u-lab", "pk-gamma", "3.1", "75"),
]


SITE_ANSWER = ("items", "totals_by_chemical", "totals_by_hazard_class", "toxic_inhalation_kg",
               "flammable_kg", "emergency_advice", "contacts")  # fmt: skip


@dataclass
class Scene:
    server: LiveServer
    world: World
    http: httpx.Client
    tokens: dict[str, str | None]
    codes: list[str]

    def get(self, role: str, path: str, headers: dict[str, str] | None = None,
            **params: Any) -> httpx.Response:  # fmt: skip
        token = self.tokens[role]
        auth = {} if token is None else {"Authorization": f"Bearer {token}"}
        return self.http.get(path, params=params, headers={**auth, **(headers or {})})

    def pack(self, role: str = "responder", district: str = "d1") -> dict[str, Any]:
        response = self.get(role, "/v1/emergency/pack", district=district)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def _build(server: LiveServer, world: World, http: httpx.Client) -> Scene:
    admin = world.admin
    for site, (org, district, lat, lon) in SITES.items():
        admin.put_site(site, org=org, name=f"{site} 仓库", address="1 Test Road",
                       district=district, lat=lat, lon=lon, capacity_t="10",
                       major_hazard=False)  # fmt: skip
    admin.put_user("pk-responder", role="responder", districts=[], name="responder desk")
    admin.put_user("pk-city", role="city_regulator", districts=[], name="city desk")
    codes = []
    for org, site, form, kg in HOLDINGS:
        (code,) = world.issue(org, 1, form=form)
        actor = world.actors[org]
        actor.client.submit(actor.device.event("commission", [code], {
            "chemical": form, "quantity": {"value": kg, "unit": "kg"}, "lot": "L-PK",
            "packaging": "cylinder"}, time="2026-10-02T08:00:00Z", site=site))  # fmt: skip
        codes.append(code)
    tokens: dict[str, str | None] = {
        "anon": None,
        "admin": server.admin_token,
        "responder": admin.issue_token("pk-responder"),
        "city": admin.issue_token("pk-city"),
        "reg_d1": world.regulators["d1"].token,
        "reg_d2": world.regulators["d2"].token,
        "enterprise": world.actors["p-chem"].client.token,
        "inspector": world.actors["d1-inspect"].client.token,
    }
    scene = Scene(server, world, http, tokens, codes)

    def covered() -> bool:  # the newest checkpoint covers every seeded item
        held = {i["code"] for s in scene.pack("admin")["sites"] for i in s["items"]}
        return set(codes[:3]) <= held

    wait_for(covered, timeout=20)
    return scene


@pytest.fixture(scope="module", params=BACKENDS)
def scene(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scene]:
    home = tmp_path_factory.mktemp("pack")
    with shared_server(request, home, str(request.param), CHEMTRACE_FINDINGS="false") as pair:
        server, world = pair
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            yield _build(server, world, http)


def _log_verifier(scene: Scene) -> Any:
    return parse_vkey(scene.http.get("/v1/log/key").text.strip())


def _site(pack: dict[str, Any], site: str) -> dict[str, Any]:
    (found,) = [s for s in pack["sites"] if s["site"] == site]
    return found


# -- the JSON ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "responder", "city", "reg_d1"])
def test_readers_of_the_district_get_its_sites_sorted(scene: Scene, role: str) -> None:
    pack = scene.pack(role)
    ids = [s["site"] for s in pack["sites"]]
    assert ids == sorted(ids)
    assert {"pk-alpha", "pk-beta"} <= set(ids) and "pk-gamma" not in ids
    assert {s["district"] for s in pack["sites"]} == {"d1"}


def test_the_pack_verifies_offline_with_the_log_key_and_its_checkpoint(scene: Scene) -> None:
    pack = scene.pack()
    verified = verify_pack(pack, _log_verifier(scene), trusted_checkpoint=pack["checkpoint"])
    assert verified.district == "d1" and verified.checkpoint.size == pack["log_size"]


def test_the_totals_equal_what_nearby_answers_for_the_same_sites(scene: Scene) -> None:
    pack = scene.pack()
    response = scene.get("responder", "/v1/emergency/nearby", lat="39.911", lon="116.401",
                         radius_m="1000")  # fmt: skip
    assert response.status_code == 200, response.text
    nearby = {s["site"]: s for s in response.json()["sites"]}
    for site in ("pk-alpha", "pk-beta"):
        packed, near = _site(pack, site), nearby[site]
        for name in SITE_ANSWER:
            assert packed[name] == near[name], (site, name)
    alpha = _site(pack, "pk-alpha")
    assert alpha["toxic_inhalation_kg"] == "40" and alpha["flammable_kg"] == "8"
    assert pack["district_totals"]["sites"] == len(pack["sites"])


def test_holdings_are_those_at_the_checkpoint_not_after_it(scene: Scene) -> None:
    pack = scene.pack()
    note_size = int(pack["checkpoint"].split("\n")[1])
    assert pack["log_size"] == note_size


# -- scope ---------------------------------------------------------------------------------------


def _answer(response: httpx.Response, district: str) -> tuple[int, str, dict[str, Any]]:
    body = response.json()
    body.pop("request_id", None)
    body["detail"] = body["detail"].replace(repr(district), "<d>")
    return response.status_code, response.headers["content-type"], body


@pytest.mark.parametrize("role", ["reg_d2", "enterprise", "inspector"])
def test_out_of_scope_looks_exactly_like_an_unknown_district(scene: Scene, role: str) -> None:
    hidden = _answer(scene.get(role, "/v1/emergency/pack", district="d1"), "d1")
    missing = _answer(scene.get("admin", "/v1/emergency/pack", district="zz"), "zz")
    assert hidden[0] == 404 and hidden[1].startswith(PROBLEM_JSON)
    assert hidden[2]["code"] == "district_not_found"
    assert hidden == missing


def test_no_token_is_401(scene: Scene) -> None:
    assert scene.get("anon", "/v1/emergency/pack", district="d1").status_code == 401


@pytest.mark.parametrize("params", [{"district": "d1", "format": "xml"}, {}])
def test_a_bad_format_or_no_district_is_422(scene: Scene, params: dict[str, str]) -> None:
    response = scene.get("admin", "/v1/emergency/pack", **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


# -- the sheets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("how", "media"), [({"format": "html"}, None),
                                            ({}, "text/html")])  # fmt: skip
def test_the_html_sheet_is_self_contained(
    scene: Scene, how: dict[str, str], media: str | None
) -> None:
    headers = {} if media is None else {"Accept": media}
    response = scene.get("responder", "/v1/emergency/pack", headers, district="d1", **how)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert "http://" not in page.replace(scene.server.base_url, "")
    assert "应急处置包" in page and "Responder pack" in page
    assert "pk-alpha 仓库" in page and "40 kg" in page


def test_the_pdf_sheet_parses_and_names_the_sites_and_totals(scene: Scene) -> None:
    response = scene.get("responder", "/v1/emergency/pack", {"Accept": "application/pdf"},
                         district="d1")  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    # pypdf reads fpdf2's embedded Identity CMap a byte at a time: the two-byte codes still
    # map to their characters, their zero high bytes come out as NULs
    raw = "".join(page.extract_text() for page in reader.pages).replace("\x00", "")
    text = "".join(raw.split())
    pack = scene.pack()
    assert "pk-alpha仓库" in text and "pk-beta" in text
    assert f"toxic-inhalation{pack['district_totals']['toxic_inhalation_kg']}kg" in text
    assert "应急处置包" in text


# -- the CLI -------------------------------------------------------------------------------------


def _cli(scene: Scene, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([*chemtrace_command(), "emergency", *args], env=env, text=True,
                          capture_output=True, timeout=120, check=False)  # fmt: skip


def test_the_cli_writes_a_pack_that_verify_pack_accepts_and_a_tampered_one_it_refuses(
    scene: Scene, tmp_path: Path
) -> None:
    out = tmp_path / "pack"
    keys = str(scene.server.keys)
    made = _cli(scene, "pack", "--db", scene.server.db_url, "--keys", keys,
                "--district", "d1", "--out", str(out))  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert {p.name for p in out.iterdir()} == {"pack.json", "pack.html", "pack.pdf"}
    vkey = tmp_path / "log.vkey"
    vkey.write_text(scene.http.get("/v1/log/key").text)
    good = _cli(scene, "verify-pack", str(out), "--log-key", str(vkey))
    assert good.returncode == 0 and good.stdout.startswith("VALID"), good.stdout + good.stderr
    pack = json.loads((out / "pack.json").read_text(encoding="utf-8"))
    assert {s["site"] for s in pack["sites"]} >= {"pk-alpha", "pk-beta"}
    trusted = tmp_path / "checkpoint.txt"
    trusted.write_text(pack["checkpoint"], encoding="utf-8")
    pinned = _cli(scene, "verify-pack", str(out), "--log-key", str(vkey),
                  "--checkpoint", str(trusted))  # fmt: skip
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    _site(pack, "pk-alpha")["toxic_inhalation_kg"] = "0"
    (out / "pack.json").write_text(json.dumps(pack), encoding="utf-8")
    bad = _cli(scene, "verify-pack", str(out), "--log-key", str(vkey))
    assert bad.returncode == 1 and "digest_mismatch" in bad.stdout, bad.stdout + bad.stderr


def test_the_cli_refuses_an_unknown_district(scene: Scene, tmp_path: Path) -> None:
    made = _cli(scene, "pack", "--db", scene.server.db_url, "--keys", str(scene.server.keys),
                "--district", "zz", "--out", str(tmp_path / "none"))  # fmt: skip
    assert made.returncode == 2 and "no district" in made.stderr
