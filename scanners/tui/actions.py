"""What the screens ask of the device and the kit: thin calls into their APIs, no drawing.

Each function opens what it needs (the outbox, a client), calls the device or inspector
API once, and lets that API's own errors through with their plain messages; the screens
only show them. Every function opens its own :class:`Outbox`, because a SQLite
connection belongs to the thread that opened it and sync runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from ledger.builder import Head
from ledger.canonical import JsonValue
from ledger.timefmt import format_utc
from scanners.client import ApiError, ChemtraceClient
from scanners.device.enrol import author, client_of
from scanners.device.home import DeviceHome
from scanners.device.outbox import WAITING, Outbox, OutboxEvent
from scanners.device.sync import (
    Conflict,
    Resolution,
    RetryPolicy,
    SyncReport,
    explain,
    sync,
)
from scanners.device.sync import resolve as resolve_conflict
from scanners.errors import ScannerError
from scanners.identifiers import ScanError, parse_scan
from scanners.inspector import InspectorKit
from scanners.inspector.verify import OnlineAccess

SYNC_ATTEMPTS = 4
"""Fewer than the CLI's six: a person is watching the screen and can press sync again."""


@dataclass(frozen=True, slots=True)
class Handheld:
    """The device home the handoffs go into and the inspector kit the verify screen uses."""

    device: DeviceHome
    kit: InspectorKit


class ScanLookupError(ScannerError):
    """The scan was read but names no trace code this device can act on."""


@dataclass(frozen=True, slots=True)
class OutboxView:
    """What the outbox screen shows."""

    counts: Mapping[str, int]
    events: list[OutboxEvent]
    blocked: frozenset[int]

    def state_of(self, event: OutboxEvent) -> str:
        return "blocked" if event.id in self.blocked else event.state


def now_utc() -> str:
    return format_utc(datetime.now(UTC).replace(microsecond=0))


# -- handoff ---------------------------------------------------------------------------------


def trace_code_of(text: str, handheld: Handheld) -> str:
    """The trace code a scan names. A GS1 key is looked up in the kit's stored bundles, then,
    on an enrolled device, asked of the server (it may block for the client's timeout).

    Raises:
        ScanError: the scan is not a valid identifier (its message says why).
        ScanLookupError: it is, but no trace code can be found for it.
    """
    result = parse_scan(text)
    if result.trace_code is not None:
        return result.trace_code
    if result.gs1_key is None:
        raise ScanLookupError(f"this scan ({result.kind}) names neither a trace code nor a GS1 key")
    stored = handheld.kit.bundles.code_for_gs1(result.gs1_key)
    if stored is not None:
        return stored
    unmapped = f"no stored bundle maps the GS1 key {result.gs1_key} to a trace code"
    advice = ("scan the item's chemtrace QR label, or fetch the site bundle first "
              "(chemtrace scan fetch --site SITE)")  # fmt: skip
    if not handheld.device.enrolled():
        raise ScanLookupError(f"{unmapped} and this device has no server to ask: {advice}")
    try:
        with client_of(handheld.device) as client:
            return client.resolve_gs1_key(result.gs1_key)
    except httpx.HTTPError as exc:
        raise ScanLookupError(f"{unmapped} and the server could not be reached "
                              f"({type(exc).__name__}): {advice}") from exc  # fmt: skip
    except ApiError as exc:
        raise ScanLookupError(f"{unmapped} and the server did not resolve it ({exc}): "
                              f"{advice}") from exc  # fmt: skip


def scan_problem(exc: ScanError | ScanLookupError) -> str:
    """A refused scan in plain words, with its stable code where it has one."""
    if isinstance(exc, ScanError):
        return f"cannot read this scan: {exc.message} ({exc.code})"
    return str(exc)


def known_head(device: DeviceHome, code: str) -> Head | None:
    """This device's view of the item's chain head, if it has one."""
    with Outbox(device.outbox_path) as outbox:
        return outbox.head(code)


def newest_event(device: DeviceHome, code: str, event_type: str) -> OutboxEvent | None:
    """The newest ``event_type`` event of the item in the outbox, waiting or sent."""
    with Outbox(device.outbox_path) as outbox:
        return outbox.newest(code, event_type, "pending", "sent")


def record(
    device: DeviceHome,
    event_type: str,
    code: str,
    data: Mapping[str, JsonValue],
    geo: Mapping[str, str] | None = None,
) -> OutboxEvent:
    """Sign the event now, at the profile's site, and keep it in the outbox.

    Raises:
        DeviceError: not enrolled, or ``head_unknown``.
        ledger.errors.LedgerError: the event is invalid (nothing was kept).
    """
    signing_as = author(device)
    site = device.profile().site
    with Outbox(device.outbox_path) as outbox:
        return outbox.record(signing_as, event_type, [code], data, time=now_utc(), site=site,
                             geo=geo)  # fmt: skip


# -- outbox ----------------------------------------------------------------------------------


def outbox_view(device: DeviceHome, *, everything: bool = False) -> OutboxView:
    with Outbox(device.outbox_path) as outbox:
        events = outbox.events() if everything else outbox.events(*WAITING)
        blocked = frozenset(event.id for event in outbox.sendable()[1])
        return OutboxView(outbox.counts(), events, blocked)


def sync_outbox(
    device: DeviceHome,
    on_progress: Callable[[int, int], None],
    on_wait: Callable[[str, float], None],
) -> SyncReport:
    """Send what may go now (see :func:`scanners.device.sync.sync`).

    Raises:
        DeviceError: not enrolled, or the server stayed unreachable (nothing is lost).
        scanners.client.ApiError: the server refused the whole request (a bad token, …).
    """
    profile = device.profile()
    with client_of(device) as client, Outbox(device.outbox_path) as outbox:
        return sync(outbox, client, log_vkey=profile.log_vkey,
                    retry=RetryPolicy(attempts=SYNC_ATTEMPTS), on_progress=on_progress,
                    on_wait=on_wait)  # fmt: skip


def waiting_count(device: DeviceHome) -> int:
    with Outbox(device.outbox_path) as outbox:
        counts = outbox.counts()
    return sum(counts[state] for state in WAITING)


def explain_event(device: DeviceHome, event_id: int) -> Conflict:
    """What happened to a conflicted or rejected event, asking the server when it can."""
    with Outbox(device.outbox_path) as outbox:
        event = outbox.get(event_id)
        if not device.enrolled():
            return explain(outbox, None, event)
        with client_of(device) as client:
            return explain(outbox, client, event)


def resolve(
    device: DeviceHome, conflict: Conflict, action: Resolution, reason: str | None = None
) -> str:
    """Apply a decision a person confirmed (see :func:`scanners.device.sync.resolve`)."""
    with Outbox(device.outbox_path) as outbox:
        return resolve_conflict(outbox, conflict, action, device.active_signer(), reason)


# -- verify ----------------------------------------------------------------------------------


def online_access(device: DeviceHome) -> OnlineAccess | None:
    """How to verify online: the device profile's server and token, if enrolled."""
    if not device.enrolled():
        return None
    return OnlineAccess(device.profile().server, device.token())


def reachable(access: OnlineAccess) -> bool:
    try:
        with ChemtraceClient(access.server, timeout=3.0) as client:
            client.healthz()
    except (httpx.HTTPError, ApiError):
        return False
    return True
