"""A small ledger with real signing, its site bundles, and fresh inspector kits.

The ledger (SQLite, :class:`tests.harness.Harness`) is built once per session:

* cylinder ``main`` is commissioned by org-a at site-a, shipped by carrier org-c to
  org-b and received at site-b, then used there: its chain changes holder and place;
* ``resident`` (with a GS1 key) is commissioned and used at site-b;
* ``elsewhere`` stays at site-a;
* org-a's device key is revoked after its events (effective earlier: it cannot reach back).

Two checkpoints: ``old_*`` bundles at the first (made on DAY0), ``new_site_b`` at the
second (made three days later, with a consistency proof from the first). A ``fork``
ledger with the same keys but another history gives a bundle that contradicts them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.append import Accepted
from ledger.builder import DeviceSession
from ledger.canonical import JsonValue, format_hash
from ledger.codes import SignedCode, issue_batch, label_url
from ledger.envelope import open_envelope
from ledger.note import NoteVerifier
from ledger.revocations import issue_revocation
from ledger.signing import ED25519, Ed25519Signer
from ledger.store.bundles import build_site_bundle
from scanners.inspector import InspectorKit, PinnedKey, ScanVerdict, ScanVerifier
from scanners.inspector.fetch import FetchOutcome, accept_bundle
from tests.harness import ORIGIN, Harness

DAY0 = datetime(2026, 11, 17, 6, 0, tzinfo=UTC)
DAY3 = DAY0 + timedelta(days=3)
BASE_URL = "https://ct.example.cn"
GS1_KEY = "(01)09506000134352(21)ABC"
Bundle = dict[str, Any]


@dataclass(frozen=True)
class World:
    root: Ed25519Signer
    log: Ed25519Signer
    labels: dict[str, SignedCode]
    main: str
    resident: str
    elsewhere: str
    old_site_a: Bundle
    old_site_b: Bundle
    new_site_b: Bundle
    fork_site_b: Bundle
    """Same keys, another history, with a consistency proof from the new checkpoint's size."""
    main_events: int

    def label_url(self, code: str) -> str:
        return label_url(self.labels[code].for_label(), BASE_URL)

    def bundle(self, name: str) -> Bundle:
        """A fresh copy of one of the bundles, safe to tamper with."""
        document: Bundle = copy.deepcopy(getattr(self, name))
        return document


def _event(
    harness: Harness, device: DeviceSession, kind: str, code: str, data: dict[str, JsonValue],
    site: str | None,
) -> dict[str, JsonValue]:  # fmt: skip
    return device.event(kind, [code], data, time=harness.time(), site=site)


def _submit(harness: Harness, envelopes: list[dict[str, JsonValue]]) -> None:
    outcomes = harness.submit(envelopes)
    assert all(isinstance(outcome, Accepted) for outcome in outcomes), outcomes


def _quantity(value: str) -> dict[str, JsonValue]:
    return {"quantity": {"value": value, "unit": "kg"}}


def _commission(harness: Harness, device: DeviceSession, code: str, site: str) -> dict[str, Any]:
    data: dict[str, JsonValue] = {
        "chemical": "1", "quantity": {"value": "40", "unit": "kg"}, "lot": "L1",
        "packaging": "cylinder",
    }  # fmt: skip
    return _event(harness, device, "commission", code, data, site)


def _bundle(harness: Harness, site: str, now: datetime, since: int | None = None) -> Bundle:
    built = build_site_bundle(harness.store, site, log_signer=harness.log, now=now,
                              since_size=since)  # fmt: skip
    document: Bundle = json.loads(json.dumps(built))
    return document


