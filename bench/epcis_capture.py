"""EPCIS capture throughput: a 1,000-event document over HTTP against native ``events:batch``.

Run from the project root::

    .venv/bin/python -m bench.epcis_capture [--events 1000] [--rounds 5] [--no-postgres]

A real ``chemtrace serve`` (``tests.api.live.LiveServer``) on SQLite (a file, WAL,
synchronous=FULL: durable) and on a private durable PostgreSQL (fsync, synchronous_commit and
full_page_writes on), one after the other in one run. Per round and database, interleaved:

- **EPCIS**: ``POST /epcis/capture`` of one EPCIS 2.0 document of ``--events`` device-signed
  events (half commissionings, half ``storing`` of the same items, so each item's second
  event chains on its first inside the document), ``GS1-Capture-Error-Behaviour: rollback``
  (one atomic append). The server validates the schema, computes every CBV hash ID, checks
  them against the captured ones, maps each event back to its body and appends.
- **native**: ``POST /v1/events:batch`` of the same number of the same kind of events,
  signed envelopes (atomic per connected group of items).

Signing (the device's cost) happens before the clock starts, for both. Also timed once: the
``chemtrace epcis push`` client end to end for one document (mapping, one head lookup per
item over HTTP, signing, capture). The ratio is EPCIS events/s over native events/s,
measured side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench._machine import (
    header_lines,
    load_average,
    pg_durability,
    pg_version,
    postgres,
    results_table,
)


@dataclass
class Row:
    database: str
    path: str
    seconds: list[float] = field(default_factory=list)
    events: int = 0
    skipped: str | None = None

    @property
    def rate(self) -> float:
        return self.events / statistics.median(self.seconds) if self.seconds else 0.0


def _documents(world: Any, count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One signed EPCIS document and the same kind of native envelopes, each ``count`` events."""
    from ledger.epcis.mapping import CaptureContext, epcis_document
    from scanners.epcis_push import ServerLookup, sign_document
    from tests.api.test_epcis_capture import commissioning, erp_document, erp_event

    actor = world.actors["p-chem"]
    half = count // 2  # items: half for the document, half for the batch; two events each
    codes = world.issue("p-chem", 2 * half)
    erp = erp_document(
        [commissioning(world, "p-chem", c) for c in codes[:half]]
        + [erp_event(world, "p-chem", "store_in", [c], {}) for c in codes[:half]]
    )

    class Fresh(ServerLookup):
        """Every item is new: no head lookups over HTTP in the untimed setup."""

        def head(self, code: str, *, may_start: bool) -> tuple[int, str | None] | None:
            if code in self.signed:
                return self.signed[code][0] + 1, self.signed[code][1]
            return (0, None) if may_start else None

    context = CaptureContext(org="p-chem", device_key=actor.device.signer.key_id,
                             actor=actor.device.actor, catalog_version="2026-draft.1")  # fmt: skip
    signed = sign_document(erp, Fresh(actor.client), actor.device.signer, context)
    document = epcis_document(signed, created="2026-10-01T08:00:00Z")
    envelopes = []
    for code in codes[half:]:
        envelopes.append(world.commission("p-chem", code))
    for code in codes[half:]:
        envelopes.append(world.event("p-chem", "store_in", [code], {}))
    return document, envelopes


