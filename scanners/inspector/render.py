"""Readable terminal output for the inspector's commands (rich), one function per answer."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from ledger.bundle import describe_witnesses
from ledger.bundle.checkpoints import describe_quorum
from scanners.inspector.fetch import FetchOutcome
from scanners.inspector.trust import PinnedTrust, fingerprint
from scanners.inspector.verdict import ScanVerdict

_HEADLINES = {
    "genuine": "[bold green]GENUINE[/]",
    "stale": "[bold yellow]GENUINE, FROM A STALE BUNDLE[/]",
    "reported_lost": "[bold red]REPORTED LOST[/]",
    "reported_stolen": "[bold red]REPORTED STOLEN[/]",
    "retired": "[bold red]NOT IN CIRCULATION[/]",
    "fault": "[bold red]FAULT[/]",
    "unknown_item": "[bold yellow]UNKNOWN ITEM[/]",
}
_RETIRED = {"disposed": "[bold red]DISPOSED OF[/]", "destroyed": "[bold red]DESTROYED[/]"}


def print_verdict(console: Console, verdict: ScanVerdict) -> None:
    """The verdict, what it rests on, the faults and warnings, then the custody chain."""
    subject = f"{verdict.noun} {verdict.code}" if verdict.code else "this scan"
    headline = _HEADLINES[verdict.verdict]
    if verdict.verdict == "retired":
        headline = _RETIRED.get(verdict.standing or "", headline)
    console.print(f"{headline}: {subject} ({verdict.scanned})", highlight=False)
    if verdict.standing_message is not None:
        console.print(f"  [red]{verdict.standing_message}[/]", highlight=False)
    console.print(f"source: {verdict.source.description}", highlight=False)
    if verdict.label is not None:
        label = verdict.label
        gs1 = f", GS1 {label.gs1_key}" if label.gs1_key else ""
        console.print(
            f"label: chemical {label.form}, {label.packaging}, issued to {label.org} "
            f"(batch {label.batch}, {label.issued_at}){gs1}",
            highlight=False,
        )
    if verdict.checkpoint_size is not None:
        console.print(
            f"log: checkpoint {verdict.checkpoint_size}, bundle made {verdict.bundle_created_at}",
            highlight=False,
        )
    if verdict.witnesses is not None:
        console.print(f"witnesses: {describe_witnesses(verdict.witnesses)}", highlight=False)
    for fault in verdict.faults:
        console.print(f"  [red]FAULT[/] {fault.message}  [dim]({fault.code})[/]", highlight=False)
    for warning in verdict.warnings:
        console.print(
            f"  [yellow]warning[/] {warning.message}  [dim]({warning.code})[/]", highlight=False
        )
    for note in verdict.notes:
        console.print(f"  note: {note}", highlight=False)
    if verdict.steps:
        title = (
            "custody chain"
            if verdict.verdict != "fault"
            else ("custody chain AS THE BUNDLE CLAIMS IT (not verified: do not rely on it)")
        )
        console.print(_timeline(verdict, title))


def _timeline(verdict: ScanVerdict, title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE, title_justify="left")
    columns = ("", "seq", "event", "time", "holder", "site", "quantity", "status", "log index")
    for column in columns:
        table.add_column(column, justify="right" if column in ("seq", "log index") else "left")
    at_fault = {f.seq for f in verdict.faults if f.item == verdict.code and f.seq is not None}
    for step in verdict.steps:
        quantity = "" if step.quantity is None else f"{step.quantity} {step.unit or ''}".strip()
        table.add_row(
            "[red]FAULT[/]" if step.seq in at_fault else "",
            str(step.seq),
            step.type,
            step.time,
            step.holder or "",
            step.site or "",
            quantity,
            step.status,
            str(step.index),
        )
    return table


def print_fetch(console: Console, outcome: FetchOutcome) -> None:
    """What a download brought and what the kit kept."""
    report = outcome.report
    what = f"the {outcome.kind} bundle of {outcome.subject}"
    size = (
        f"{len(report.items)} item(s), {report.events} event(s), "
        f"checkpoint {report.checkpoint_size}"
    )
    if not report.verified:
        console.print(
            f"[bold red]REFUSED[/]: {what} from {outcome.server} did not verify and was not "
            f"stored ({size})",
            highlight=False,
        )
        for fault in report.faults:
            console.print(
                f"  [red]FAULT[/] {fault.message}  [dim]({fault.code})[/]", highlight=False
            )
    else:
        console.print(f"[bold green]VERIFIED[/]: {what} ({size})", highlight=False)
    for warning in report.warnings:
        console.print(
            f"  [yellow]warning[/] {warning.message}  [dim]({warning.code})[/]", highlight=False
        )
    if report.witnesses is not None:
        console.print(f"witnesses: {describe_witnesses(report.witnesses)}", highlight=False)
    if outcome.proof_fetched:
        console.print("  the consistency proof from your last checkpoint came from the audit API")
    stored = outcome.stored
    if stored is not None and stored.stored is not None:
        console.print(
            f"stored: downloaded at {outcome.downloaded_at} -> {stored.stored.folder}",
            highlight=False,
        )
    elif stored is not None and stored.kept is not None:
        console.print(
            f"not stored: the kit keeps a newer {stored.kept.describe()} (checkpoint "
            f"{stored.kept.checkpoint_size}, downloaded at {stored.kept.downloaded_at})",
            highlight=False,
        )
    if report.state_advanced:
        console.print(f"state: now at checkpoint {report.checkpoint_size}")


def print_trust(console: Console, trust: PinnedTrust) -> None:
    """The pinned keys with their fingerprints."""
    for name, key in (("registry root", trust.root), ("log", trust.log)):
        when = f", pinned {key.pinned_at}" if key.pinned_at else ""
        console.print(f"{name} key: {key.verifier.vkey()}", highlight=False)
        console.print(f"  fingerprint (SHA-256): {fingerprint(key.verifier)}", highlight=False)
        console.print(f"  from: {key.source}{when}", highlight=False)
    pinned = trust.witness_policy
    if pinned is None:
        console.print("witness policy: none pinned (checkpoints need only the log's signature)")
        return
    policy, when = pinned.policy, f", pinned {pinned.pinned_at}" if pinned.pinned_at else ""
    console.print(
        f"witness policy: {describe_quorum(policy)}; {len(policy.witnesses)} witness key(s), "
        + (f"{len(policy.logs)} log key(s)" if policy.logs else "the pinned log key"),
        highlight=False,
    )
    console.print(f"  fingerprint (SHA-256): {pinned.fingerprint}", highlight=False)
    console.print(f"  from: {pinned.source}{when}", highlight=False)
