"""Scan-to-verdict benchmark: photo of a label in, verified custody chain out, offline.

Run from the project root::

    .venv/bin/python -m bench.scan [--items 50] [--events 20] [--scans 100] [--background 2000]

A ledger is built in-process on a SQLite file (the test :class:`tests.harness.Harness`,
real Ed25519 signing and the real ingest path): ``--items`` registry-issued cylinders at
one site, each with ``--events`` events (a commission, then uses), interleaved with
``--background`` events on other items at another site so inclusion proofs have a
realistic depth. After a checkpoint, the site bundle is built (``build_site_bundle``)
and accepted into a fresh inspector kit exactly as ``chemtrace scan fetch`` does
(verified once, stored, cut into per-item sub-bundles).

Each item's label (``api.labels.render_png``, 25 mm at 300 dpi) is pasted into a
1280x960 photo-like PNG: scaled, turned up to 15 degrees, on a ribbed grey drum with
uneven light, sensor noise and a slight blur. Then every timed scan is the whole path:

* **decode**: ``scanners.images.decode_image`` on the PNG bytes (PNG decoding, grayscale,
  zxing-cpp), giving the AIM identifier and content (``]Q1HTTPS://…``);
* **parse**: ``scanners.inspector.read_scan`` (``scanners.identifiers.parse_scan``);
* **verify**: ``ScanVerifier.verify_scan``, offline: the label's registry signature with
  the pinned root key, the lookup in the kit, reading the item's sub-bundle, the full
  bundle verification against the pinned keys and the saved state, and the custody
  timeline.

Every timed scan must end ``genuine`` with the right code and all ``--events`` steps.
Three image cases are timed, each judged against the target (p95 of the total <= 50 ms):

* an 8-bit grayscale PNG, as a handheld's 2D imager delivers a frame, read for QR (the
  inspector scans our QR label);
* an RGB phone photo PNG of the same scenes, read for QR: PNG decoding of a noisy
  colour photo (about 0.9 MB) is the largest single cost of a scan;
* the RGB photo read for every supported format (QR, Micro QR, DataMatrix, Code 128:
  ``decode_image``'s default), as a scanner that does not know what it will see.

For comparison, two rows time ``json.loads`` + ``verify_bundle`` alone: of the item's
sub-bundle (what a scan verifies) and of the whole site bundle (what it would cost to
verify the site bundle on every scan instead).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter
from rich.console import Console

from api.labels import render_png
from bench._machine import header_lines, percentile, results_table
from bench.bundle import submit, timed
from ledger.canonical import JsonValue
from ledger.codes import SignedCode, issue_batch, label_url
from ledger.note import NoteVerifier
from ledger.signing import ED25519
from ledger.store.bundles import build_site_bundle
from scanners.images import SUPPORTED_FORMATS, decode_image
from scanners.inspector import InspectorKit, PinnedKey, ScanVerifier, accept_bundle, read_scan
from scanners.inspector.fetch import verify_with_kit
from tests.harness import ORIGIN, Harness

TARGET_MS = 50.0
WARMUP = 10
SITE = "site-a"  # where tests.harness.Harness commissions and uses
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
PHOTO_SIZE = (1280, 960)
BASE_URL = "https://ct.example.cn"


@dataclass(frozen=True)
class Photo:
    code: str
    png: bytes


@dataclass
class Samples:
    decode: list[float]
    parse: list[float]
    verify: list[float]
    total: list[float]


def build_ledger(
    folder: Path, items: int, events: int, background: int
) -> tuple[Harness, list[str]]:
    harness = Harness.create(f"sqlite:///{folder / 'bench.db'}")
    mine, other = harness.device("org-a"), harness.device("org-b")
    signed = issue_batch("org-a", "26.3", "cylinder", "B1", "2026-09-28", items, harness.root)
    harness.store.append_code_batch(
        signed, root=(ED25519, harness.root.public_key), log_signer=harness.log
    )
    codes = [code.code for code in signed]
    quantity: dict[str, JsonValue] = {"quantity": {"value": "0.1", "unit": "kg"}}
    chains: list[dict[str, JsonValue]] = []
    for step in range(events):  # round robin: each item's events spread over the log
        for code in codes:
            if step == 0:
                chains.append(harness.commission(mine, code))
            else:
                chains.append(harness.use(mine, code, "0.1"))
    noise_items = [f"BG-{n:05d}" for n in range(max(background // 10, 1))]
    noise = [
        other.event("commission", [item], {"chemical": "1", "lot": "L1", "packaging": "drum",
                    "quantity": {"value": "200", "unit": "kg"}}, time=harness.time(), site="site-z")
        for item in noise_items
    ]  # fmt: skip
    noise += [
        other.event("use", [noise_items[n % len(noise_items)]], quantity, time=harness.time(),
                    site="site-z")
        for n in range(max(background - len(noise_items), 0))
    ]  # fmt: skip
    step = max(len(noise) // max(len(chains), 1), 1)
    ordered: list[dict[str, JsonValue]] = []
    for position, envelope in enumerate(chains):
        ordered += noise[position * step : (position + 1) * step]
        ordered.append(envelope)
    ordered += noise[len(chains) * step :]
    submit(harness, ordered)
    harness.checkpoint()
    return harness, codes


def photo_of(url: str, rng: random.Random, *, grayscale: bool) -> bytes:
    """The label as a camera sees it on a drum: scaled, turned, lit unevenly, noisy, soft."""
    label = Image.open(io.BytesIO(render_png(url))).convert("L")
    scale = rng.uniform(1.3, 1.8)
    label = label.resize((round(label.width * scale), round(label.height * scale)),
                         Image.Resampling.BICUBIC)  # fmt: skip
    angle = rng.uniform(-15, 15)
    mask = Image.new("L", label.size, 255).rotate(angle, expand=True)
    label = label.rotate(angle, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    width, height = PHOTO_SIZE
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    drum = Image.fromarray(
        np.clip(80 + 90 * x / width + 20 * np.sin(y / 37), 0, 255).astype(np.uint8)
    )
    drum.paste(label, (rng.randint(60, width - label.width - 60),
                       rng.randint(40, height - label.height - 40)), mask)  # fmt: skip
    centre_x, centre_y = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.7)
    light = 1 - 0.7 * (((x - centre_x) / width) ** 2 + ((y - centre_y) / height) ** 2)
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 6, light.shape)
    pixels = np.asarray(drum, dtype=np.float32) * light * rng.uniform(0.75, 1.0) + noise
    shot = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    shot = shot.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.2)))
    if not grayscale:  # a warm cast, as under workshop light
        shot = Image.merge("RGB", (shot, shot.point(lambda v: v * 0.97),
                                   shot.point(lambda v: v * 0.92)))  # fmt: skip
    out = io.BytesIO()
    shot.save(out, format="PNG")
    return out.getvalue()


def timed_scans(
    verifier: ScanVerifier,
    photos: Sequence[Photo],
    scans: int,
    formats: Sequence[str] | None,
    events: int,
) -> Samples:
    samples = Samples([], [], [], [])
    for number in range(WARMUP + scans):
        photo = photos[number % len(photos)]
        start = time.perf_counter()
        symbols = decode_image(photo.png, formats=formats or SUPPORTED_FORMATS)
        decoded = time.perf_counter()
        assert len(symbols) == 1, symbols
        scan = read_scan(symbols[0].symbology + symbols[0].text)
        parsed = time.perf_counter()
        verdict = verifier.verify_scan(scan)
        done = time.perf_counter()
        assert verdict.verdict == "genuine", (verdict.faults, verdict.warnings)
        assert verdict.code == photo.code, verdict.code
        assert len(verdict.steps) == events, verdict.steps
        if number >= WARMUP:
            samples.decode.append((decoded - start) * 1000)
            samples.parse.append((parsed - decoded) * 1000)
            samples.verify.append((done - parsed) * 1000)
            samples.total.append((done - start) * 1000)
    return samples


@dataclass(frozen=True)
class Stocked:
    """A kit that fetched the site bundle, and what the benchmark prints about it."""

    kit: InspectorKit
    codes: list[str]
    site_bundle: dict[str, Any]
    log_size: int
    fetch_ms: float


def stock_kit(folder: Path, items: int, events: int, background: int) -> Stocked:
    harness, codes = build_ledger(folder, items, events, background)
    try:
        built = build_site_bundle(harness.store, SITE, log_signer=harness.log, now=NOW)
        log_size = harness.store.log_size()
    finally:
        harness.store.engine.dispose()
    site_bundle: dict[str, Any] = json.loads(json.dumps(built))
    kit = InspectorKit(folder / "inspector")
    kit.trust_folder.pin(
        root=PinnedKey(NoteVerifier.for_key("bench-root", harness.root.public_key), "bench"),
        log=PinnedKey(NoteVerifier.for_key(ORIGIN, harness.log.public_key), "bench"),
    )
    start = time.perf_counter()
    fetched = accept_bundle(kit, site_bundle, kind="site", subject=SITE, source="bench", now=NOW)
    fetch_ms = (time.perf_counter() - start) * 1000
    assert fetched.verified, fetched.report.to_json()
    assert fetched.report.warnings == [], fetched.report.to_json()
    return Stocked(kit, codes, site_bundle, log_size, fetch_ms)


def label_photos(stocked: Stocked, count: int, *, grayscale: bool) -> list[Photo]:
    """Photos of ``count`` items' labels, spread over the site."""
    labels = {item["code"]: item["label"] for item in stocked.site_bundle["items"]}
    rng = random.Random(1 if grayscale else 2)
    photos = []
    for number in range(count):
        code = stocked.codes[number * len(stocked.codes) // count]
        url = label_url(SignedCode.from_json(labels[code]).for_label(), BASE_URL)
        photos.append(Photo(code, photo_of(url, rng, grayscale=grayscale)))
    return photos


def add_stage_rows(table: Any, case: str, samples: Samples) -> None:
    for stage in ("decode", "parse", "verify", "total"):
        add_row(table, case if stage == "decode" else "", stage, sorted(getattr(samples, stage)),
                f"p95 <= {TARGET_MS:.0f} ms" if stage == "total" else "")  # fmt: skip


def add_row(table: Any, case: str, stage: str, values: list[float], target: str) -> None:
    table.add_row(case, stage, str(len(values)), f"{percentile(values, 0.5):.1f}",
                  f"{percentile(values, 0.95):.1f}", f"{values[-1]:.1f}", target)  # fmt: skip


def average_size(photos: Sequence[Photo]) -> int:
    return sum(len(photo.png) for photo in photos) // len(photos)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scan", description=__doc__)
    parser.add_argument("--items", type=int, default=50, help="items at the inspected site")
    parser.add_argument("--events", type=int, default=20, help="events per item")
    parser.add_argument("--scans", type=int, default=100, help="timed scans per image case")
    parser.add_argument("--background", type=int, default=2000, help="other events in the log")
    parser.add_argument("--photos", type=int, default=10, help="distinct label photos")
    args = parser.parse_args(argv)
    console = Console(width=120, highlight=False)
    for line in header_lines("bench.scan"):
        console.print(line)
    with tempfile.TemporaryDirectory(prefix="chemtrace-scan-bench-") as folder:
        stocked = stock_kit(Path(folder), args.items, args.events, args.background)
        colour = label_photos(stocked, args.photos, grayscale=False)
        grey = label_photos(stocked, args.photos, grayscale=True)
        verifier = ScanVerifier(stocked.kit, clock=lambda: NOW)
        cases = [
            ("grey imager PNG, QR reader", grey, ("QRCode",)),
            ("RGB photo PNG, QR reader", colour, ("QRCode",)),
            ("RGB photo PNG, every format", colour, None),
        ]
        results = [(name, timed_scans(verifier, photos, args.scans, formats, args.events))
                   for name, photos, formats in cases]  # fmt: skip
        trust, code = stocked.kit.trust(), stocked.codes[0]
        site_text = json.dumps(stocked.site_bundle)
        sub_text = next(stocked.kit.bundles.holding(code)).item_file(code).read_text()

        def verify_text(text: str) -> None:
            report = verify_with_kit(json.loads(text), trust, None, NOW, code)
            assert report.verified, report.faults

        whole = timed(10, lambda: verify_text(site_text))
        alone = timed(args.scans, lambda: verify_text(sub_text))

    events = stocked.site_bundle["events"]
    depth = max(len(entry["inclusion"]) for entry in events)
    console.print(
        f"log of {stocked.log_size:,} entries; site bundle of {len(stocked.codes)} items, "
        f"{len(events):,} events, {len(site_text):,} bytes (proofs up to {depth} hashes); one "
        f"item's sub-bundle {len(sub_text):,} bytes; {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} PNG photos, "
        f"RGB about {average_size(colour):,} bytes, grey about {average_size(grey):,} bytes"
    )
    console.print(
        f"fetch (verify the whole site bundle once, store it, cut {len(stocked.codes)} "
        f"sub-bundles): {stocked.fetch_ms:.0f} ms"
    )
    table = results_table(
        f"Scan to verdict, offline, {args.events}-event item (ms)",
        ["image", "stage", "scans", "p50", "p95", "max", "target"],
    )
    for name, samples in results:
        add_stage_rows(table, name, samples)
    add_row(table, "item sub-bundle only", "json+verify", alone, "")
    add_row(table, "whole site bundle", "json+verify", whole, "(not used per scan)")
    console.print(table)
    for name, samples in results:
        totals = sorted(samples.total)
        p95 = percentile(totals, 0.95)
        verdict = "[green]PASS[/green]" if p95 <= TARGET_MS else "[red]MISS[/red]"
        console.print(
            f"target p95 scan-to-verdict <= {TARGET_MS:.0f} ms, {name}: {verdict} "
            f"({p95:.1f} ms; max {totals[-1]:.1f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
