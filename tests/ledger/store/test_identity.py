"""Who made a record and what it is about: keys over time, issued codes, catalog versions.

Runs on SQLite and PostgreSQL through the ``db_url`` fixture.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from api.catalogs import SHIPPED, load_version
from ledger.append import Accepted, Rejected
from ledger.catalog import CatalogRegistry, load_catalog
from ledger.codes import DuplicateCodeError, issue_batch, sign_code
from ledger.errors import (
    KeyNotValidAtLogTimeError,
    KeyRevokedError,
    LedgerError,
    UnknownCodeError,
)
from ledger.ingest import Ingestor
from ledger.revocations import issue_revocation
from ledger.signing import ED25519
from ledger.store.external_ids import GS1_SCHEME, SqlExternalIds
from tests.harness import Harness


class Clock:
    """A log clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 10, 1, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(db_url: str, clock: Clock) -> Iterator[Harness]:
    harness = Harness.create(db_url, clock=clock)
    yield harness
    harness.store.engine.dispose()


def _error(outcome: object) -> LedgerError:
    assert isinstance(outcome, Rejected), outcome
    return outcome.error


def _accepted(outcome: object) -> Accepted:
    assert isinstance(outcome, Accepted), outcome
    return outcome


def _revoke(
    harness: Harness, key_id: str, org: str, effective_from: str, *, by_org: bool = False
) -> None:
    issuer = harness.orgs[org] if by_org else harness.root
    revocation = issue_revocation(issuer, key_id=key_id, org=org, effective_from=effective_from,
                                  reason="device lost")  # fmt: skip
    harness.store.append_revocation(
        revocation, root=(ED25519, harness.root.public_key), log_signer=harness.log
    )


def test_a_device_rotates_its_key_mid_life_and_both_halves_verify(
    timed: Harness, clock: Clock
) -> None:
    old = timed.device("acme", valid_until="2026-10-02T00:00:00Z")
    _accepted(timed.submit([timed.commission(old, "CYL-0001")])[0])
    clock.advance(days=2)  # the old key's certificate has expired at log time
    before = dict(timed.heads)
    late = timed.use(old, "CYL-0001")
    assert isinstance(_error(timed.submit([late])[0]), KeyNotValidAtLogTimeError)
    timed.heads.clear()
    timed.heads.update(before)
    new = timed.device("acme", valid_from="2026-10-02T00:00:00Z")
    new.heads = old.heads
    _accepted(timed.submit([timed.use(new, "CYL-0001")])[0])
    report = timed.audit()
    assert report.intact, report.faults
    assert report.events == 2


def test_a_late_synced_event_signed_while_valid_is_rejected_with_the_precise_code(
    timed: Harness, clock: Clock
) -> None:
    device = timed.device("acme", valid_until="2026-10-01T12:00:00Z")
    queued = timed.commission(device, "CYL-0001")  # signed offline while the key was valid
    clock.advance(days=1)
    size = timed.store.log_size()
    error = _error(timed.submit([queued])[0])
    assert error.code == "key_not_valid_at_log_time"
    assert timed.store.log_size() == size
    resigned = timed.device("acme")
    resigned.heads.clear()
    _accepted(timed.submit([timed.commission(resigned, "CYL-0001")])[0])


def test_revoking_a_device_rejects_later_events_and_leaves_earlier_ones_intact(
    timed: Harness, clock: Clock
) -> None:
    device = timed.device("acme")
    _accepted(timed.submit([timed.commission(device, "CYL-0001")])[0])
    clock.advance(hours=1)
    _revoke(timed, device.signer.key_id, "acme", "2026-10-01T08:30:00Z", by_org=True)
    error = _error(timed.submit([timed.use(device, "CYL-0001")])[0])
    assert isinstance(error, KeyRevokedError)
    assert error.code == "key_revoked"
    report = timed.audit()
    assert report.intact, report.faults


