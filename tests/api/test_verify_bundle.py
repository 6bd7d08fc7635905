"""``chemtrace bundle`` / ``verify-bundle`` end to end on a demo ledger: exit codes and the state file.

The demo is seeded once with the real ``chemtrace demo --seed-only`` (a subprocess); each test
works on its own copy of that home folder. The two commands are not registered in
``api.cli`` yet, so they run here through a small Typer app of their own.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from api.bundles import export_bundle, verify_bundle_command
from api.deployment import Deployment
from ledger.note import NoteVerifier
from ledger.signing import Ed25519Signer
from tests.api._cli import run_cli

SITE = "haidian-lab"

app = typer.Typer()
app.command("bundle")(export_bundle)
app.command("verify-bundle")(verify_bundle_command)


@dataclass(frozen=True)
class Home:
    path: Path
    url: str
    code: str

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args))

    def export(self, out: str, *extra: str, code: str | None = None) -> Result:
        return self.run(
            "bundle", "--db", self.url, "--item", code or self.code, "--out", out, *extra
        )

    def state(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.path / "var/verifier-state.json").read_text())
        return document

    def grow_log(self) -> int:
        """Log one more certificate and sign a checkpoint over it; return the new size."""
        deployment = Deployment.open(self.url, self.path / "var/keys")
        try:
            deployment.certify_device("pku-lab", "handheld-2")
            deployment.checkpoint()
            return deployment.store.log_size()
        finally:
            deployment.store.engine.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo")
    seeded = run_cli("demo", "--seed-only", "--db", "sqlite:///var/demo.db", cwd=home)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    return home


@pytest.fixture
def home(seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    path = tmp_path / "home"
    shutil.copytree(seeded, path)
    monkeypatch.chdir(path)
    url = f"sqlite:///{path / 'var/demo.db'}"
    engine = create_engine(url)
    with engine.connect() as conn:
        code = conn.execute(text("SELECT code FROM item ORDER BY head_seq DESC, code")).scalar()
    engine.dispose()
    assert isinstance(code, str)
    return Home(path, url, code)


def report_of(result: Result) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_an_item_bundle_verifies_offline_and_starts_the_state(home: Home) -> None:
    exported = home.export("item.json")
    assert exported.exit_code == 0, exported.output
    assert f"Wrote the bundle of item {home.code}" in exported.stdout
    (home.path / "var/demo.db").rename(home.path / "elsewhere.db")  # no database needed

    verified = home.run("verify-bundle", "item.json")
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.startswith(f"VERIFIED: item {home.code}")
    assert "warning" not in verified.stdout  # the demo's codes carry registry labels
    assert "state: now at checkpoint" in verified.stdout
    (log,) = home.state()["logs"]
    assert log["origin"] == "chemtrace.dev/ledger"

    again = home.run("verify-bundle", "item.json")
    assert again.exit_code == 0
    assert "state: unchanged" in again.stdout


def test_the_json_report_names_each_fault_and_exits_1(home: Home) -> None:
    assert home.export("item.json").exit_code == 0
    bundle = json.loads(Path("item.json").read_text())
    bundle["events"][1]["envelope"]["body"]["time"] = "2026-10-01T08:00:00Z"
    Path("bad.json").write_text(json.dumps(bundle))
    result = home.run("verify-bundle", "bad.json", "--json", "--state", "mine.json")
    assert result.exit_code == 1, result.output
    report = report_of(result)
    assert report["verified"] is False
    assert [fault["code"] for fault in report["faults"]] == ["event_altered"]
    assert report["faults"][0]["message"].startswith("event 1 of ")
    assert " was altered (" in report["faults"][0]["message"]
    assert not Path("mine.json").exists()  # a faulty bundle never writes the state

    clean = home.run("verify-bundle", "item.json", "--json", "--state", "mine.json")
    assert clean.exit_code == 0
    assert report_of(clean)["verified"] is True
    assert report_of(clean)["state_file"] == "mine.json"
    assert Path("mine.json").exists()


def test_a_site_bundle_verifies(home: Home) -> None:
    exported = home.run("bundle", "--db", home.url, "--site", SITE, "--out", "site.json")
    assert exported.exit_code == 0, exported.output
    bundle = json.loads(Path("site.json").read_text())
    assert bundle["subject"] == {"kind": "site", "id": SITE}
    assert bundle["items"]
    result = home.run("verify-bundle", "site.json", "--no-state")
    assert result.exit_code == 0, result.output
    assert "state: not used" in result.stdout
    assert not (home.path / "var/verifier-state.json").exists()


def test_keys_can_come_from_flags_and_a_foreign_log_key_fails(home: Home) -> None:
    assert home.export("item.json").exit_code == 0
    keys = home.path / "var/keys"
    flags = ["--root-key", str(keys / "root.vkey"), "--log-key", str(keys / "log.vkey")]
    result = home.run("verify-bundle", "item.json", *flags, "--keys", "nowhere", "--no-state")
    assert result.exit_code == 0, result.output

    foreign = NoteVerifier.for_key("chemtrace.dev/ledger", Ed25519Signer.generate().public_key)
    Path("other.vkey").write_text(foreign.vkey() + "\n")
    flags[3] = "other.vkey"
    result = home.run("verify-bundle", "item.json", *flags, "--no-state", "--json")
    assert result.exit_code == 1
    assert [fault["code"] for fault in report_of(result)["faults"]] == ["checkpoint_invalid"]


def test_the_state_file_advances_only_with_a_consistency_proof(home: Home) -> None:
    assert home.export("old.json").exit_code == 0
    assert home.run("verify-bundle", "old.json").exit_code == 0
    first = home.state()["logs"][0]["size"]
    newer = home.grow_log()
    assert newer > first

    assert home.export("new.json").exit_code == 0
    unconfirmed = home.run("verify-bundle", "new.json", "--json")
    assert unconfirmed.exit_code == 0
    assert [w["code"] for w in report_of(unconfirmed)["warnings"]] == ["consistency_unconfirmed"]
    assert home.state()["logs"][0]["size"] == first

    assert home.export("since.json", "--since", str(first)).exit_code == 0
    advanced = home.run("verify-bundle", "since.json")
    assert advanced.exit_code == 0, advanced.output
    assert f"state: now at checkpoint {newer}" in advanced.stdout
    assert home.state()["logs"][0]["size"] == newer

    stale = home.run("verify-bundle", "old.json", "--json")
    assert stale.exit_code == 0
    warnings = report_of(stale)["warnings"]
    assert [w["code"] for w in warnings] == ["bundle_stale"]
    assert "older than the one you verified today (stale)" in warnings[0]["message"]
    assert home.state()["logs"][0]["size"] == newer


def test_a_state_from_a_fork_makes_the_bundle_a_fault(home: Home) -> None:
    assert home.export("item.json").exit_code == 0
    assert home.run("verify-bundle", "item.json").exit_code == 0
    state = home.state()
    state["logs"][0]["root"] = "A" * 43 + "="
    Path("var/verifier-state.json").write_text(json.dumps(state))
    result = home.run("verify-bundle", "item.json", "--json")
    assert result.exit_code == 1
    assert [fault["code"] for fault in report_of(result)["faults"]] == ["checkpoint_fork"]


@pytest.mark.parametrize(
    ("args", "setup", "message"),
    [
        (["verify-bundle", "missing.json"], None, "no bundle file at missing.json"),
        (["verify-bundle", "garbage.json"], ("garbage.json", "not json"), "is not a JSON bundle"),
        (["verify-bundle", "list.json"], ("list.json", "[]"), "does not hold a JSON object"),
        (
            ["verify-bundle", "item.json", "--keys", "empty"],
            None,
            "no trusted key at empty/root.vkey",
        ),
        (
            ["verify-bundle", "item.json", "--state", "state.json"],
            ("state.json", '{"format": "chemtrace-verifier-state/v1", "logs": 3}'),
            "the verifier state state.json is unreadable",
        ),
    ],
    ids=["missing", "not-json", "not-object", "no-keys", "bad-state"],
)
def test_verify_bundle_exits_2_when_it_cannot_run(
    home: Home, args: list[str], setup: tuple[str, str] | None, message: str
) -> None:
    assert home.export("item.json").exit_code == 0
    if setup is not None:
        Path(setup[0]).write_text(setup[1])
    result = home.run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_verify_bundle_json_reports_an_error_when_it_cannot_run(home: Home) -> None:
    result = home.run("verify-bundle", "missing.json", "--json")
    assert result.exit_code == 2
    assert report_of(result) == {"verified": None, "error": "no bundle file at missing.json"}


def test_export_exits_2_when_it_cannot_run(home: Home) -> None:
    both = home.run(
        "bundle", "--db", home.url, "--item", home.code, "--site", SITE, "--out", "x.json"
    )
    assert both.exit_code == 2
    assert "exactly one of --item CODE or --site SITE" in both.stderr
    unknown = home.export("x.json", code="CT-00000-00000-00000")
    assert unknown.exit_code == 2
    assert "has no event covered by the newest checkpoint" in unknown.stderr
    no_db = home.run("bundle", "--db", "sqlite:///var/none.db", "--item", home.code, "--out", "x")
    assert no_db.exit_code == 2
    assert "no SQLite database" in no_db.stderr
    assert not (home.path / "var/none.db").exists()
    too_new = home.export("x.json", "--since", "100000")
    assert too_new.exit_code == 2
    assert "fewer than --since 100000" in too_new.stderr
    no_keys = home.export("x.json", "--keys", "nowhere")
    assert no_keys.exit_code == 2
    assert "no log key in the keystore" in no_keys.stderr
    assert not Path("x.json").exists()