def _size(bundle: Bundle) -> int:
    return int(bundle["checkpoint"].split("\n")[1])


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("inspector-ledger")
    h = Harness.create(f"sqlite:///{folder / 'ledger.db'}")
    org_a, org_b, _carrier = h.device("org-a"), h.device("org-b"), h.device("org-c")
    codes = issue_batch("org-a", "26.3", "cylinder", "B1", "2026-09-28", 3, h.root,
                        gs1_keys=["(01)09506000134352(21)MAIN", GS1_KEY, "(8003)09506000134352X"])  # fmt: skip
    h.store.append_code_batch(codes, root=(ED25519, h.root.public_key), log_signer=h.log)
    main, resident, elsewhere = (signed.code for signed in codes)
    chain = [
        _commission(h, org_a, main, "site-a"),
        _event(h, org_a, "use", main, _quantity("2.5"), "site-a"),
        _event(h, org_a, "ship", main, {"carrier": "org-c", "consignee": "org-b",
                                        "consignee_site": "site-b"}, "site-a"),
    ]  # fmt: skip
    shipped = format_hash(open_envelope(chain[-1]).event_hash)
    chain += [
        _event(h, org_b, "receive", main, {"ship": shipped, **_quantity("37.5")}, "site-b"),
        # In grams: the timeline must weigh it as the server does (36.5 kg left, not 37.5).
        _event(h, org_b, "use", main, {"quantity": {"value": "1000", "unit": "g"}}, "site-b"),
        _commission(h, org_b, resident, "site-b"),
        _event(h, org_b, "use", resident, _quantity("4"), "site-b"),
        _commission(h, org_a, elsewhere, "site-a"),
    ]
    _submit(h, chain)
    h.checkpoint()
    old_site_a, old_site_b = _bundle(h, "site-a", DAY0), _bundle(h, "site-b", DAY0)
    _submit(h, [_event(h, org_b, "use", main, _quantity("0.5"), "site-b") for _ in range(2)])
    # Logged after org-a's events, effective long before them: it cannot reach back.
    lost = issue_revocation(h.orgs["org-a"], key_id=org_a.signer.key_id, org="org-a",
                            effective_from="2020-06-01T00:00:00Z", reason="handheld lost")  # fmt: skip
    h.store.append_revocation(lost, root=(ED25519, h.root.public_key), log_signer=h.log)
    h.checkpoint()
    new_site_b = _bundle(h, "site-b", DAY3, since=_size(old_site_b))
    main_events = len(next(i for i in new_site_b["items"] if i["code"] == main)["chain"])

    fork = Harness.create(f"sqlite:///{folder / 'fork.db'}", root=h.root, log=h.log)
    fork_b = fork.device("org-b")
    fork.store.append_code_batch(codes, root=(ED25519, h.root.public_key), log_signer=h.log)
    _submit(fork, [_commission(fork, fork_b, resident, "site-b")])
    _submit(fork, [_event(fork, fork_b, "use", resident, _quantity("0.1"), "site-b")
                   for _ in range(_size(new_site_b))])  # fmt: skip
    fork.checkpoint()
    fork_site_b = _bundle(fork, "site-b", DAY3, since=_size(new_site_b))
    for harness in (h, fork):
        harness.store.engine.dispose()
    return World(
        root=h.root, log=h.log, labels={signed.code: signed for signed in codes}, main=main,
        resident=resident, elsewhere=elsewhere, old_site_a=old_site_a, old_site_b=old_site_b,
        new_site_b=new_site_b, fork_site_b=fork_site_b, main_events=main_events,
    )  # fmt: skip


class Kit:
    """A fresh inspector kit with the world's keys pinned, and a clock the test sets."""

    def __init__(self, home: Path, world: World) -> None:
        self.home, self.world = home, world
        self.kit = InspectorKit(home)
        self.now = DAY3 + timedelta(hours=1)
        self.kit.trust_folder.pin(
            root=PinnedKey(NoteVerifier.for_key("test-root", world.root.public_key), "test"),
            log=PinnedKey(NoteVerifier.for_key(ORIGIN, world.log.public_key), "test"),
        )

    def accept(
        self, bundle: Bundle, kind: str = "site", subject: str | None = None
    ) -> FetchOutcome:
        return accept_bundle(self.kit, bundle, kind=kind,  # type: ignore[arg-type]
                             subject=subject or bundle["subject"]["id"], source="test",
                             now=self.now)  # fmt: skip

    def scan(self, text: str) -> ScanVerdict:
        return ScanVerifier(self.kit, clock=lambda: self.now).verify(text)

    def stored_item(self, code: str) -> Path:
        download = next(self.kit.bundles.holding(code))
        return download.item_file(code)

    def tamper(self, code: str, change: Callable[[Bundle], object]) -> None:
        """Change the item's stored sub-bundle on disk, as an intruder with the files would."""
        path = self.stored_item(code)
        document = json.loads(path.read_text())
        change(document)
        path.write_text(json.dumps(document))


@pytest.fixture
def kit(tmp_path: Path, world: World) -> Kit:
    return Kit(tmp_path / "inspector", world)
