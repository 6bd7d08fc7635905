"""What `chemtrace demo` shows after seeding: printable labels and one offline bundle, verified."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from api.deployment import Deployment
from api.labels import render_sheet_png
from ledger.bundle import verify_bundle
from ledger.codes import SignedCode, label_url
from ledger.signing import ED25519
from ledger.store.bundles import build_item_bundle

LABEL_BASE_URL = "HTTPS://CT.EXAMPLE.CN"


def write_labels(codes: list[SignedCode], folder: Path) -> Path:
    """Render every demo code on A4 label sheets (25 mm QR labels); return the first sheet."""
    folder.mkdir(parents=True, exist_ok=True)
    urls = [label_url(signed, LABEL_BASE_URL) for signed in codes]
    first = folder / "labels-1.png"
    for number, start in enumerate(range(0, len(urls), 56), start=1):
        (folder / f"labels-{number}.png").write_bytes(render_sheet_png(urls[start : start + 56]))
    return first


def offline_bundle(deployment: Deployment, code: str, folder: Path, console: Console) -> bool:
    """Export ``code``'s bundle, verify it with the two pinned public keys only, print the chain."""
    folder.mkdir(parents=True, exist_ok=True)
    bundle = build_item_bundle(deployment.store, code, log_signer=deployment.keys.log_signer())
    path = folder / f"{code}.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False, indent=1), encoding="utf-8")
    keys = deployment.trusted_keys()
    exported = json.loads(path.read_text(encoding="utf-8"))
    report = verify_bundle(
        exported, root_algorithm=ED25519,
        root_public_key=keys.root_public_key, log_verifier=keys.log, state=None,
        now=datetime.now(UTC),
    )  # fmt: skip
    events = {entry["hash"]: entry for entry in exported["events"]}
    console.print(f"\nOffline bundle for cylinder {code}: {path} ({len(events)} events)")
    for entry in events.values():
        body = entry["envelope"]["body"]
        console.print(
            f"  {body['time']}  {body['type']:<11} {body['org']:<16} {body.get('site', '-')}"
        )
    verdict = (
        "[bold green]VERIFIED OFFLINE[/bold green]"
        if report.verified
        else "[bold red]FAULTS[/bold red]"
    )
    console.print(f"  {verdict}: {len(report.faults)} fault(s), {len(report.warnings)} warning(s)")
    for problem in [*report.faults, *report.warnings]:
        console.print(f"  - {problem.code}: {problem.message}")
    return report.verified
