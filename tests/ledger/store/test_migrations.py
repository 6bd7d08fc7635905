"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from ledger.codes import issue_batch
from ledger.signing import ED25519
from ledger.store.engine import make_engine
from ledger.store.external_ids import GS1_SCHEME, SqlExternalIds
from ledger.store.migrate import MIGRATIONS, upgrade
from ledger.store.schema import metadata
from ledger.store.sites import GIST_INDEX, SPATIAL_TABLES
from tests.harness import Harness


def test_autogenerate_against_a_migrated_database_shows_no_diff(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    # The spatial index (an R*Tree, or a GiST on an expression) is outside what SQLAlchemy
    # can declare: ledger.store.sites names it, and tests/ledger/store/test_sites.py checks it.
    outside = SPATIAL_TABLES | {GIST_INDEX}
    opts = {"include_name": lambda name, kind, parent: name not in outside}
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    engine.dispose()
    assert version == "0024"


def test_0007_links_the_gs1_keys_of_codes_issued_before_it(db_url: str) -> None:
    harness = Harness.create(db_url, require_issued_codes=True)
    keys = ["(01)09506000134352(21)OLD-1", "(00)095060001343520017"]
    codes = issue_batch("acme", "1.1", "cylinder", "B1", "2026-09-30", 3, harness.root,
                        gs1_keys=[*keys, "(01)09506000134352(21)OLD-3"])  # fmt: skip
    harness.store.append_code_batch(codes, root=(ED25519, harness.root.public_key),
                                    log_signer=harness.log)  # fmt: skip
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = db_url
    gs1 = SqlExternalIds(harness.store.engine)
    command.downgrade(config, "0006")  # a database from before GS1 keys were linked
    assert gs1.code_for(GS1_SCHEME, keys[0]) is None
    command.upgrade(config, "head")
    assert [gs1.code_for(GS1_SCHEME, key) for key in keys] == [c.code for c in codes[:2]]
    harness.store.engine.dispose()
