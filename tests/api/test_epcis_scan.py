"""An EPCIS query with a ``MATCH_*`` term reads only the events naming the items its EPCs
name (and every correction), and answers exactly as the scan of the whole log does."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.app import create_app
from api.services.access import Principal
from api.services.epcis import _MATCH_FIELDS, EpcisService, EventQuery
from api.services.root import Service
from api.settings import Settings
from ledger.store import schema as t
from scanners.client import ChemtraceClient
from sim.demo import seed

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home: Path = tmp_path_factory.mktemp("epcis-scan")
    settings = Settings(db=f"sqlite:///{home}/demo.db", keys=home / "keys", background=False,
                        findings=False, rate_limit_per_minute=0)  # fmt: skip
    opened = Service.open(settings)
    token_file = home / "admin.token"
    opened.registry.bootstrap_admin(token_file)
    with TestClient(create_app(settings, service=opened)) as http:
        admin = ChemtraceClient(http=http, token=token_file.read_text().strip())
        seed(admin, opened.deployment.keys, opened.deployment.catalogs.get("2026-draft.1"))
    opened.deployment.checkpoint()
    yield opened
    opened.close()


def _indices(epcis: EpcisService, who: Principal, query: EventQuery) -> list[int]:
    found: list[int] = []
    while True:
        page = epcis.query(who, query, "Never_Translates")
        body = page.document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        found += [int(event["chemtrace:log"]["index"]) for event in body]
        if page.after is None:
            return found
        query = EventQuery(terms=query.terms, per_page=query.per_page, after=page.after)


def _scanning_all(epcis: EpcisService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(epcis, "_candidates", lambda _query: None)


def parameter_offset(parameter: str) -> int:
    """A different sample of items for each term."""
    return list(_MATCH_FIELDS).index(parameter)


def test_match_terms_answer_as_the_full_scan(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    epcis = service.epcis
    with service.deployment.store.engine.connect() as conn:
        codes = sorted(conn.execute(select(t.item.c.code)).scalars())
        orgs = sorted(set(conn.execute(select(t.event.c.org)).scalars()))
    callers = [Principal("admin", "admin", None, frozenset())]
    callers += [Principal(f"{org}-ops", "enterprise", org, frozenset()) for org in orgs[:1]]
    urns = [f"urn:chemtrace:code:{code}" for code in codes]
    step = len(urns) // 4 + 1
    queries: list[dict[str, Any]] = []
    for parameter in _MATCH_FIELDS:
        queries += [
            {parameter: frozenset({urn})} for urn in urns[parameter_offset(parameter) :: step]
        ]
    queries += [{"MATCH_anyEPC": frozenset(pair)} for pair in itertools.pairwise(urns[2::step])]
    queries += [
        {"MATCH_anyEPC": frozenset({"urn:chemtrace:code:CT-00000-00000-00000"})},
        {"MATCH_anyEPC": frozenset({urns[0]}), "MATCH_epc": frozenset({urns[1]})},
        {"MATCH_anyEPC": frozenset(urns), "eventType": frozenset({"ObjectEvent"})},
    ]
    asked = [(who, EventQuery(terms=terms, per_page=50)) for who in callers for terms in queries]
    narrowed = [_indices(epcis, who, query) for who, query in asked]
    _scanning_all(epcis, monkeypatch)
    scanned = [_indices(epcis, who, query) for who, query in asked]
    assert narrowed == scanned
    assert any(narrowed) and not all(narrowed)


def test_a_correction_is_found_through_the_item_it_corrects(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    with service.deployment.store.engine.connect() as conn:
        corrected = conn.execute(
            select(t.event_item.c.item_code)
            .join(t.event, t.event.c.event_hash == t.event_item.c.event_hash)
            .where(t.event.c.type == "correct")
        ).scalar_one()
    admin = Principal("admin", "admin", None, frozenset())
    query = EventQuery(terms={"MATCH_epc": frozenset({f"urn:chemtrace:code:{corrected}"})})
    narrowed = _indices(service.epcis, admin, query)
    _scanning_all(service.epcis, monkeypatch)
    assert narrowed == _indices(service.epcis, admin, query) and narrowed
