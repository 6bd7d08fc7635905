"""What every benchmark prints about the run: the command, the machine, percentiles."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shlex
import sys
from collections.abc import Sequence


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
    """Nearest-rank percentile of already sorted values."""
    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]
