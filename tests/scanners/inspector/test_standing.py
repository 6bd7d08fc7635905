"""An item reported lost or stolen, or disposed of, is never "genuine" in the inspector's
verdict, offline: the label and the chain verify, but the verdict says what was reported."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from rich.console import Console

from ledger.canonical import format_hash
from ledger.codes import SignedCode, issue_batch, label_url
from ledger.envelope import open_envelope
from ledger.note import NoteVerifier
from ledger.signing import ED25519
from ledger.store.bundles import build_item_bundle
from scanners.inspector import InspectorKit, PinnedKey, ScanVerdict, ScanVerifier
from scanners.inspector.fetch import accept_bundle
from scanners.inspector.render import print_verdict
from tests.harness import ORIGIN, Harness
from tests.scanners.inspector.conftest import BASE_URL, DAY0, _commission, _event, _submit


@dataclass(frozen=True)
class Ledger:
    kit: InspectorKit
    labels: dict[str, SignedCode]
    stolen: str
    lost: str
    recovered: str
    disposed: str
    fine: str

    def scan(self, code: str) -> ScanVerdict:
        url = label_url(self.labels[code].for_label(), BASE_URL)
        return ScanVerifier(self.kit, clock=lambda: DAY0 + timedelta(hours=1)).verify(url)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    folder = tmp_path_factory.mktemp("standing")
    h = Harness.create(f"sqlite:///{folder / 'ledger.db'}")
    device = h.device("org-a")
    signed = issue_batch("org-a", "26.3", "cylinder", "B1", "2026-09-28", 5, h.root)
    h.store.append_code_batch(signed, root=(ED25519, h.root.public_key), log_signer=h.log)
    stolen, lost, recovered, disposed, fine = (s.code for s in signed)
    envelopes = [_commission(h, device, code, "site-a") for code in (stolen, lost, recovered,
                                                                     disposed, fine)]  # fmt: skip
    envelopes += [
        _event(h, device, "report_loss", stolen, {"kind": "theft", "police_report_no": "P-1"},
               "site-a"),
        _event(h, device, "report_loss", lost, {"kind": "loss"}, "site-a"),
        report := _event(h, device, "report_loss", recovered, {"kind": "theft"}, "site-a"),
        _event(h, device, "dispose", disposed, {"disposer": "org-a", "method": "incineration"},
               "site-a"),
    ]  # fmt: skip
    _submit(h, envelopes)
    _submit(h, [_event(h, device, "recover", recovered,
                       {"report": format_hash(open_envelope(report).event_hash)}, "site-a")])  # fmt: skip
    h.checkpoint()
    kit = InspectorKit(folder / "kit")
    kit.trust_folder.pin(
        root=PinnedKey(NoteVerifier.for_key("test-root", h.root.public_key), "test"),
        log=PinnedKey(NoteVerifier.for_key(ORIGIN, h.log.public_key), "test"),
    )
    for code in (stolen, lost, recovered, disposed, fine):
        bundle = json.loads(json.dumps(build_item_bundle(h.store, code, log_signer=h.log,
                                                         now=DAY0)))  # fmt: skip
        outcome = accept_bundle(kit, bundle, kind="item", subject=code, source="test",
                                now=DAY0 + timedelta(minutes=5))  # fmt: skip
        assert outcome.report.verified, outcome.report.faults
    h.store.engine.dispose()
    return Ledger(kit, {s.code: s for s in signed}, stolen, lost, recovered, disposed, fine)


def _printed(verdict: ScanVerdict) -> str:
    out = io.StringIO()
    print_verdict(Console(file=out, width=200, color_system=None), verdict)
    return out.getvalue()


@pytest.mark.parametrize(
    ("which", "standing", "verdict", "words"),
    [
        ("stolen", "stolen", "reported_stolen", "REPORTED STOLEN"),
        ("lost", "lost", "reported_lost", "REPORTED LOST"),
        ("disposed", "disposed", "retired", "DISPOSED OF"),
    ],
)
def test_an_item_not_in_good_standing_is_not_genuine_offline(
    ledger: Ledger, which: str, standing: str, verdict: str, words: str
) -> None:
    code = getattr(ledger, which)
    found = ledger.scan(code)
    assert found.source.kind == "bundle" and found.faults == []
    assert (found.verdict, found.standing) == (verdict, standing)
    assert found.exit_code == 1
    document = json.loads(json.dumps(found.to_json()))
    assert (document["verdict"], document["standing"]) == (verdict, standing)
    printed = _printed(found)
    first = printed.splitlines()[0]
    assert words in first and "GENUINE" not in first
    assert found.standing_message is not None


def test_a_stolen_item_says_so_in_words(ledger: Ledger) -> None:
    found = ledger.scan(ledger.stolen)
    assert found.standing_message is not None
    assert "reported stolen" in found.standing_message
    assert "reported stolen" in _printed(found)


def test_an_item_recovered_after_a_report_and_an_item_in_use_are_genuine(ledger: Ledger) -> None:
    for code in (ledger.recovered, ledger.fine):
        found = ledger.scan(code)
        assert (found.verdict, found.standing, found.exit_code) == ("genuine", "good", 0)
        assert found.standing_message is None
        assert _printed(found).startswith("GENUINE")


def test_the_steps_keep_their_json(ledger: Ledger) -> None:
    steps = ledger.scan(ledger.stolen).to_json()["steps"]
    assert steps[-1]["type"] == "report_loss" and steps[-1]["status"] == "lost"
    assert set(steps[-1]) == {"seq", "index", "type", "time", "log_time", "org", "holder",
                              "site", "status", "quantity", "unit"}  # fmt: skip