def test_a_backdated_revocation_does_not_damage_events_accepted_before_it(
    timed: Harness, clock: Clock
) -> None:
    device = timed.device("acme")
    _accepted(timed.submit([timed.commission(device, "CYL-0001")])[0])
    _accepted(timed.submit([timed.use(device, "CYL-0001")])[0])
    clock.advance(days=3)
    # Compromise discovered later: effective before the accepted events.
    _revoke(timed, device.signer.key_id, "acme", "2026-09-30T00:00:00Z")
    report = timed.audit()
    assert report.intact, report.faults
    assert isinstance(_error(timed.submit([timed.use(device, "CYL-0001")])[0]), KeyRevokedError)


def test_a_compromised_organisation_key_is_revoked_with_all_its_devices(
    timed: Harness, clock: Clock
) -> None:
    first = timed.device("acme")
    second = timed.device("acme")
    _accepted(
        timed.submit([timed.commission(first, "CYL-0001"), timed.commission(second, "CYL-0002")])[1]
    )
    clock.advance(hours=2)
    org_key = timed.orgs["acme"].key_id
    _revoke(timed, org_key, "acme", "2026-10-01T09:00:00Z")
    for device, code in ((first, "CYL-0001"), (second, "CYL-0002")):
        error = _error(timed.submit([timed.use(device, code)])[0])
        assert isinstance(error, KeyRevokedError)
        assert error.context["key_id"] == org_key
    # The registry certifies a new organisation key and devices; work goes on.
    fresh = timed.device("acme-2")
    _accepted(timed.submit([timed.commission(fresh, "CYL-0003")])[0])
    report = timed.audit()
    assert report.intact, report.faults


@pytest.mark.parametrize("claimed_org", ["acme", "rival"])
def test_an_org_cannot_revoke_another_orgs_key(timed: Harness, claimed_org: str) -> None:
    # Whether the revocation names the victim's organisation or the revoker's own, it is refused.
    victim = timed.device("acme")
    timed.org("rival")
    spite = issue_revocation(timed.orgs["rival"], key_id=victim.signer.key_id, org=claimed_org,
                             effective_from="2026-10-01T00:00:00Z", reason="spite")  # fmt: skip
    with pytest.raises(LedgerError) as info:
        timed.store.append_revocation(
            spite, root=(ED25519, timed.root.public_key), log_signer=timed.log
        )
    assert info.value.code == "unknown_key"
    _accepted(timed.submit([timed.commission(victim, "CYL-0001")])[0])


# -- codes ----------------------------------------------------------------------------------


def _issued_harness(db_url: str) -> Harness:
    return Harness.create(db_url, require_issued_codes=True)


def test_events_on_codes_the_registry_never_issued_are_rejected(db_url: str) -> None:
    harness = _issued_harness(db_url)
    device = harness.device("acme")
    codes = issue_batch("acme", "1.1", "cylinder", "B1", "2026-09-30", 3, harness.root)
    harness.store.append_code_batch(
        codes, root=(ED25519, harness.root.public_key), log_signer=harness.log
    )
    _accepted(harness.submit([harness.commission(device, codes[0].code)])[0])
    error = _error(harness.submit([harness.commission(device, "CT-00000-00000-00000")])[0])
    assert isinstance(error, UnknownCodeError)
    assert error.context["item"] == "CT-00000-00000-00000"
    report = harness.audit()
    assert report.intact, report.faults
    harness.store.engine.dispose()


def test_a_code_is_never_issued_twice(db_url: str) -> None:
    harness = _issued_harness(db_url)
    root = (ED25519, harness.root.public_key)
    codes = issue_batch("acme", "1.1", "cylinder", "B1", "2026-09-30", 2, harness.root)
    first = harness.store.append_code_batch(codes, root=root, log_signer=harness.log)
    assert (
        harness.store.append_code_batch(codes, root=root, log_signer=harness.log) == first
    )  # resend
    again = issue_batch("acme", "1.1", "cylinder", "B2", "2026-09-30", 1, harness.root)
    clash = [sign_code(dataclasses.replace(again[0].facts, code=codes[0].code), harness.root)]
    with pytest.raises(DuplicateCodeError):
        harness.store.append_code_batch(clash, root=root, log_signer=harness.log)
    harness.store.engine.dispose()


