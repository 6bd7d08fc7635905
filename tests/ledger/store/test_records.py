"""Registry records in the log: history by version, audited by verify-log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger.errors import SignatureInvalidError
from ledger.records import issue_record
from ledger.signing import ED25519, Ed25519Signer
from tests.harness import Harness

ORG = {"name": "Acme Chemicals", "type": "producer", "district": "fangshan"}


def test_records_keep_history_and_verify_log_checks_them(tmp_path: Path) -> None:
    path = tmp_path / "records.db"
    harness = Harness.create(f"sqlite:///{path}")
    root = (ED25519, harness.root.public_key)
    first = harness.store.append_record(issue_record(harness.root, "org", "acme", ORG),
                                        root=root, log_signer=harness.log)  # fmt: skip
    resend = harness.store.append_record(issue_record(harness.root, "org", "acme", ORG),
                                         root=root, log_signer=harness.log)  # fmt: skip
    moved = harness.store.append_record(
        issue_record(harness.root, "org", "acme", {**ORG, "district": "daxing"}),
        root=root, log_signer=harness.log,
    )  # fmt: skip
    assert resend == first and moved.index == first.index + 1
    assert harness.store.records("org")["acme"].attr("district") == "daxing"
    history = harness.store.record_history("org", "acme")
    assert [rec.attr("district") for _, rec in history] == ["fangshan", "daxing"]
    harness.checkpoint()
    report = harness.audit()
    assert report.intact, report.faults
    assert report.records == 2
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE registry_record SET record_id = 'rival' WHERE log_index = ?",
                     (first.index,))  # fmt: skip
    faults = harness.audit().faults
    assert [f.code for f in faults if f.index == first.index] == ["record_column_mismatch"]
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM registry_record WHERE log_index = ?", (moved.index,))
    assert "record_missing" in [f.code for f in harness.audit().faults if f.index == moved.index]
    harness.store.engine.dispose()


def test_a_record_not_signed_by_the_registry_is_refused(ledger: Harness) -> None:
    impostor = Ed25519Signer.generate()
    with pytest.raises(SignatureInvalidError):
        ledger.store.append_record(issue_record(impostor, "org", "acme", ORG),
                                   root=(ED25519, ledger.root.public_key), log_signer=ledger.log)  # fmt: skip
    assert ledger.store.records("org") == {}
