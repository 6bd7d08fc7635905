"""The inspector's answer for one scanned item: a verdict, the custody chain, and why.

A :class:`ScanVerdict` says whether the item is **genuine**, **stale** (genuine, but the
bundle is older than one the kit already verified), a **fault** (altered, incomplete,
forged, or contradicting what the kit verified before) or an **unknown item** (no
bundle holds it and the network did not help). Genuine means the label is genuine *and*
the item in good standing: a verified item its holder reported lost or stolen is
**reported_lost** / **reported_stolen**, and one disposed of or destroyed is **retired**.
It carries the custody chain as a timeline of :class:`Step` (holder, place, time and
quantity after each event, folded by the same :class:`ledger.state.Projection` as the
API's chain view; ``site`` is the item's place after the event, where the API's view
shows the event's own site), the plain-words faults and warnings, and which source was
used.

Exit codes (``chemtrace scan verify``): 0 genuine or stale (warnings allowed), 1 fault
(including a forged label) or an item not in good standing (reported lost or stolen,
disposed of, destroyed), 2 unknown item or could not run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from ledger.bundle import Finding, item_noun
from ledger.codes import CodeFacts, SignedCode
from ledger.errors import LedgerError
from ledger.events import ReportLoss, parse_body
from ledger.state import Kilograms, Projection

VerdictKind = Literal[
    "genuine", "stale", "reported_lost", "reported_stolen", "retired", "fault", "unknown_item"
]
SourceKind = Literal["network", "bundle", "label", "none"]
Standing = Literal["good", "lost", "stolen", "disposed", "destroyed"]
EXIT_GENUINE, EXIT_FAULT, EXIT_CANNOT_RUN = 0, 1, 2
_EXIT_CODES: Final[Mapping[VerdictKind, int]] = {
    "genuine": EXIT_GENUINE,
    "stale": EXIT_GENUINE,
    "reported_lost": EXIT_FAULT,
    "reported_stolen": EXIT_FAULT,
    "retired": EXIT_FAULT,
    "fault": EXIT_FAULT,
    "unknown_item": EXIT_CANNOT_RUN,
}
_STANDING_VERDICTS: Final[Mapping[Standing, VerdictKind]] = {
    "lost": "reported_lost",
    "stolen": "reported_stolen",
    "disposed": "retired",
    "destroyed": "retired",
}
_STANDING_WORDS: Final[Mapping[Standing, str]] = {
    "lost": "reported lost",
    "stolen": "reported stolen",
    "disposed": "disposed of",
    "destroyed": "destroyed",
}
_STANDING_EVENTS: Final = frozenset({"report_loss", "dispose", "destroy"})


@dataclass(frozen=True, slots=True)
class Step:
    """One event of the custody chain and the item's state right after it."""

    seq: int
    index: int
    type: str
    time: str
    log_time: str
    org: str
    holder: str | None
    site: str | None
    status: str
    quantity: str | None
    unit: str | None
    reported: Literal["loss", "theft"] | None = None
    """What a ``report_loss`` event reported (the verdict's standing; not in the JSON)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "index": self.index,
            "type": self.type,
            "time": self.time,
            "log_time": self.log_time,
            "org": self.org,
            "holder": self.holder,
            "site": self.site,
            "status": self.status,
            "quantity": self.quantity,
            "unit": self.unit,
        }


@dataclass(frozen=True, slots=True)
class Source:
    """Where the verified data came from."""

    kind: SourceKind
    description: str
    """``verified online (network)`` or ``verified offline from the site bundle of …``."""
    server: str | None = None
    bundle: str | None = None
    """``site haidian-lab`` or ``item CT-…``."""
    downloaded_at: str | None = None
    age: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "server": self.server,
            "bundle": self.bundle,
            "downloaded_at": self.downloaded_at,
            "age": self.age,
        }


@dataclass(frozen=True, slots=True)
class ScanVerdict:
    """The answer for one scan."""

    verdict: VerdictKind
    scanned: str
    """What was scanned, for people (``a chemtrace label (QR)``)."""
    code: str | None
    source: Source
    label: CodeFacts | None = None
    """What the registry issued with the code (its signed record in the bundle, else the
    scanned label)."""
    steps: Sequence[Step] = ()
    faults: Sequence[Finding] = ()
    warnings: Sequence[Finding] = ()
    notes: Sequence[str] = ()
    """How the answer was reached (``the network was not available …``)."""
    checkpoint_size: int | None = None
    bundle_created_at: str | None = None
    state_advanced: bool = False
    witnesses: Mapping[str, int] | None = None
    """Who cosigned the bundle's checkpoint (name to POSIX time), when the kit pins a
    witness policy and the checkpoint met it; ``None`` otherwise."""

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self.verdict]

    @property
    def noun(self) -> str:
        """``cylinder``, ``drum`` …, or ``item`` when no label told us."""
        return item_noun(None if self.label is None else self.label.packaging)

    @property
    def standing(self) -> Standing | None:
        """The verified item's standing after its last event; None when nothing verified it."""
        if self.verdict in ("fault", "unknown_item"):
            return None
        return standing_of(self.steps)

    @property
    def standing_message(self) -> str | None:
        """In plain words, why an item not in good standing is not genuine; else None."""
        standing = self.standing
        if standing is None or standing == "good":
            return None
        event = next((s for s in reversed(self.steps) if s.type in _STANDING_EVENTS), None)
        when = "" if event is None else f" by {event.org} at {event.time}"
        return (
            f"the label and the custody chain verify, but this {self.noun} was "
            f"{_STANDING_WORDS[standing]}{when}: it should not be in circulation"
        )

    def to_json(self) -> dict[str, Any]:
        """The verdict as JSON for ``scan verify --json``."""
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "scanned": self.scanned,
            "code": self.code,
            "label": None if self.label is None else self.label.to_json(),
            "source": self.source.to_json(),
            "checkpoint_size": self.checkpoint_size,
            "bundle_created_at": self.bundle_created_at,
            "state_advanced": self.state_advanced,
            "witnesses": None if self.witnesses is None else dict(self.witnesses),
            "standing": self.standing,
            "standing_message": self.standing_message,
            "faults": [finding.to_json() for finding in self.faults],
            "warnings": [finding.to_json() for finding in self.warnings],
            "notes": list(self.notes),
            "steps": [step.to_json() for step in self.steps],
        }


