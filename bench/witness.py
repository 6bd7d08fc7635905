"""Witness benchmark: cosigning latency and checkpoint lag with three real witnesses.

Run from the project root::

    .venv/bin/python -m bench.witness [--checkpoints 1000] [--seconds 20] [--rate 40]

Three ``chemtrace witness serve`` processes (each its own state folder, one fsynced write
per cosignature) follow one log; the quorum is 2 of 3.

1. **Cosigning latency.** A fresh SQLite ledger (``synchronous=FULL``) grows by one entry,
   signs a checkpoint and asks the witnesses (``api.witnessing.Witnessing.step``, the code
   the server runs), ``--checkpoints`` times. Per checkpoint: from the checkpoint row's
   ``created_at`` to the second (quorum) and the third stored cosignature's
   ``received_at``, both written by the log.
2. **Checkpoint lag.** A real ``chemtrace serve`` with the three witnesses takes events at
   ``--rate`` per second over HTTP for ``--seconds``; the load process polls
   ``/v1/log/checkpoint`` at 20 Hz. An event's lag runs from its receipt to the first served
   checkpoint covering it: any checkpoint, and one with the policy's quorum, side by side.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import select

from api.accel import LocalAccelerator
from api.deployment import Deployment
from api.keystore import FileKeystore
from api.witnessing import WitnessEndpoint, Witnessing
from bench._machine import header_lines, load_average, percentile, results_table
from ledger.store import schema as t
from ledger.store.witnessing import WitnessingStore
from ledger.timefmt import parse_utc
from ledger.witness_policy import judge_checkpoint, parse_policy
from tests.api.live import LiveServer, build_world
from tests.api.witness_procs import CityWitness, policy_text

console = Console(width=150)


def _witnesses(home: Path, log_vkey: Path) -> list[CityWitness]:
    return [
        CityWitness(home / f"w{n}", f"witness-{n}.bench.example", [log_vkey]).start()
        for n in range(3)
    ]


def cosigning(home: Path, count: int) -> dict[str, list[float]]:
    """Seconds from checkpoint signed to quorum and to all three cosignatures, per checkpoint."""

    deployment = Deployment.open(f"sqlite:///{home}/ledger.db", home / "keys")
    witnesses = _witnesses(home, home / "keys" / "log.vkey")
    store = WitnessingStore(deployment.store.engine)
    witnessing = Witnessing(
        deployment.store,
        store,
        [WitnessEndpoint.parse(w.endpoint) for w in witnesses],
        LocalAccelerator(),
        quorum=2,
        lock_held=lambda: True,
    )
    quorum, everyone = [], []
    try:
        for n in range(count):
            deployment.certify_org(f"bench-{n}")
            note = deployment.checkpoint()
            assert note is not None
            size = int(note.split("\n")[1])
            witnessing.step()
            signed = parse_utc(store.signed_at(size) or "")
            with store.engine.connect() as conn:
                received = sorted(
                    parse_utc(row)
                    for row in conn.execute(
                        select(t.checkpoint_cosignature.c.received_at).where(
                            t.checkpoint_cosignature.c.size == size
                        )
                    ).scalars()
                )
            if len(received) >= 2:
                quorum.append((received[1] - signed).total_seconds())
            if len(received) == 3:
                everyone.append((received[2] - signed).total_seconds())
    finally:
        witnessing.close()
        for witness in witnesses:
            witness.close()
        deployment.store.engine.dispose()
    return {"quorum": sorted(quorum), "all": sorted(everyone), "count": [float(count)]}


def lag(home: Path, seconds: float, rate: float) -> dict[str, list[float]]:
    """Seconds from an event's receipt to the first served checkpoint covering it."""

    keys = home / "var" / "keys"
    log_vkey = FileKeystore(keys).log_vkey()
    witnesses = _witnesses(home, keys / "log.vkey")
    policy = parse_policy(policy_text([log_vkey], witnesses, 2))
    server = LiveServer(
        home,
        f"sqlite:///{home}/var/chemtrace.db",
        CHEMTRACE_WITNESSES=",".join(w.endpoint for w in witnesses),
        CHEMTRACE_WITNESS_QUORUM="2",
    ).start()
    world = build_world(server)
    covered: dict[str, list[tuple[float, int]]] = {"any": [], "quorum": []}
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                now = time.monotonic()
                note = http.get(f"{server.base_url}/v1/log/checkpoint").text
                size = int(note.split("\n")[1])
                covered["any"].append((now, size))
                if judge_checkpoint(note, policy, now=int(time.time())).accepted:
                    covered["quorum"].append((now, size))
                time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    receipts: list[tuple[float, int]] = []
    try:
        codes = world.issue("p-chem", int(seconds * rate) + 1)
        envelopes = [world.commission("p-chem", code) for code in codes]
        client = world.actors["p-chem"].client
        poller.start()
        start = time.monotonic()
        for n, envelope in enumerate(envelopes):
            due = start + n / rate
            time.sleep(max(0.0, due - time.monotonic()))
            receipt = client.submit(envelope)
            receipts.append((time.monotonic(), int(receipt["index"])))
        time.sleep(3)
    finally:
        stop.set()
        poller.join(5)
        world.close()
        server.close()
        for witness in witnesses:
            witness.close()
    result: dict[str, list[float]] = {}
    for kind, seen in covered.items():
        lags = []
        for at, index in receipts:
            first = next((when for when, size in seen if size > index and when >= at), None)
            if first is not None:
                lags.append(first - at)
        result[kind] = sorted(lags)
    result["events"] = [float(len(receipts))]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=40.0)
    args = parser.parse_args()
    for line in header_lines("bench.witness"):
        console.print(line)
    console.print("durability: SQLite synchronous=FULL (WAL); each witness fsyncs its state")
    with tempfile.TemporaryDirectory(prefix="bench-witness-") as tmp:
        cos = cosigning(Path(tmp) / "cosign", args.checkpoints)
        lags = lag(Path(tmp) / "lag", args.seconds, args.rate)
    table = results_table(
        "Witnessing, 3 witnesses, quorum 2 (this machine)",
        [
            "measure",
            "n",
            "p50 ms",
            "p99 ms",
            "max ms",
        ],
    )
    rows = [
        ("checkpoint signed -> quorum (2 of 3) attached", cos["quorum"]),
        ("checkpoint signed -> all 3 attached", cos["all"]),
        (f"event receipt -> covered by a checkpoint ({args.rate:g} ev/s)", lags["any"]),
        (f"event receipt -> covered by a quorum checkpoint ({args.rate:g} ev/s)", lags["quorum"]),
    ]
    for label, values in rows:
        table.add_row(
            label,
            str(len(values)),
            f"{percentile(values, 0.50) * 1000:.1f}",
            f"{percentile(values, 0.99) * 1000:.1f}",
            f"{(values[-1] if values else float('nan')) * 1000:.1f}",
        )
    console.print(table)
    console.print(f"load average after the run: {load_average()}")


if __name__ == "__main__":
    main()
