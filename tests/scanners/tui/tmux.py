"""The real ``chemtrace scan tui`` in a tmux pane: keys in (send-keys), screen out (capture-pane).

Each pane runs on its own tmux server (``tmux -L <unique socket>``) with an empty
configuration, so nothing from the machine's tmux setup leaks in, and the server is killed
when the test ends. Tests synchronise only by polling the screen for text they expect.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.api._cli import chemtrace_command
from tests.conftest import IN_CI

REPO = Path(__file__).resolve().parents[3]
TERMINAL = "screen-256color"
_CONFIG = f'set -g default-terminal "{TERMINAL}"\nset -g remain-on-exit on\n'
"""remain-on-exit keeps a crashed app's traceback on screen for the failure message."""


def require_tmux() -> str:
    """The tmux binary; skips without it, except in CI, where these tests must run."""
    found = shutil.which("tmux")
    if found is None:
        message = "tmux is not installed: the terminal UI tests drive the real process in tmux"
        if IN_CI:
            pytest.fail(f"{message}; CI must run them")
        pytest.skip(message)
    return found


def flat(text: str) -> str:
    """Whitespace folded, so a message the UI wrapped over two lines still matches."""
    return " ".join(text.split())


class Pane:
    """One ``chemtrace scan tui`` process in a detached tmux session."""

    def __init__(self, tmux: str, folder: Path) -> None:
        self.tmux, self.folder = tmux, folder
        self.socket = f"chemtrace-tui-{uuid.uuid4().hex[:12]}"
        self.socket_path: Path | None = None

    def _run(self, *args: str) -> str:
        done = subprocess.run([self.tmux, "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10, check=True)  # fmt: skip
        return done.stdout

    def start(self, *tui_args: str, width: int = 120, height: int = 40) -> Pane:
        config = self.folder / "tmux.conf"
        config.write_text(_CONFIG)
        env = {**os.environ, "PYTHONPATH": str(REPO), "TEXTUAL_ANIMATIONS": "none"}
        for inherited in ("TMUX", "COLUMNS", "LINES", "NO_COLOR"):
            env.pop(inherited, None)
        command = shlex.join([*chemtrace_command(), "scan", "tui", *tui_args])
        subprocess.run(
            [self.tmux, "-L", self.socket, "-f", str(config), "new-session", "-d", "-s", "tui",
             "-x", str(width), "-y", str(height), "-c", str(self.folder), command],
            env=env, check=True, timeout=10,
        )  # fmt: skip
        self.socket_path = Path(self._run("display", "-p", "#{socket_path}").strip())
        return self

    def keys(self, *keys: str) -> None:
        """Named keys, as tmux spells them: ``Enter``, ``Down``, ``F2``, ``C-s``, ``y``."""
        self._run("send-keys", "-t", "tui", *keys)

    def type(self, text: str) -> None:
        """Literal text, as a keyboard-wedge scanner types it (without its Enter)."""
        self._run("send-keys", "-t", "tui", "-l", text)

    def scan(self, text: str) -> None:
        """A scanner read: the text, then Enter."""
        self.type(text)
        self.keys("Enter")

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "tui")

    def wait_for(self, *texts: str, timeout: float = 20.0) -> str:
        """Poll the screen until every text is on it; returns the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            shown = flat(screen)
            if all(flat(text) in shown for text in texts):
                return screen
            if time.monotonic() > deadline:
                missing = [text for text in texts if flat(text) not in shown]
                raise AssertionError(f"not on screen after {timeout} s: {missing}\n{screen}")
            time.sleep(0.05)

    def wait_gone(self, text: str, timeout: float = 20.0) -> str:
        """Poll the screen until ``text`` is no longer on it (a dialog closed)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if flat(text) not in flat(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"still on screen after {timeout} s: {text!r}\n{screen}")
            time.sleep(0.05)

    def wait_for_exit(self, timeout: float = 20.0) -> None:
        """Poll until the app has exited (its pane stays, dead, by ``remain-on-exit``)."""
        deadline = time.monotonic() + timeout
        while self._run("display", "-p", "-t", "tui", "#{pane_dead}").strip() != "1":
            if time.monotonic() > deadline:
                raise AssertionError(f"still running after {timeout} s\n{self.screen()}")
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10, check=False)  # fmt: skip
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)  # tmux leaves it behind
