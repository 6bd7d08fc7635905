"""Stale versus inconsistent: what the kit verified before decides, and it says when.

The kit keeps the largest checkpoint it accepted. A bundle older than that is shown as
stale, with its age, and still verifies; a bundle that contradicts it is a fault.
"""

from __future__ import annotations

import json
from datetime import timedelta

from tests.harness import ORIGIN
from tests.scanners.inspector.conftest import DAY3, Kit, World


def saved_size(kit: Kit) -> int:
    state = kit.kit.state()
    assert state is not None
    view = state.view(ORIGIN)
    assert view is not None
    return view.size


def test_a_newer_bundle_with_a_proof_moves_the_kit_forward(kit: Kit, world: World) -> None:
    old = kit.accept(world.bundle("old_site_b"))
    new = kit.accept(world.bundle("new_site_b"))
    assert new.verified and new.report.warnings == []
    assert new.report.state_advanced
    assert saved_size(kit) == new.report.checkpoint_size > (old.report.checkpoint_size or 0)


def test_an_older_bundle_is_stale_with_its_age_and_still_genuine(kit: Kit, world: World) -> None:
    assert kit.accept(world.bundle("new_site_b")).verified
    at_fetch = kit.accept(world.bundle("old_site_a"))  # site-a, made three days earlier
    assert at_fetch.verified and at_fetch.stored is not None and at_fetch.stored.stored
    assert at_fetch.report.warnings[0].message.startswith(
        "this bundle is 3 days older than the one you verified today (stale)"
    )
    size = saved_size(kit)

    kit.now = DAY3 + timedelta(days=1, hours=2)
    verdict = kit.scan(world.label_url(world.elsewhere))
    assert (verdict.verdict, verdict.exit_code) == ("stale", 0)
    assert verdict.faults == []
    stale = next(w for w in verdict.warnings if w.code == "bundle_stale")
    assert stale.message.startswith(
        "this bundle is 3 days older than the one you verified yesterday (stale)"
    )
    assert verdict.source.description == (
        "verified offline from the site bundle of site-a downloaded at 2026-11-20T07:00:00Z "
        "(age 1 day 1 hour)"
    )
    assert saved_size(kit) == size  # a stale bundle never moves the kit back


def test_the_newest_bundle_holding_the_item_is_used(kit: Kit, world: World) -> None:
    kit.accept(world.bundle("old_site_b"))
    kit.accept(world.bundle("new_site_b"))
    verdict = kit.scan(world.label_url(world.main))
    assert verdict.verdict == "genuine" and verdict.warnings == []
    assert len(verdict.steps) == world.main_events


def test_a_newer_bundle_without_a_proof_warns_and_does_not_move_the_kit(
    kit: Kit, world: World
) -> None:
    kit.accept(world.bundle("old_site_b"))
    before = saved_size(kit)
    bundle = world.bundle("new_site_b")
    bundle["consistency"] = None
    outcome = kit.accept(bundle)
    assert outcome.verified
    assert outcome.report.warning_codes() == ["consistency_unconfirmed"]
    assert saved_size(kit) == before
    verdict = kit.scan(world.main)
    assert verdict.verdict == "genuine"
    assert "consistency_unconfirmed" in [w.code for w in verdict.warnings]


def test_a_bundle_that_contradicts_the_saved_checkpoint_is_a_fault(kit: Kit, world: World) -> None:
    assert kit.accept(world.bundle("new_site_b")).verified
    size = saved_size(kit)
    outcome = kit.accept(world.bundle("fork_site_b"))  # same keys, another history
    assert not outcome.verified and outcome.stored is None
    assert outcome.report.fault_codes() == ["checkpoint_inconsistent"]
    assert outcome.report.faults[0].message.startswith(
        "this bundle contradicts the log you verified today (fault)"
    )
    assert saved_size(kit) == size


def test_a_contradicting_bundle_put_on_disk_is_a_fault_at_the_scan(kit: Kit, world: World) -> None:
    kit.accept(world.bundle("new_site_b"))
    kit.tamper(world.resident, lambda bundle: bundle.update(world.bundle("fork_site_b")))
    kit.now += timedelta(days=1)
    verdict = kit.scan(world.resident)
    assert (verdict.verdict, verdict.exit_code) == ("fault", 1)
    assert verdict.faults[0].message.startswith(
        "this bundle contradicts the log you verified yesterday (fault)"
    )


def test_the_same_size_with_another_root_is_a_fork(kit: Kit, world: World) -> None:
    kit.accept(world.bundle("new_site_b"))
    state = kit.kit.state()
    assert state is not None
    document = state.to_json()
    document["logs"][0]["root"] = "A" * 43 + "="  # type: ignore[index]
    kit.kit.state_path.write_text(json.dumps(document))
    verdict = kit.scan(world.main)
    assert verdict.verdict == "fault"
    assert [f.code for f in verdict.faults] == ["checkpoint_fork"]
    assert verdict.faults[0].message.startswith(
        "this bundle contradicts the log you verified today (fault)"
    )
