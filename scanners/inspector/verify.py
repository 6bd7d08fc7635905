"""Verify one scanned item: the label offline, then its custody chain online or offline.

1. The scan is read (:mod:`scanners.inspector.scan_input`). A label URL's registry
   signature is checked against the pinned root key first, with no network: a forged
   label is a fault on its own ("this label was not issued by the registry").
2. **Online** (a server was given and ``--offline`` was not): the item's bundle is
   downloaded, verified with the kit's pinned keys and state, and kept in the kit
   (:func:`scanners.inspector.fetch.fetch_bundle`). When the network or the server
   fails, the kit says so and falls back to offline.
3. **Offline**: the newest stored download that holds the item gives its sub-bundle
   (:mod:`scanners.inspector.subbundle`), which is verified in full, against the pinned
   keys and the saved state, on every scan.

Why verify a sub-bundle per scan rather than cache verdicts
===========================================================

Verifying the whole site bundle once at download and caching per-item verdicts would
make a scan a lookup, but then the verdict is only as good as the cache file: anyone
who can edit the kit's files could write "genuine" into it, and keying the cache by
the bundle's hash does not help when the attacker rewrites both. Verifying the item's
sub-bundle on each scan needs no secret on the handheld and trusts nothing on disk but
the pinned keys and the saved state (the trust anchors themselves): an altered file is
caught like an altered download. A 20-event sub-bundle verifies in well under 10 ms,
which keeps scan-to-verdict inside the 50 ms budget (``bench/scan.py``).

After verifying, the scan is tied to the bundle: a scanned label must state the same
facts as the registry's record in the bundle, and a GS1 key must be the one that
record carries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from ledger.bundle import BundleReport, Finding
from ledger.codes import SignedCode, verify_code
from ledger.errors import LedgerError
from ledger.signing import ED25519
from ledger.store.catalog_files import load_registry
from ledger.units import CatalogUnits
from scanners.client import ApiError, ChemtraceClient
from scanners.files import KitFileError, read_json
from scanners.inspector.fetch import TIME_FORMAT, fetch_bundle, verify_with_kit
from scanners.inspector.kit import InspectorKit
from scanners.inspector.scan_input import Scan, read_scan
from scanners.inspector.store import StoredDownload
from scanners.inspector.trust import PinnedTrust
from scanners.inspector.verdict import (
    ScanVerdict,
    Source,
    VerdictKind,
    bundled_label,
    custody_timeline,
    in_standing,
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class OnlineAccess:
    """How to reach the server for online verification."""

    server: str
    token: str | None = None
    timeout: float = 10.0


class ScanVerifier:
    """Verifies scans with one kit."""

    def __init__(
        self, kit: InspectorKit, *, clock: Clock = utc_now, units: CatalogUnits | None = None
    ) -> None:
        self.kit = kit
        self.clock = clock
        self.units = units or CatalogUnits(load_registry())
        """The catalogs shipped with the handheld: the timeline weighs a 50 L use of a
        drum recorded in kg as the server does."""

    def verify(self, text: str, *, online: OnlineAccess | None = None) -> ScanVerdict:
        """The verdict for one scan's text (see :meth:`verify_scan`).

        Raises:
            scanners.inspector.scan_input.UnreadableScanError: the text is not a scan we read.
            scanners.inspector.trust.TrustError: no keys are pinned (or they are malformed).
            scanners.inspector.kit.KitStateError: the saved state is unreadable.
        """
        return self.verify_scan(read_scan(text), online=online)

    def verify_scan(self, scan: Scan, *, online: OnlineAccess | None = None) -> ScanVerdict:
        """The verdict for one read scan: label first, then the chain online or offline.

        Raises:
            scanners.inspector.trust.TrustError: no keys are pinned (or they are malformed).
            scanners.inspector.kit.KitStateError: the saved state is unreadable.
        """
        trust = self.kit.trust()
        if scan.label is not None:
            forged = _forged_label(scan, trust)
            if forged is not None:
                return forged
        notes: list[str] = []
        code = scan.code or self._code_for_gs1(scan, online, notes)
        if code is None:
            return ScanVerdict(
                "unknown_item",
                scan.describe(),
                None,
                Source("none", "not verified: the GS1 key names no known trace code"),
                notes=[
                    *notes,
                    f"no stored bundle maps the GS1 key {scan.gs1_key} to a trace code: fetch "
                    "the site bundle first (chemtrace scan fetch --site SITE)",
                ],
            )
        if online is not None:
            verdict = self._online(scan, code, online, notes)
            if verdict is not None:
                return verdict
        return self._offline(scan, code, trust, notes)

    def _code_for_gs1(
        self, scan: Scan, online: OnlineAccess | None, notes: list[str]
    ) -> str | None:
        """The code a GS1 key was issued with: from the stored label records, else the server.

        Either answer is only a pointer: the verdict checks that the registry's signed
        record of that code carries this GS1 key.
        """
        assert scan.gs1_key is not None
        stored = self.kit.bundles.code_for_gs1(scan.gs1_key)
        if stored is not None or online is None:
            return stored
        try:
            with _client(online) as client:
                return client.resolve_gs1_key(scan.gs1_key)
        except httpx.HTTPError as exc:
            notes.append(f"the network was not available ({_short(exc)})")
        except ApiError as exc:
            notes.append(f"the server could not resolve the GS1 key ({exc.status} {exc.code})")
        return None

    # -- the two sources --------------------------------------------------------------------

    def _online(
        self, scan: Scan, code: str, online: OnlineAccess, notes: list[str]
    ) -> ScanVerdict | None:
        now = self.clock()
        try:
            with _client(online) as client:
                fetched = fetch_bundle(
                    self.kit,
                    client,
                    kind="item",
                    subject=code,
                    server=online.server,
                    now=now,
                    focus=code,
                )
        except httpx.HTTPError as exc:
            notes.append(
                f"the network was not available ({_short(exc)}), so this was verified offline"
            )
            return None
        except ApiError as exc:
            notes.append(
                f"the server did not give this item's bundle ({exc.status} {exc.code}), "
                "so this was verified offline"
            )
            return None
        source = Source("network", f"verified online (network: {online.server})", online.server,
                        f"item {code}", fetched.downloaded_at, "just now")  # fmt: skip
        if fetched.stored is not None and fetched.stored.stored is not None:
            notes.append("the item's bundle was kept in the kit for offline use")
        return self._judge(scan, code, fetched.bundle, fetched.report, source, notes)

    def _offline(self, scan: Scan, code: str, trust: PinnedTrust, notes: list[str]) -> ScanVerdict:
        download = next(self.kit.bundles.holding(code), None)
        if download is None:
            where = "no stored bundle holds it and the network was not used"
            if notes:
                where = "no stored bundle holds it"
            notes.append(
                f"{where}: fetch the site bundle before the inspection "
                "(chemtrace scan fetch --site SITE) or verify online (--server URL)"
            )
            if scan.label is not None:
                notes.append(
                    "the label itself is genuine (its registry signature verifies); only its "
                    "custody chain could not be checked"
                )
            return ScanVerdict(
                "unknown_item",
                scan.describe(),
                code,
                Source("none", f"not verified: {where}"),
                label=None if scan.label is None else scan.label.facts,
                notes=notes,
            )
        now = self.clock()
        source = _offline_source(download, now.strftime(TIME_FORMAT))
        state = self.kit.state()
        try:
            bundle: Any = read_json(download.item_file(code), "stored bundle")
        except KitFileError as exc:
            report = BundleReport(state=state)
            report.fault("bundle_malformed", f"the stored bundle is damaged: {exc}")
            return self._judge(scan, code, {}, report, source, notes)
        report = verify_with_kit(bundle, trust, state, now, focus=code)
        if report.verified and report.state_advanced and report.state is not None:
            self.kit.save_state(report.state)
        return self._judge(scan, code, bundle, report, source, notes)

    # -- the verdict ------------------------------------------------------------------------

    def _judge(
        self,
        scan: Scan,
        code: str,
        bundle: Any,
        report: BundleReport,
        source: Source,
        notes: list[str],
    ) -> ScanVerdict:
        """Tie the scan to the verified bundle and name the verdict.

        The faults added here are about the scan (another item's bundle, a label or GS1
        key that does not match the registry's record), not about the log, so a state
        the bundle already advanced stays advanced.
        """
        if report.verified and code not in report.items:
            report.fault(
                "bundle_subject_mismatch",
                f"the stored bundle for {code} holds {', '.join(report.items) or 'no item'}",
                item=code,
            )
        record = bundled_label(bundle, code) if isinstance(bundle, dict) else None
        if report.verified:
            _tie_scan_to_record(scan, code, record, report)
        if scan.kind != "label":
            report.warn(
                "label_not_scanned",
                f"{scan.describe()} was read, not the chemtrace QR: the physical label itself "
                "was not checked, only the registry's record of the code",
                item=code,
            )
        label = record or scan.label
        verdict: VerdictKind = "fault" if report.faults else "genuine"
        if verdict == "genuine" and "bundle_stale" in report.warning_codes():
            verdict = "stale"
        steps = (
            custody_timeline(bundle, code, self.units.kilograms) if isinstance(bundle, dict) else []
        )
        return ScanVerdict(
            verdict=in_standing(verdict, steps),
            scanned=scan.describe(),
            code=code,
            source=source,
            label=None if label is None else label.facts,
            steps=steps,
            faults=list(report.faults),
            warnings=list(report.warnings),
            notes=notes,
            checkpoint_size=report.checkpoint_size,
            bundle_created_at=report.created_at,
            state_advanced=report.state_advanced,
            witnesses=report.witnesses,
        )


def _forged_label(scan: Scan, trust: PinnedTrust) -> ScanVerdict | None:
    assert scan.label is not None
    try:
        verify_code(scan.label, ED25519, trust.root_public_key)
    except LedgerError:
        fault = Finding(
            "label_forged",
            "this label was not issued by the registry (the signature in its QR code does not "
            "verify with the pinned registry root key)",
            item=scan.code,
        )
        return ScanVerdict(
            "fault",
            scan.describe(),
            scan.code,
            Source("label", "checked offline against the pinned registry root key"),
            label=scan.label.facts,
            faults=[fault],
        )
    return None


def _tie_scan_to_record(
    scan: Scan, code: str, record: SignedCode | None, report: BundleReport
) -> None:
    """A verified scan must say what the registry's verified record in the bundle says."""
    if scan.label is not None and record is not None:
        scanned, recorded = scan.label.facts, record.facts.label_facts()
        if scanned != recorded:
            differing = [
                f"{name} {getattr(scanned, name)!r} (record: {getattr(recorded, name)!r})"
                for name in ("org", "form", "packaging", "batch", "issued_at")
                if getattr(scanned, name) != getattr(recorded, name)
            ]
            report.fault(
                "label_mismatch",
                "this label does not match the registry's record of the code: "
                + ", ".join(differing),
                item=code,
            )
    if scan.kind == "gs1" and (record is None or record.facts.gs1_key != scan.gs1_key):
        carried = "no GS1 key" if record is None else (record.facts.gs1_key or "no GS1 key")
        report.fault(
            "gs1_key_mismatch",
            f"the GS1 key {scan.gs1_key} is not this item's: the registry's record of {code} "
            f"carries {carried}",
            item=code,
        )


def _offline_source(download: StoredDownload, now: str) -> Source:
    age = download.age(now)
    return Source(
        "bundle",
        f"verified offline from {download.describe()} downloaded at {download.downloaded_at} "
        f"(age {age})",
        download.server,
        f"{download.kind} {download.subject}",
        download.downloaded_at,
        age,
    )


def _client(online: OnlineAccess) -> ChemtraceClient:
    return ChemtraceClient(online.server, token=online.token, timeout=online.timeout)


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "…"
