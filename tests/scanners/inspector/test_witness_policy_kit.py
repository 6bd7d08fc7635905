"""A kit with a pinned witness policy: pinning it once, and refusing unwitnessed checkpoints.

The session's ledger (conftest) builds site bundles without cosignatures; the tests append
the witnesses' cosignature lines to their checkpoints, as the server will, and pin the
city's policy (2 of police, transport and district) in the kit's ``trust/witness-policy``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any, cast

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from ledger.note import NoteVerifier
from ledger.signing import Ed25519Signer
from scanners.cli import app
from scanners.client import ChemtraceClient
from scanners.inspector import PinnedKey, TrustConflictError, TrustError
from scanners.inspector.fetch import fetch_bundle
from scanners.inspector.render import print_fetch, print_trust, print_verdict
from scanners.inspector.trust import POLICY_FILE, PinnedPolicy, parse_policy_text
from tests.harness import ORIGIN
from tests.ledger._witnessed import Bundle, Witnesses, flip_bit, log_vkey
from tests.scanners.inspector.conftest import DAY3, Kit, World

STAMP = int(DAY3.timestamp())
"""When the witnesses cosigned: an hour before the kit's clock."""


@pytest.fixture(scope="module")
def witnesses() -> Witnesses:
    return Witnesses.generate()


def policy_text(world: World, witnesses: Witnesses, quorum: str = "2") -> str:
    return "# the city's witnesses\n" + witnesses.policy_text([log_vkey(ORIGIN, world.log)], quorum)


def pinned(text: str, source: str = "test") -> PinnedPolicy:
    return PinnedPolicy(text, parse_policy_text(text, "test"), source, "2026-11-20T06:00:00Z")


def pin(kit: Kit, world: World, witnesses: Witnesses, quorum: str = "2") -> None:
    policy = pinned(policy_text(world, witnesses, quorum))
    kit.kit.trust_folder.pin(root=None, log=None, policy=policy)


def cosigned(bundle: Bundle, witnesses: Witnesses, *names: str, bad: str | None = None) -> Bundle:
    note = bundle["checkpoint"]
    lines = [witnesses.cosign(note, name, STAMP) for name in names]
    if bad is not None:
        lines.append(flip_bit(witnesses.cosign(note, bad, STAMP)))
    return witnesses.cosigned(bundle, *lines)


def printed(render: Any, *args: Any) -> str:
    out = StringIO()
    render(Console(file=out, highlight=False, color_system=None, soft_wrap=True), *args)
    return out.getvalue()


# -- pinning -----------------------------------------------------------------------------------