def test_gs1_keys_resolve_to_their_codes_and_never_to_two(db_url: str) -> None:
    harness = _issued_harness(db_url)
    gs1 = SqlExternalIds(harness.store.engine)
    root = (ED25519, harness.root.public_key)
    keys = ["(01)09506000134352(21)CYL-1", "(8003)09506000134352CYL-2"]
    codes = issue_batch("acme", "1.1", "cylinder", "B1", "2026-09-30", 2, harness.root,
                        gs1_keys=keys)  # fmt: skip
    harness.store.append_code_batch(codes, root=root, log_signer=harness.log)
    assert gs1.code_for(GS1_SCHEME, keys[0]) == codes[0].code
    assert gs1.code_for(GS1_SCHEME, keys[1]) == codes[1].code
    assert gs1.code_for(GS1_SCHEME, "(00)095060001343520001") is None
    size = harness.store.log_size()
    reused = issue_batch("acme", "1.1", "cylinder", "B2", "2026-09-30", 1, harness.root,
                         gs1_keys=[keys[1]])  # fmt: skip
    with pytest.raises(DuplicateCodeError):
        harness.store.append_code_batch(reused, root=root, log_signer=harness.log)
    assert harness.store.log_size() == size  # the whole batch rolled back with its entry
    assert gs1.code_for(GS1_SCHEME, keys[1]) == codes[1].code
    harness.store.engine.dispose()


def test_a_code_batch_not_signed_by_the_root_is_refused(db_url: str) -> None:
    harness = _issued_harness(db_url)
    impostor = harness.org("acme")
    codes = issue_batch("acme", "1.1", "cylinder", "B1", "2026-09-30", 2, impostor)
    with pytest.raises(LedgerError) as info:
        harness.store.append_code_batch(
            codes, root=(ED25519, harness.root.public_key), log_signer=harness.log
        )
    assert info.value.code == "bad_signature"
    assert harness.store.log_size() == 1
    harness.store.engine.dispose()


def test_verify_log_catches_a_tampered_issued_code(tmp_path: Path) -> None:
    path = tmp_path / "codes.db"
    harness = _issued_harness(f"sqlite:///{path}")
    codes = issue_batch("acme", "1.1", "cylinder", "B1", "2026-09-30", 3, harness.root)
    receipt = harness.store.append_code_batch(
        codes, root=(ED25519, harness.root.public_key), log_signer=harness.log
    )
    harness.checkpoint()
    assert harness.audit().intact
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE issued_code SET org = 'rival' WHERE code = ?", (codes[1].code,))
    faults = harness.audit().faults
    assert any(f.index == receipt.index and f.item == codes[1].code for f in faults), faults
    harness.store.engine.dispose()


# -- catalog versions -------------------------------------------------------------------------


def _upgraded(v1_dir: Path) -> CatalogRegistry:
    v1 = load_version(v1_dir)
    chemicals = (v1_dir / "key-chemicals.csv").read_text(encoding="utf-8")
    forms = (v1_dir / "chemical-forms.csv").read_text(encoding="utf-8")
    forms = forms.replace(
        "1,1.1,liquefied/compressed gas,1017,2.3,5.1;8,,5,",
        "1,1.1,liquefied/compressed gas,1017,2.3,5.1;8,,4,",
    )
    v2 = load_catalog("2027.1", date(2026, 10, 2), chemicals, forms)
    return CatalogRegistry([v1, v2])


def test_a_catalog_upgrade_on_a_ledger_that_already_has_events(db_url: str, clock: Clock) -> None:
    registry = _upgraded(SHIPPED / "2026-draft.1")
    assert (
        registry.get("2027.1").form("1.1").major_hazard_threshold_t
        != registry.get("2026-draft.1").form("1.1").major_hazard_threshold_t
    )
    harness = Harness.create(db_url, clock=clock)
    harness.ingestor = Ingestor(harness.store, log_signer=harness.log, root_algorithm=ED25519,
                                root_public_key=harness.root.public_key, catalogs=registry)  # fmt: skip
    device = harness.device("acme")
    device.catalog_version = "2026-draft.1"
    _accepted(harness.submit([harness.commission(device, "CYL-0001")])[0])
    harness.base_time = datetime(2026, 10, 3, tzinfo=UTC)
    device.catalog_version = "2027.1"
    _accepted(harness.submit([harness.commission(device, "CYL-0002")])[0])
    _accepted(harness.submit([harness.use(device, "CYL-0001")])[0])
    device.catalog_version = "2099.9"
    assert (
        _error(harness.submit([harness.use(device, "CYL-0001")])[0]).code
        == "unknown_catalog_version"
    )
    device.catalog_version = "2027.1"
    bad = device.event("commission", ["CYL-0003"], {"chemical": "99", "quantity": {"value": "1", "unit": "kg"},
                       "lot": "L1", "packaging": "drum"}, time=harness.time())  # fmt: skip
    assert _error(harness.submit([bad])[0]).code == "unknown_chemical"
    versions = [
        env_version
        for code in ("CYL-0001", "CYL-0002")
        for _, _, envelope in harness.store.item_envelopes(code)
        for env_version in [envelope.split(b'"catalog_version":"')[1].split(b'"')[0].decode()]
    ]
    assert versions == ["2026-draft.1", "2027.1", "2027.1"]
    report = harness.audit()
    assert report.intact, report.faults
    harness.store.engine.dispose()