def bench_database(name: str, home: Path, url: str, count: int, rounds: int) -> list[Row]:
    from scanners.epcis_push import push
    from tests.api.live import LiveServer, build_world
    from tests.api.test_epcis_capture import commissioning, context, erp_document, erp_event

    server = LiveServer(home, url, CHEMTRACE_RATE_LIMIT_PER_MINUTE="0",
                        CHEMTRACE_PROBE_LIMIT_PER_MINUTE="0")  # fmt: skip
    epcis = Row(name, "EPCIS POST /epcis/capture")
    native = Row(name, "native POST /v1/events:batch")
    client_row = Row(name, "chemtrace epcis push (end to end, 1 run)")
    try:
        server.start(timeout=180)  # the machine may be shared and loaded
        world = build_world(server)
        token = world.actors["p-chem"].client.token
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=300) as http:
            for round_ in range(rounds + 1):  # the first round warms up and is not counted
                document, envelopes = _documents(world, count)
                body = json.dumps(document).encode()
                batch = json.dumps({"events": envelopes}).encode()
                started = time.perf_counter()
                answer = http.post("/epcis/capture", content=body)
                took = time.perf_counter() - started
                job = answer.json()
                assert answer.status_code == 202, answer.text[:500]
                assert job["success"], job["errors"][:3]
                started = time.perf_counter()
                answer = http.post("/v1/events:batch", content=batch,
                                   headers={"Content-Type": "application/json"})  # fmt: skip
                took_native = time.perf_counter() - started
                assert answer.status_code == 200, answer.text[:500]
                assert answer.json()["accepted"] == count
                if round_ > 0:
                    epcis.seconds.append(took)
                    native.seconds.append(took_native)
            epcis.events = native.events = count
            codes = world.issue("p-chem", count // 2)
            erp = erp_document(
                [commissioning(world, "p-chem", c) for c in codes]
                + [erp_event(world, "p-chem", "store_in", [c], {}) for c in codes]
            )
            actor = world.actors["p-chem"]
            started = time.perf_counter()
            report = push(erp, actor.client, actor.device.signer, context(world, "p-chem"))
            client_row.seconds.append(time.perf_counter() - started)
            client_row.events = report.captured
            assert report.captured == 2 * (count // 2), report.rejected[:3]
        world.close()
    finally:
        server.close()
    return [epcis, native, client_row]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    from rich.console import Console

    out = Console(highlight=False, width=130)
    for line in header_lines("bench.epcis_capture"):
        out.print(line, markup=False)
    rows: list[Row] = []
    notes = ["SQLite: a file in the temp dir, WAL, synchronous=FULL (durable)"]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "sqlite").mkdir()
        db = f"sqlite:///{tmp / 'sqlite' / 'var' / 'chemtrace.db'}"
        rows += bench_database("SQLite", tmp / "sqlite", db, args.events, args.rounds)
        for row in rows:  # at once, in case a later database fails
            out.print(f"{row.database} {row.path}: {row.seconds} s", markup=False)
        pg = contextlib.nullcontext((None, "--no-postgres")) if args.no_postgres else postgres(tmp)
        with pg as (pg_server, reason):
            if pg_server is None:
                notes.append(f"PostgreSQL: skipped: {reason}")
            else:
                notes.append(f"PostgreSQL {pg_version(pg_server)}: private server "
                             f"({pg_durability(pg_server)})")  # fmt: skip
                (tmp / "postgres").mkdir()
                url = pg_server.create_database("bench_epcis")
                try:
                    rows += bench_database("PostgreSQL", tmp / "postgres", url, args.events,
                                           args.rounds)  # fmt: skip
                except (httpx.HTTPError, RuntimeError, AssertionError) as exc:
                    notes.append(f"PostgreSQL: failed: {type(exc).__name__}: {exc}"[:300])
    table = results_table(
        f"EPCIS capture vs native batch, {args.events} events per request",
        ["database", "target", "rounds", "median s", "min s", "events/s", "vs native"],
    )
    native = {r.database: r.rate for r in rows if r.path.startswith("native")}
    for row in rows:
        ratio = row.rate / native[row.database] if native.get(row.database) else float("nan")
        table.add_row(row.database, row.path, str(len(row.seconds)),
                      f"{statistics.median(row.seconds):.3f}", f"{min(row.seconds):.3f}",
                      f"{row.rate:,.0f}", f"{ratio:.2f}")  # fmt: skip
    for note in notes:
        out.print(note, markup=False)
    out.print(table)
    out.print(f"finished, load average {load_average()}", markup=False)


if __name__ == "__main__":
    main()
