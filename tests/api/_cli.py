"""Running the real ``chemtrace`` command line in a subprocess."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path


def chemtrace_command() -> list[str]:
    """``.venv/bin/chemtrace`` beside this interpreter, else on PATH, else ``python -m api.cli``."""
    beside = Path(sys.executable).parent / "chemtrace"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("chemtrace")
    return [found] if found else [sys.executable, "-m", "api.cli"]


def run_cli(
    *args: str, cwd: Path, timeout: float = 180, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``chemtrace ARGS`` in ``cwd`` (``stdin`` piped in); wide, colourless output; never
    raises on exit codes."""
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [*chemtrace_command(), *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kill_group(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL a child started with ``start_new_session=True`` and its children: no shutdown
    hooks, no flushing, like a power cut of the process."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def stop_group(process: subprocess.Popen[bytes] | None, grace: float = 15) -> None:
    """SIGTERM the child's process group, and SIGKILL it if it is not gone in ``grace`` s."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            kill_group(process)
