"""Witnesses of a city for end-to-end tests: keys made by ``chemtrace witness keygen``, each
served by its own real process (:class:`tests.api._witness.WitnessProcess`)."""

from __future__ import annotations

from pathlib import Path

from tests.api._cli import run_cli
from tests.api._witness import WitnessProcess


class CityWitness(WitnessProcess):
    """One witness with a key from the CLI, its own state folder and process."""

    def __init__(self, home: Path, name: str, log_vkeys: list[Path]) -> None:
        home.mkdir(parents=True, exist_ok=True)
        key = home / "witness.pem"
        done = run_cli("witness", "keygen", "--out", str(key), "--name", name, cwd=home)
        assert done.returncode == 0, done.stderr
        super().__init__(home, key=key, log_keys=log_vkeys, state=home / "state", name=name)
        self.vkey = Path(f"{key}.vkey").read_text().strip()

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def endpoint(self) -> str:
        """What ``CHEMTRACE_WITNESSES`` takes for this witness."""
        return f"{self.url} {self.vkey}"


def policy_text(log_vkeys: list[str], witnesses: list[CityWitness], quorum: int) -> str:
    """A C2SP tlog-policy file for these log keys and witnesses, ``quorum`` of them."""
    lines = [f"log {vkey}" for vkey in log_vkeys]
    lines += [f"witness W{n} {w.vkey}" for n, w in enumerate(witnesses)]
    members = " ".join(f"W{n}" for n in range(len(witnesses)))
    lines += [f"group city {quorum} {members}", "quorum city"]
    return "\n".join(lines) + "\n"
