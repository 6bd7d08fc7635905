"""What an offline bundle verification found: faults, warnings and the report.

Every finding has a stable machine ``code`` and a plain-words ``message`` a
handheld can show as is, naming the item and the event (its ``seq`` in that
item's chain) or the log entry at fault: "event 7 of cylinder CT-… was altered",
or, when the verifier is told which item the user is looking at (``focus``),
"event 7 of this cylinder was altered". Items are named by their packaging
(:func:`item_noun`) when the bundle carries their label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from ledger.canonical import JsonValue, b64encode
from ledger.timefmt import parse_utc

if TYPE_CHECKING:
    from ledger.bundle.state import VerifierState


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the verifier found, with where it found it."""

    code: str
    message: str
    item: str | None = None
    seq: int | None = None
    index: int | None = None

    def to_json(self) -> dict[str, JsonValue]:
        """The finding as report JSON (absent fields omitted)."""
        fields: dict[str, JsonValue] = {
            "code": self.code,
            "message": self.message,
            "item": self.item,
            "seq": self.seq,
            "index": self.index,
        }
        return {name: value for name, value in fields.items() if value is not None}


@dataclass(frozen=True, slots=True)
class BundleFault(Finding):
    """A reason not to trust the bundle: it was altered, is incomplete or contradicts the log."""


@dataclass(frozen=True, slots=True)
class BundleWarning(Finding):
    """Worth telling the user; the bundle still verifies (for example: stale, no label)."""


@dataclass(slots=True)
class BundleReport:
    """The outcome of :func:`ledger.bundle.verify_bundle`.

    ``state`` is the verifier state to keep: advanced when this bundle moved it
    forward (``state_advanced``), otherwise the state that was passed in. ``witnesses`` is
    ``None`` when no witness policy was applied, else who cosigned the accepted checkpoint
    (policy name to the POSIX time of the cosignature; empty under ``quorum none``).
    """

    faults: list[BundleFault] = field(default_factory=list)
    warnings: list[BundleWarning] = field(default_factory=list)
    origin: str | None = None
    subject: str | None = None
    checkpoint_size: int | None = None
    root_hash: bytes | None = None
    created_at: str | None = None
    items: list[str] = field(default_factory=list)
    events: int = 0
    certificates: int = 0
    state: VerifierState | None = None
    state_advanced: bool = False
    witnesses: dict[str, int] | None = None

    @property
    def verified(self) -> bool:
        """True when no fault was found (warnings allowed)."""
        return not self.faults

    def fault(
        self,
        code: str,
        message: str,
        *,
        item: str | None = None,
        seq: int | None = None,
        index: int | None = None,
    ) -> None:
        """Record a fault."""
        self.faults.append(BundleFault(code, message, item, seq, index))

    def warn(
        self,
        code: str,
        message: str,
        *,
        item: str | None = None,
        seq: int | None = None,
        index: int | None = None,
    ) -> None:
        """Record a warning."""
        self.warnings.append(BundleWarning(code, message, item, seq, index))

    def fault_codes(self) -> list[str]:
        """The codes of the faults, in the order found."""
        return [fault.code for fault in self.faults]

    def warning_codes(self) -> list[str]:
        """The codes of the warnings, in the order found."""
        return [warning.code for warning in self.warnings]

    def to_json(self) -> dict[str, JsonValue]:
        """The report as JSON for ``verify-bundle --json``."""
        return {
            "verified": self.verified,
            "origin": self.origin,
            "subject": self.subject,
            "checkpoint_size": self.checkpoint_size,
            "root_hash": None if self.root_hash is None else b64encode(self.root_hash),
            "created_at": self.created_at,
            "items": list(self.items),
            "events": self.events,
            "certificates": self.certificates,
            "state_advanced": self.state_advanced,
            "witnesses": None if self.witnesses is None else dict(self.witnesses),
            "faults": [fault.to_json() for fault in self.faults],
            "warnings": [warning.to_json() for warning in self.warnings],
        }


def describe_duration(delta: timedelta) -> str:
    """Render a duration for people: ``3 days 4 hours``, ``5 hours``, ``12 minutes``."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return _plural(days, "day") + (f" {_plural(hours, 'hour')}" if hours else "")
    if hours:
        return _plural(hours, "hour") + (f" {_plural(minutes, 'minute')}" if minutes else "")
    if minutes:
        return _plural(minutes, "minute")
    return "less than a minute"


def describe_witnesses(witnesses: Mapping[str, int]) -> str:
    """Who cosigned, for people: ``police (cosigned 2026-11-20T17:30:00Z), transport (…)``."""
    if not witnesses:
        return "none required (the witness policy's quorum is none)"
    return ", ".join(
        f"{name} (cosigned {datetime.fromtimestamp(stamp, UTC):%Y-%m-%dT%H:%M:%SZ})"
        for name, stamp in sorted(witnesses.items())
    )


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


_NOUNS: Final[Mapping[str, str]] = {"ibc": "IBC", "bulk": "bulk lot", "other": "item"}


def item_noun(packaging: str | None) -> str:
    """What to call an item in a message: its packaging (``cylinder``, ``drum``, ``IBC``) or
    ``item`` when unknown."""
    if packaging is None:
        return "item"
    return _NOUNS.get(packaging, packaging)


def describe_day(moment: str, now: datetime) -> str:
    """When ``moment`` (RFC 3339 UTC) was, relative to ``now``: ``today``, ``yesterday`` or
    ``on 2026-11-18`` (calendar days in UTC; the core has no time zone of its own)."""
    today = now.astimezone(UTC).date() if now.tzinfo is not None else now.date()
    days = (today - parse_utc(moment).date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    return f"on {moment[:10]}"