def custody_timeline(bundle: Mapping[str, Any], code: str, kilograms: Kilograms) -> list[Step]:
    """The item's events in ``bundle`` as steps, folding holder, place and quantity.

    Reads the bundle's JSON as the verifier already judged it, parsing only the event
    bodies (no second canonicalisation or hashing: that is the verifier's job, and it
    would double the cost of a scan). Best effort: a part that does not parse ends the
    timeline; the verdict says what is wrong with it.
    """
    projection, steps = Projection(kilograms=kilograms), []
    try:
        item = next(item for item in bundle["items"] if item["code"] == code)
        entries = {entry["index"]: entry for entry in bundle["events"]}
        for index in item["chain"]:
            entry = entries[index]
            body = parse_body(entry["envelope"]["body"])
            projection.apply(body)
            state = projection.items[code]
            steps.append(
                Step(
                    seq=state.seq,
                    index=index,
                    type=body.type,
                    time=body.time,
                    log_time=str(entry["log_time"]),
                    org=body.org,
                    holder=state.holder,
                    site=state.site,
                    status=state.status,
                    quantity=None if state.quantity is None else str(state.quantity),
                    unit=state.unit,
                    reported=body.data.kind if isinstance(body, ReportLoss) else None,
                )
            )
    except (KeyError, TypeError, AttributeError, StopIteration, LedgerError):
        pass
    return steps


def standing_of(steps: Sequence[Step]) -> Standing:
    """``good`` (active, or in transit with a carrier), else what the last event made it."""
    if not steps:
        return "good"
    status = steps[-1].status
    if status == "lost":
        report = next((s for s in reversed(steps) if s.type == "report_loss"), None)
        return "stolen" if report is not None and report.reported == "theft" else "lost"
    if status == "disposed":
        return "disposed"
    if status == "destroyed":
        return "destroyed"
    return "good"


def in_standing(verdict: VerdictKind, steps: Sequence[Step]) -> VerdictKind:
    """A genuine (or stale) verdict of an item not in good standing names its standing."""
    if verdict not in ("genuine", "stale"):
        return verdict
    return _STANDING_VERDICTS.get(standing_of(steps), verdict)


def bundled_label(bundle: Mapping[str, Any], code: str) -> SignedCode | None:
    """The registry's label record for ``code`` in the bundle, if it parses."""
    for item in bundle.get("items") or ():
        if isinstance(item, Mapping) and item.get("code") == code and item.get("label"):
            try:
                return SignedCode.from_json(item["label"])
            except LedgerError:
                return None
    return None
