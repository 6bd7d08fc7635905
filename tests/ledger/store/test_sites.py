"""The sites' spatial index: written with the site record, backfilled by 0014, and used."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from ledger.geo import search_boxes
from ledger.records import issue_record
from ledger.signing import ED25519
from ledger.store.migrate import MIGRATIONS
from ledger.store.sites import GIST_INDEX, SiteStore
from tests.harness import Harness


def _site(ledger: Harness, site: str, lat: str, lon: str, district: str = "d1") -> None:
    record = issue_record(ledger.root, "site", site, {
        "org": "acme", "name": site, "address": "1 Road", "district": district, "lat": lat,
        "lon": lon, "capacity_t": "10", "major_hazard": False,
    })  # fmt: skip
    ledger.store.append_record(record, root=(ED25519, ledger.root.public_key),
                               log_signer=ledger.log)  # fmt: skip


def _near(store: SiteStore, lat: float, lon: float, radius: float) -> list[str]:
    return sorted(p.site for p in store.sites_in(search_boxes(lat, lon, radius)))


def test_a_site_record_is_indexed_in_its_own_transaction_and_moves_with_a_new_version(
    ledger: Harness,
) -> None:
    sites = SiteStore(ledger.store.engine)
    _site(ledger, "s-centre", "39.9087", "116.3975")
    _site(ledger, "s-east", "39.9087", "116.4200")  # about 1.9 km east
    assert _near(sites, 39.9087, 116.3975, 500) == ["s-centre"]
    assert _near(sites, 39.9087, 116.3975, 3000) == ["s-centre", "s-east"]
    _site(ledger, "s-centre", "40.2000", "116.3975", district="d2")  # the site moved
    assert _near(sites, 39.9087, 116.3975, 500) == []
    (moved,) = sites.sites_in(search_boxes(40.2, 116.3975, 100))
    assert (moved.site, moved.district, moved.lat) == ("s-centre", "d2", 40.2)


def test_0014_backfills_the_index_from_the_site_records_already_logged(
    ledger: Harness, db_url: str
) -> None:
    _site(ledger, "s-old", "39.9087", "116.3975")
    _site(ledger, "s-old", "39.9100", "116.3975")
    _site(ledger, "s-other", "31.2304", "121.4737")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = db_url
    command.downgrade(config, "0012")  # a database from before the index
    command.upgrade(config, "head")
    sites = SiteStore(ledger.store.engine)
    (old,) = sites.sites_in(search_boxes(39.9100, 116.3975, 50))
    assert (old.site, old.lat) == ("s-old", 39.91)  # the newest version's place
    assert _near(sites, 31.2304, 121.4737, 50) == ["s-other"]
    assert _near(sites, 39.9087, 116.3975, 50) == []


def test_the_query_goes_through_the_spatial_index(ledger: Harness) -> None:
    _site(ledger, "s-centre", "39.9087", "116.3975")
    plan = SiteStore(ledger.store.engine).explain_sites_in(search_boxes(39.9, 116.4, 500))
    if ledger.store.engine.dialect.name == "sqlite":
        assert "VIRTUAL TABLE INDEX" in plan, plan  # the R*Tree answers the box
    else:
        assert GIST_INDEX in plan, plan
