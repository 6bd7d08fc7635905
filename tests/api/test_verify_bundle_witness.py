"""``chemtrace verify-bundle --witness-policy FILE``: the quorum, the report, and could-not-run.

The bundle comes from a small real ledger (:func:`tests.ledger._witnessed.build_world`); its
checkpoint gets witness cosignature lines as the server will append them. The command
reads the real clock, so cosignatures are stamped a little before it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from api.bundles import verify_bundle_command
from ledger.note import NoteVerifier
from tests.ledger._witnessed import Bundle, World, build_world, flip_bit

app = typer.Typer()
app.command("verify-bundle")(verify_bundle_command)  # the only command: invoked without its name


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("cli-witness"))


@dataclass(frozen=True)
class Folder:
    """A verifier's folder: pinned keys, a policy file and bundle files."""

    path: Path
    world: World

    def cosigned(self, *names: str, bad: str | None = None) -> Bundle:
        stamp = int(time.time()) - 120
        note = self.world.bundle["checkpoint"]
        lines = [self.world.witnesses.cosign(note, name, stamp) for name in names]
        if bad is not None:
            lines.append(flip_bit(self.world.witnesses.cosign(note, bad, stamp)))
        return self.world.witnesses.cosigned(self.world.bundle, *lines)

    def write(self, name: str, document: Bundle) -> str:
        (self.path / name).write_text(json.dumps(document))
        return str(self.path / name)

    def policy(self, text: str | None = None, quorum: str = "2") -> str:
        path = self.path / "witness-policy"
        if text is None:
            text = self.world.witnesses.policy_text([self.world.log_vkey()], quorum)
        path.write_text(text)
        return str(path)

    def run(self, *args: str) -> Result:
        keys = [
            "--root-key", str(self.path / "root.vkey"), "--log-key", str(self.path / "log.vkey"),
            "--state", str(self.path / "state.json"),
        ]  # fmt: skip
        return CliRunner().invoke(app, [*args, *keys])


@pytest.fixture
def folder(tmp_path: Path, world: World) -> Folder:
    root = NoteVerifier.for_key("chemtrace.test/root", world.root.public_key)
    (tmp_path / "root.vkey").write_text(root.vkey() + "\n")
    (tmp_path / "log.vkey").write_text(world.log_vkey() + "\n")
    return Folder(tmp_path, world)


def report_of(result: Result) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_a_met_quorum_verifies_and_names_the_witnesses(folder: Folder) -> None:
    bundle = folder.write("b.json", folder.cosigned("police", "district"))
    result = folder.run(bundle, "--witness-policy", folder.policy())
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("VERIFIED: item CT-WITNESS-1")
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("witnesses: ")]
    assert line.startswith("witnesses: district (cosigned 20")
    assert "), police (cosigned " in line


def test_the_json_report_carries_the_witnesses_and_the_policy(folder: Folder) -> None:
    bundle = folder.write("b.json", folder.cosigned("police", "transport"))
    policy = folder.policy()
    result = folder.run(bundle, "--witness-policy", policy, "--json")
    assert result.exit_code == 0, result.output
    report = report_of(result)
    assert report["verified"] is True
    assert sorted(report["witnesses"]) == ["police", "transport"]
    assert all(isinstance(stamp, int) for stamp in report["witnesses"].values())
    assert report["witness_policy"] == policy


def test_an_unwitnessed_bundle_is_a_fault_naming_who_is_missing(folder: Folder) -> None:
    bundle = folder.write("b.json", folder.cosigned("police"))
    result = folder.run(bundle, "--witness-policy", folder.policy())
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("FAULTY (1 fault(s))")
    assert "FAULT checkpoint_unwitnessed: the bundle's checkpoint is not witnessed" in result.stdout
    assert "no cosignature from transport and district" in result.stdout
    assert "witnesses:" not in result.stdout
    assert not (folder.path / "state.json").exists()


def test_a_bad_cosignature_is_named_in_the_json_report(folder: Folder) -> None:
    bundle = folder.write("b.json", folder.cosigned("police", "transport", bad="district"))
    result = folder.run(bundle, "--witness-policy", folder.policy(), "--json")
    assert result.exit_code == 1, result.output
    report = report_of(result)
    assert report["verified"] is False and report["witnesses"] is None
    (fault,) = report["faults"]
    assert fault["code"] == "checkpoint_unwitnessed"
    assert "the cosignature of district does not verify" in fault["message"]


def test_without_the_option_cosignatures_change_nothing(folder: Folder) -> None:
    bundle = folder.write("b.json", folder.cosigned("police", bad="district"))
    result = folder.run(bundle)
    assert result.exit_code == 0, result.output
    assert "witnesses:" not in result.stdout
    assert report_of(folder.run(bundle, "--json"))["witnesses"] is None


def test_a_malformed_policy_cannot_run_and_says_why(folder: Folder) -> None:
    bundle = folder.write("b.json", folder.cosigned("police", "district"))
    policy = folder.policy("quorum none\nwitnesses x y\n")
    result = folder.run(bundle, "--witness-policy", policy)
    assert result.exit_code == 2, result.output
    assert f"the witness policy {policy} is malformed: policy line 2: unknown keyword" in (
        result.stderr
    )
    as_json = folder.run(bundle, "--witness-policy", policy, "--json")
    assert as_json.exit_code == 2
    assert report_of(as_json)["verified"] is None
    assert "policy line 2" in report_of(as_json)["error"]


def test_a_missing_or_unreadable_policy_cannot_run(folder: Folder) -> None:
    bundle = folder.write("b.json", folder.cosigned("police", "district"))
    missing = folder.run(bundle, "--witness-policy", str(folder.path / "nowhere"))
    assert missing.exit_code == 2
    assert "no witness policy file at" in missing.stderr
    # bytes with the high bit set are opaque to tlog-policy: here they make an unknown keyword
    (folder.path / "binary").write_bytes(b"\xff\xfe quorum none\n")
    unreadable = folder.run(bundle, "--witness-policy", str(folder.path / "binary"))
    assert unreadable.exit_code == 2
    assert "is malformed" in unreadable.stderr and "unknown keyword" in unreadable.stderr
    folder.path.joinpath("folder-not-file").mkdir()
    directory = folder.run(bundle, "--witness-policy", str(folder.path / "folder-not-file"))
    assert directory.exit_code == 2
    assert "cannot read the witness policy" in directory.stderr
