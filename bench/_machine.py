"""Shared by the benchmarks: the run and machine they print, percentiles, a private PostgreSQL."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shlex
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def command_line(module: str) -> str:
    """The exact command that reproduces this run."""
    exe = sys.executable
    with contextlib.suppress(ValueError):
        relative = os.path.relpath(exe)
        if not relative.startswith(".."):
            exe = relative
    return shlex.join([exe, "-m", module, *sys.argv[1:]])


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_total_gib() -> str:
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    return "?"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN for none)."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]


@contextlib.contextmanager
def postgres(base_dir: Path) -> Iterator[tuple[Any | None, str | None]]:
    """Yield ``(server, None)``, or ``(None, reason)`` when PostgreSQL cannot run here."""
    try:
        from tests.servers import PostgresServer, find_postgres_bindir
    except ImportError as exc:  # pytest or psycopg missing
        yield None, f"cannot import tests.servers: {exc}"
        return
    if find_postgres_bindir() is None:
        yield None, "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found"
        return
    try:
        server = PostgresServer.start(base_dir / "pg", durable=True)
    except Exception as exc:  # any start failure means: skip, and say why
        yield None, f"PostgreSQL did not start: {str(exc).splitlines()[0]}"
        return
    try:
        yield server, None
    finally:
        server.close()


def pg_durability(server: Any) -> str:
    """The server's own durability settings, as it reports them (not as we meant to set them)."""
    with server.connect() as conn:
        shown = [
            f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"
            for name in ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers")
        ]
    return ", ".join(shown)


def pg_version(server: Any) -> str:
    with server.connect() as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])


def header_lines(module: str) -> list[str]:
    """The first lines of every benchmark's output: the command, when, and on what machine."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    return [
        f"command: {command_line(module)}",
        f"started: {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}, load average {load_average()}",
        f"machine: nproc={affinity} (cpu_count={os.cpu_count()}), {cpu_model()}, "
        f"RAM {mem_total_gib()}, {platform.system()} {platform.release()}",
    ]


def results_table(title: str, columns: Sequence[str]) -> Any:
    """A rich table: the database and target columns left-aligned, numbers right."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SQUARE, title_justify="left")
    for name in columns:
        table.add_column(name, justify="left" if name in ("database", "target") else "right")
    return table


def skip_row(table: Any, first: Sequence[str]) -> None:
    """A row saying the run was skipped, dashes for the rest."""
    table.add_row(*first, "skipped", *["-"] * (len(table.columns) - len(first) - 1))