def test_a_policy_is_pinned_once_with_its_provenance(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    assert kit.kit.trust().witness_policy is None
    text = policy_text(world, witnesses)
    trust = kit.kit.trust_folder.pin(root=None, log=None, policy=pinned(text, "file city.policy"))
    folder = kit.kit.trust_folder.folder
    assert (folder / POLICY_FILE).read_text() == text
    assert trust.witness_policy is not None and trust.policy is not None
    assert trust.witness_policy.source == "file city.policy"
    assert trust.policy.quorum == "city"
    provenance = json.loads((folder / "pinned.json").read_text())
    assert provenance["witness-policy"]["source"] == "file city.policy"
    assert kit.kit.trust_folder.pin(root=None, log=None, policy=pinned(text)).policy is not None


def test_a_different_policy_is_refused_unless_replaced(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    pin(kit, world, witnesses)
    path = kit.kit.trust_folder.folder / POLICY_FILE
    before = path.read_text()
    stricter = policy_text(world, witnesses, "all")
    with pytest.raises(TrustConflictError, match="a different witness policy is already pinned"):
        kit.kit.trust_folder.pin(root=None, log=None, policy=pinned(stricter))
    assert path.read_text() == before
    replaced = kit.kit.trust_folder.pin(root=None, log=None, policy=pinned(stricter), replace=True)
    assert replaced.policy is not None and replaced.policy.groups[0].threshold == 3


def test_a_key_conflict_pins_nothing_not_even_the_policy(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    other_root = PinnedKey(NoteVerifier.for_key("r", Ed25519Signer.generate().public_key), "x")
    with pytest.raises(TrustConflictError, match="a different root key"):
        kit.kit.trust_folder.pin(
            root=other_root, log=None, policy=pinned(policy_text(world, witnesses))
        )
    assert not (kit.kit.trust_folder.folder / POLICY_FILE).exists()


def test_a_policy_for_another_log_is_refused(kit: Kit, witnesses: Witnesses) -> None:
    rotated = witnesses.policy_text([log_vkey(ORIGIN, Ed25519Signer.generate())])
    trust = kit.kit.trust_folder.pin(root=None, log=None, policy=pinned(rotated))
    assert trust.policy is not None  # another key of the same log: a rotation, allowed
    other_origin = witnesses.policy_text([log_vkey("other.example/log", Ed25519Signer.generate())])
    with pytest.raises(TrustError, match=r"lists no key for the log this kit follows"):
        kit.kit.trust_folder.pin(root=None, log=None, policy=pinned(other_origin), replace=True)


def test_a_damaged_pinned_policy_stops_the_kit(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    pin(kit, world, witnesses)
    path = kit.kit.trust_folder.folder / POLICY_FILE
    path.write_text(path.read_text().replace("quorum city", "quorum nobody"))
    with pytest.raises(TrustError, match="is not a valid witness policy: policy line"):
        kit.kit.trust()
    with pytest.raises(TrustError):
        kit.scan(world.main)


def test_the_pinned_policy_is_shown_with_the_keys(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    assert "witness policy: none pinned" in printed(print_trust, kit.kit.trust())
    pin(kit, world, witnesses)
    shown = printed(print_trust, kit.kit.trust())
    assert "witness policy: city: 2 of police, transport and district; 3 witness key(s), " in shown
    assert "1 log key(s)" in shown
    assert "from: test, pinned 2026-11-20T06:00:00Z" in shown


# -- verifying ---------------------------------------------------------------------------------


def test_an_unwitnessed_bundle_is_refused_with_the_reason(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    pin(kit, world, witnesses)
    outcome = kit.accept(cosigned(world.bundle("new_site_b"), witnesses, "police"))
    assert not outcome.verified and outcome.stored is None
    (fault,) = outcome.report.faults
    assert fault.code == "checkpoint_unwitnessed"
    assert "no cosignature from transport and district" in fault.message
    assert kit.kit.state() is None  # nothing moved
    assert "REFUSED" in printed(print_fetch, outcome)
    assert "no cosignature from transport and district" in printed(print_fetch, outcome)


def test_a_bad_cosignature_is_refused_by_name(kit: Kit, world: World, witnesses: Witnesses) -> None:
    pin(kit, world, witnesses)
    bundle = cosigned(world.bundle("new_site_b"), witnesses, "police", "transport", bad="district")
    outcome = kit.accept(bundle)
    assert outcome.report.fault_codes() == ["checkpoint_unwitnessed"]
    assert "the cosignature of district does not verify" in outcome.report.faults[0].message


def test_a_witnessed_bundle_verifies_and_the_verdict_names_the_witnesses(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    pin(kit, world, witnesses)
    outcome = kit.accept(cosigned(world.bundle("new_site_b"), witnesses, "police", "district"))
    assert outcome.verified, outcome.report.faults
    assert outcome.report.witnesses == {"police": STAMP, "district": STAMP}
    assert "witnesses: district (cosigned 2026-11-20T06:00:00Z), police (" in printed(
        print_fetch, outcome
    )
    verdict = kit.scan(world.label_url(world.main))
    assert verdict.verdict == "genuine", verdict.faults
    assert verdict.witnesses == {"police": STAMP, "district": STAMP}
    assert verdict.to_json()["witnesses"] == {"police": STAMP, "district": STAMP}
    shown = printed(print_verdict, verdict)
    assert "witnesses: district (cosigned 2026-11-20T06:00:00Z), police (cosigned " in shown


def test_a_policy_pinned_later_refuses_stored_unwitnessed_bundles(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    assert kit.accept(world.bundle("new_site_b")).verified  # no policy yet: as before
    before = kit.scan(world.main)
    assert before.verdict == "genuine" and before.witnesses is None
    assert "witnesses" not in printed(print_verdict, before)
    pin(kit, world, witnesses)
    after = kit.scan(world.main)
    assert after.verdict == "fault"
    assert [f.code for f in after.faults] == ["checkpoint_unwitnessed"]
    assert "FAULT the bundle's checkpoint is not witnessed" in printed(print_verdict, after)


def test_cosignatures_dated_in_the_future_do_not_count(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    pin(kit, world, witnesses)
    bundle = world.bundle("new_site_b")
    note = bundle["checkpoint"]
    ahead = int((kit.now + timedelta(hours=1)).timestamp())
    lines = [witnesses.cosign(note, "police", STAMP), witnesses.cosign(note, "transport", ahead)]
    outcome = kit.accept(witnesses.cosigned(bundle, *lines))
    assert outcome.report.fault_codes() == ["checkpoint_unwitnessed"]
    assert "transport cosigned outside the time" in outcome.report.faults[0].message


class _Server:
    """The part of the API client :func:`fetch_bundle` uses, serving fixed bundles."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    def site_bundle(self, site: str) -> Bundle:
        return json.loads(json.dumps(self.bundle))  # type: ignore[no-any-return]

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        raise AssertionError("these bundles carry their own proof")


def test_a_downloaded_checkpoint_must_meet_the_pinned_policy(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    pin(kit, world, witnesses)

    def fetch(bundle: Bundle) -> Any:
        client = cast(ChemtraceClient, _Server(bundle))
        return fetch_bundle(kit.kit, client, kind="site", subject="site-b", server="https://ct",
                            now=kit.now)  # fmt: skip

    refused = fetch(cosigned(world.bundle("new_site_b"), witnesses, "transport"))
    assert refused.report.fault_codes() == ["checkpoint_unwitnessed"]
    assert refused.stored is None
    accepted = fetch(cosigned(world.bundle("new_site_b"), witnesses, "transport", "police"))
    assert accepted.verified and accepted.stored is not None
    assert sorted(accepted.report.witnesses or {}) == ["police", "transport"]


# -- the command -------------------------------------------------------------------------------


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_scan_trust_pins_a_policy_file_once(
    kit: Kit, world: World, witnesses: Witnesses, tmp_path: Path
) -> None:
    home = str(kit.home)
    city = tmp_path / "city.policy"
    city.write_text(policy_text(world, witnesses))
    result = run("trust", "--witness-policy", str(city), "--home", home)
    assert result.exit_code == 0, result.output
    assert "witness policy: city: 2 of police, transport and district" in result.stdout
    assert f"from: file {city}, pinned " in result.stdout
    assert (kit.home / "trust" / POLICY_FILE).read_text() == city.read_text()
    shown = run("trust", "--home", home)
    assert shown.exit_code == 0 and "witness policy: city: 2 of" in shown.stdout

    stricter = tmp_path / "stricter.policy"
    stricter.write_text(policy_text(world, witnesses, "all"))
    refused = run("trust", "--witness-policy", str(stricter), "--home", home)
    assert refused.exit_code == 2
    assert "a different witness policy is already pinned" in refused.stderr
    replaced = run("trust", "--witness-policy", str(stricter), "--replace", "--home", home)
    assert replaced.exit_code == 0, replaced.output
    assert "city: all of police, transport and district" in replaced.stdout


def test_scan_trust_refuses_a_malformed_policy_with_its_line(kit: Kit, tmp_path: Path) -> None:
    broken = tmp_path / "broken.policy"
    broken.write_text("witness police nokey\nquorum police\n")
    result = run("trust", "--witness-policy", str(broken), "--home", str(kit.home))
    assert result.exit_code == 2
    assert f"{broken} is not a valid witness policy: policy line 1:" in result.stderr
    assert not (kit.home / "trust" / POLICY_FILE).exists()
    missing = run("trust", "--witness-policy", str(tmp_path / "nowhere"), "--home", str(kit.home))
    assert missing.exit_code == 2
    assert "cannot read the witness policy" in missing.stderr


def test_scan_verify_with_a_pinned_policy_exits_1_on_an_unwitnessed_bundle(
    kit: Kit, world: World, witnesses: Witnesses
) -> None:
    assert kit.accept(world.bundle("new_site_b")).verified
    pin(kit, world, witnesses)
    result = run("verify", world.main, "--offline", "--home", str(kit.home), "--json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["verdict"] == "fault" and document["witnesses"] is None
    assert document["faults"][0]["code"] == "checkpoint_unwitnessed"
