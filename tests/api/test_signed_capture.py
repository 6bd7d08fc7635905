"""RFC 9421-signed EPCIS capture end to end on a real server (SQLite, and PostgreSQL).

An ERP sends its plain document, the whole request signed by a registered device key; the
server derives the events, logs the signed request as a ``signed_capture`` entry, keeps the
document erasable, and verify-log re-derives the events from it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from api.keystore import pinned_trust
from ledger.signing import Ed25519Signer
from ledger.store.audit import SqlAuditSource
from ledger.verify import audit
from scanners.device.home import DeviceHome, Profile
from scanners.signed_capture import signed_capture_request
from tests.api._cli import run_cli
from tests.api.live import CATALOG, REPO, VALID, World, wait_for, world_fixture
from tests.api.test_epcis_capture import chain, commissioning, erp_document, erp_event, get

world = world_fixture("signedc")


def send(
    world: World, org: str, document: dict[str, Any], *, signer: Ed25519Signer | None = None,
    body: bytes | None = None, tamper: dict[str, str] | None = None, drop: str | None = None,
    **options: Any,
) -> httpx.Response:  # fmt: skip
    actor = world.actors[org]
    text = json.dumps(document).encode()
    url, headers = signed_capture_request(
        signer or actor.device.signer, world.server.base_url, text,
        actor=actor.device.actor, catalog_version=CATALOG, **options,
    )  # fmt: skip
    headers = {**headers, **(tamper or {}), "Authorization": f"Bearer {actor.client.token}"}
    if drop is not None:
        headers.pop(drop)
    return httpx.post(url, content=text if body is None else body, headers=headers)


def problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    found = answer.json()
    assert found["code"] == code, found
    return dict(found)


def test_a_signed_document_derives_events_that_verify_log_rederives(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (code,) = world.issue("p-chem", 1)
    ship = {"carrier": "c-move", "consignee": "t-trade", "consignee_site": "t-trade-site",
            "waybill_no": "WB-S1"}  # fmt: skip
    document = erp_document([commissioning(world, "p-chem", code),
                             erp_event(world, "p-chem", "ship", [code], ship)])  # fmt: skip
    answer = send(world, "p-chem", document)
    assert answer.status_code == 202, answer.text
    job = get(world, world.actors["p-chem"].client, answer.headers["location"]).json()
    assert job["success"] is True, job
    steps = chain(world, code)
    key = world.actors["p-chem"].device.signer.key_id
    assert [(s["type"], s["seq"], s["device_key"]) for s in steps] == [
        ("commission", 0, key),
        ("ship", 1, key),
    ]
    answer = wait_for(
        lambda: (a := get(world, world.admin, f"/v1/items/{code}/verify")).status_code == 200 and a
    )  # the offline bundle, once checkpointed
    verified = answer.json()
    assert verified["verified"] is True, verified
    report = audit(SqlAuditSource(create_engine(world.server.db_url)),
                   pinned_trust(world.server.keys))  # fmt: skip
    assert report.intact, [f.to_json() for f in report.faults]
    assert report.signed_captures >= 1 and report.rederived == report.signed_captures
    disclosed = tmp_path / "disclosed.jsonld"
    disclosed.write_bytes(json.dumps(document).encode())  # the bytes that were signed
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    ran = run_cli("verify-log", "--db", world.server.db_url, "--keys", str(world.server.keys),
                  "--document", str(disclosed), "--json", cwd=tmp_path)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout)["rederived"] == report.rederived


def test_a_replayed_request_is_refused_and_writes_nothing(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    document = erp_document([commissioning(world, "p-chem", code)])
    first = send(world, "p-chem", document, nonce="replay-nonce-1")
    assert first.status_code == 202, first.text
    again = send(world, "p-chem", document, nonce="replay-nonce-1")
    problem(again, 409, "signature_replayed")
    assert len(chain(world, code)) == 1


def test_a_bad_signature_is_refused(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    document = erp_document([commissioning(world, "p-chem", code)])
    forged = "chemtrace=:" + "A" * 86 + "==:"
    problem(send(world, "p-chem", document, tamper={"Signature": forged}), 401,
            "signature_invalid")  # fmt: skip
    other = json.dumps(erp_document([commissioning(world, "p-chem", code)])).encode()
    from ledger.http_signature import content_digest  # the digest fits, the signature not

    problem(send(world, "p-chem", document, body=other,
                 tamper={"Content-Digest": content_digest(other)}), 401, "signature_invalid")  # fmt: skip
    assert chain(world, code) == []


def test_a_wrong_digest_is_refused(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    document = erp_document([commissioning(world, "p-chem", code)])
    found = problem(send(world, "p-chem", document, body=json.dumps(document).encode() + b" "),
                    400, "content_digest_mismatch")  # fmt: skip
    assert found["component"] == "content-digest"
    assert chain(world, code) == []


def test_an_unknown_or_revoked_key_is_refused(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    document = erp_document([commissioning(world, "p-chem", code)])
    stranger = Ed25519Signer.generate()
    problem(send(world, "p-chem", document, signer=stranger), 422, "unknown_key")
    revoked = Ed25519Signer.generate()
    world.admin.enrol_device("p-chem", revoked.public_key, **VALID)
    gone = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    world.admin.revoke_device(revoked.key_id, effective_from=gone, reason="lost")
    problem(send(world, "p-chem", document, signer=revoked), 422, "unknown_key")
    assert chain(world, code) == []


def test_missing_components_and_an_expired_signature_are_named(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    document = erp_document([commissioning(world, "p-chem", code)])
    problem(send(world, "p-chem", document, drop="Signature"), 401, "signature_missing")
    found = problem(send(world, "p-chem", document, drop="Content-Digest"), 400,
                    "components_missing")  # fmt: skip
    assert found["component"] == "content-digest"
    old = datetime.now(UTC) - timedelta(minutes=6)
    problem(send(world, "p-chem", document, created=old), 401, "signature_expired")
    assert chain(world, code) == []


def test_a_key_of_another_organisation_is_refused(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    document = erp_document([commissioning(world, "p-chem", code)])
    problem(send(world, "p-chem", document, signer=world.actors["t-trade"].device.signer),
            403, "org_mismatch")  # fmt: skip


def test_the_job_gives_each_derived_event_its_receipt(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    answer = send(world, "p-chem", erp_document([commissioning(world, "p-chem", code)]))
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["events"][0]["status"] == "captured"
    assert job["events"][0]["receipt"]["entry_hash"] == chain(world, code)[0]["event_hash"]


def test_epcis_push_sign_request_sends_the_document_signed_whole(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # this checkout's code, as the server runs
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
    done = run_cli("epcis", "push", str(erp), "--sign-request", "--token", token, "--home",
                   str(home.root), "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["success"] is True
    (step,) = chain(world, code)
    assert step["device_key"] == signer.key_id
    again = run_cli("epcis", "push", str(erp), "--sign-request", "--token", token, "--home",
                    str(home.root), cwd=tmp_path)  # fmt: skip
    assert again.returncode == 2 and "epcis_duplicate" in again.stderr  # a fresh nonce each time
