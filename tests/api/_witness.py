"""A real witness process for the tests: ``chemtrace witness serve`` on a free loopback port,
with its own key, the log keys it follows and a state folder; restartable and killable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from ledger.note import NoteVerifier
from tests.api._cli import kill_group, stop_group
from tests.servers import pick_free_port

REPO = Path(__file__).resolve().parents[2]
WITNESS_NAME = "witness.example/w1"


def write_key_files(
    home: Path, private_key: Ed25519PrivateKey, log_verifiers: Sequence[NoteVerifier]
) -> tuple[Path, list[Path]]:
    """Write the witness's PEM key (0600) and one vkey file per log key; return their paths."""
    key = home / "witness.pem"
    pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    log_keys = []
    for number, verifier in enumerate(log_verifiers):
        path = home / f"log{number}.vkey"
        path.write_text(verifier.vkey() + "\n")
        log_keys.append(path)
    return key, log_keys


class WitnessProcess:
    """``serve`` as a child process; ``module`` is ``api.cli`` (``chemtrace witness serve``)
    or ``api.witness`` (the same Typer app without the service CLI's imports: it starts in a
    fraction of the time, which the crash test's many restarts need)."""

    def __init__(
        self,
        home: Path,
        *,
        key: Path,
        log_keys: Sequence[Path],
        state: Path,
        name: str = WITNESS_NAME,
        module: str = "api.cli",
    ) -> None:
        self.home, self.key, self.log_keys, self.state = home, key, list(log_keys), state
        self.name, self.module = name, module
        self.port = pick_free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = home / "witness.log"
        self.client = httpx.Client(timeout=10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        head = ["witness"] if self.module == "api.cli" else []
        args = ["serve", "--key", str(self.key), "--name", self.name, "--state", str(self.state),
                "--host", "127.0.0.1", "--port", str(self.port)]  # fmt: skip
        for path in self.log_keys:
            args += ["--log-key", str(path)]
        return [sys.executable, "-m", self.module, *head, *args]

    def spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                self.command(), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def start(self, timeout: float = 30.0) -> WitnessProcess:
        for _ in range(4):  # another process may take the port between the pick and the bind
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            self.process = self.spawn()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if self.client.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
            else:
                self.kill()
                raise RuntimeError(f"witness did not start: {self.tail()}")
            output = self.log_path.read_bytes()[offset:].decode(errors="replace")
            if "address already in use" not in output.lower():
                raise RuntimeError(f"witness exited ({self.process.returncode}): {output}")
            self.port = pick_free_port()
        raise RuntimeError(f"witness found no free port: {self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing; like pulling the plug on the process."""
        kill_group(self.process)
        self.process = None

    def stop(self) -> None:
        stop_group(self.process)
        self.process = None

    def close(self) -> None:
        self.stop()
        self.client.close()

    def post(self, body: bytes, timeout: float = 10) -> httpx.Response:
        return self.client.post(self.base_url + "/add-checkpoint", content=body, timeout=timeout)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(self.base_url + path)