# -- licences -------------------------------------------------------------------------------


def _licence(signer: object, status: str = "active", **changes: object) -> object:
    from ledger.licences import issue_licence

    fields: dict[str, object] = {
        "licence_no": "JY-2026-0042", "org": "acme", "kind": "business",
        "activities": ("sell", "store"), "chemicals": ("25", "class:2.3"),
        "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2029-01-01T00:00:00Z",
        "status": status,
    }  # fmt: skip
    fields.update(changes)
    return issue_licence(signer, **fields)  # type: ignore[arg-type]


def test_licence_records_are_logged_with_history_and_checked_by_verify_log(tmp_path: Path) -> None:
    path = tmp_path / "licences.db"
    harness = Harness.create(f"sqlite:///{path}")
    root = (ED25519, harness.root.public_key)
    first = harness.store.append_licence(_licence(harness.root), root=root, log_signer=harness.log)  # type: ignore[arg-type]
    resend = harness.store.append_licence(_licence(harness.root), root=root, log_signer=harness.log)  # type: ignore[arg-type]
    suspended = harness.store.append_licence(
        _licence(harness.root, status="suspended"),
        root=root,
        log_signer=harness.log,  # type: ignore[arg-type]
    )
    assert resend == first
    assert suspended.index == first.index + 1  # a change is a new record, never an overwrite
    harness.checkpoint()
    report = harness.audit()
    assert report.intact, report.faults
    assert report.licences == 2
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE licence SET org = 'rival' WHERE log_index = ?", (first.index,))
    faults = harness.audit().faults
    assert [f.code for f in faults if f.index == first.index] == ["licence_column_mismatch"]
    harness.store.engine.dispose()


def test_a_licence_not_signed_by_the_registry_is_refused(ledger: Harness) -> None:
    impostor = ledger.org("acme")
    with pytest.raises(LedgerError) as info:
        ledger.store.append_licence(
            _licence(impostor),
            root=(ED25519, ledger.root.public_key),
            log_signer=ledger.log,  # type: ignore[arg-type]
        )
    assert info.value.code == "bad_signature"


@pytest.mark.parametrize(
    "changes",
    [{"kind": "smuggling"}, {"status": "maybe"}, {"chemicals": ("Class 2.3",)},
     {"valid_until": "2025-01-01T00:00:00Z"}, {"licence_no": "has space"}],
)  # fmt: skip
def test_malformed_licences_are_refused_before_signing(
    ledger: Harness, changes: dict[str, object]
) -> None:
    with pytest.raises(LedgerError) as info:
        _licence(ledger.root, **changes)
    assert info.value.code == "invalid_input"


def test_a_device_recertified_under_a_new_org_key_works_after_the_old_org_key_is_revoked(
    timed: Harness, clock: Clock
) -> None:
    from ledger.certificates import issue_certificate

    device = timed.device("acme")
    old_org = timed.orgs["acme"]
    clock.advance(hours=1)
    _revoke(timed, old_org.key_id, "acme", "2026-10-01T08:30:00Z")
    new_org = timed.org("acme")
    cert = issue_certificate(new_org, role="device", subject_algorithm=ED25519,
                             subject_public_key=device.signer.public_key, org="acme",
                             valid_from="2026-10-01T08:30:00Z", valid_until="2030-01-01T00:00:00Z")  # fmt: skip
    timed.store.append_certificate(
        cert, root=(ED25519, timed.root.public_key), log_signer=timed.log
    )
    _accepted(timed.submit([timed.commission(device, "CYL-0001")])[0])
    assert timed.audit().intact


def test_a_revocation_signed_by_a_rotated_org_key_does_not_break_ingest(
    timed: Harness, clock: Clock
) -> None:
    lost = timed.device("acme")
    healthy = timed.device("acme")
    second_org = timed.org("acme")  # rotation: the devices were certified by the first org key
    revocation = issue_revocation(second_org, key_id=lost.signer.key_id, org="acme",
                                  effective_from="2026-10-01T08:00:00Z", reason="lost")  # fmt: skip
    timed.store.append_revocation(
        revocation, root=(ED25519, timed.root.public_key), log_signer=timed.log
    )
    clock.advance(hours=1)
    outcomes = timed.submit(
        [timed.commission(lost, "CYL-0001"), timed.commission(healthy, "CYL-0002")]
    )
    assert isinstance(_error(outcomes[0]), KeyRevokedError)
    _accepted(outcomes[1])
    assert timed.audit().intact


def test_verify_log_catches_a_deleted_item_head_statement(tmp_path: Path) -> None:
    path = tmp_path / "heads.db"
    harness = Harness.create(f"sqlite:///{path}")
    device = harness.device("acme")
    harness.submit([harness.commission(device, "CYL-0001"), harness.commission(device, "CYL-0002")])
    harness.checkpoint()
    harness.submit([harness.use(device, "CYL-0001")])
    harness.checkpoint()
    assert harness.audit().intact
    with sqlite3.connect(path) as conn:
        size = conn.execute("SELECT max(size) FROM checkpoint").fetchone()[0]
        conn.execute(
            "DELETE FROM item_head_statement WHERE item_code = 'CYL-0001' AND checkpoint_size = ?",
            (size,),
        )
    faults = harness.audit().faults
    assert [(f.code, f.index, f.item) for f in faults] == [
        ("head_statement_missing", size, "CYL-0001")
    ]
    harness.store.engine.dispose()


def test_the_signer_refuses_to_checkpoint_over_a_rolled_back_log(tmp_path: Path) -> None:
    path = tmp_path / "rollback.db"
    harness = Harness.create(f"sqlite:///{path}")
    device = harness.device("acme")
    harness.submit([harness.commission(device, "CYL-0001")])
    harness.checkpoint()
    size = harness.store.log_size()
    with sqlite3.connect(path) as conn:  # an insider drops the newest entry and rewinds the state
        conn.execute("PRAGMA foreign_keys = OFF")
        for table, column in (("event_item", "log_index"), ("event", "log_index"),
                              ("outbox", "log_index"), ("log_entry", "idx")):  # fmt: skip
            conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (size - 1,))  # noqa: S608
        conn.execute("DELETE FROM log_node WHERE level = 0 AND idx = ?", (size - 1,))
        conn.execute("UPDATE log_state SET size = ?", (size - 1,))
    harness.submit([harness.commission(device, "CYL-0002"), harness.commission(device, "CYL-0003")])
    with pytest.raises(LedgerError, match="no longer extends its last signed checkpoint"):
        harness.checkpoint()
    harness.store.engine.dispose()


def test_only_the_owner_of_an_issued_code_may_start_its_chain(db_url: str) -> None:
    harness = _issued_harness(db_url)
    owner, squatter = harness.device("acme"), harness.device("rival")
    codes = issue_batch("acme", "1.1", "cylinder", "B1", "2026-09-30", 1, harness.root)
    harness.store.append_code_batch(
        codes, root=(ED25519, harness.root.public_key), log_signer=harness.log
    )
    error = _error(harness.submit([harness.commission(squatter, codes[0].code)])[0])
    assert error.code == "code_issued_to_another_org"
    assert "acme" not in error.diagnostics()  # the squatter learns nothing of the issuer
    harness.heads.clear()
    _accepted(harness.submit([harness.commission(owner, codes[0].code)])[0])
    harness.store.engine.dispose()
