"""Bundle verification with a witness policy: the checkpoint must carry the quorum's cosignatures.

A real bundle is built once through the store (as tests/ledger/test_bundle.py does); each
test attaches cosignature lines to a copy of its checkpoint note with
:func:`ledger.cosignature.attach`, the way the server will, and verifies it with a policy.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger.bundle import BundleReport, head_from_json
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.note import NoteVerifier, split_note
from ledger.signing import Ed25519Signer
from ledger.witness_policy import parse_policy
from tests.harness import ORIGIN
from tests.ledger._witnessed import NOW, Bundle, World, build_world, flip_bit, rfc3339


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("bundle-witness"))


# -- without a policy nothing changes ----------------------------------------------------------


def test_without_a_policy_cosignatures_change_nothing(world: World) -> None:
    plain = world.verify(world.fresh())
    assert plain.verified, plain.faults
    assert plain.witnesses is None
    assert plain.to_json()["witnesses"] is None
    lines = [world.cosign("police"), flip_bit(world.cosign("district"))]  # even a bad one
    cosigned = world.verify(world.cosigned(*lines))
    assert cosigned.verified, cosigned.faults
    assert cosigned.witnesses is None
    assert cosigned.warning_codes() == plain.warning_codes()
    assert cosigned.checkpoint_size == plain.checkpoint_size
    assert cosigned.state_advanced


def test_a_caller_must_give_a_log_key_or_a_policy(world: World) -> None:
    with pytest.raises(ValueError, match="log_verifier or a witness policy"):
        world.verify(world.fresh(), pinned=False)


# -- a policy that is met ----------------------------------------------------------------------


def test_a_met_quorum_verifies_and_the_report_names_the_witnesses(world: World) -> None:
    bundle = world.cosigned(world.cosign("police", NOW - 7200), world.cosign("transport"))
    report = world.verify(bundle, world.policy("2"))
    assert report.verified, report.faults
    assert report.witnesses == {"police": NOW - 7200, "transport": NOW - 3600}
    assert report.to_json()["witnesses"] == {"police": NOW - 7200, "transport": NOW - 3600}
    assert report.state_advanced and report.checkpoint_size is not None


def test_quorum_none_verifies_with_no_witness(world: World) -> None:
    policy = parse_policy(f"log {world.log_vkey()}\nquorum none\n")
    report = world.verify(world.fresh(), policy)
    assert report.verified, report.faults
    assert report.witnesses == {}


def test_the_policys_log_keys_decide_not_the_pinned_one(world: World) -> None:
    bundle = world.cosigned(world.cosign("police"), world.cosign("district"))
    stranger = NoteVerifier.for_key(ORIGIN, Ed25519Signer.generate().public_key)
    assert world.verify(bundle, world.policy(), log_verifier=stranger).verified
    assert world.verify(bundle, world.policy(), pinned=False).verified
    assert world.verify(bundle, log_verifier=stranger).fault_codes() == ["checkpoint_invalid"]


def test_a_policy_without_log_lines_trusts_the_pinned_log_key(world: World) -> None:
    bundle = world.cosigned(world.cosign("police"), world.cosign("district"))
    policy = world.policy(logs=[])
    assert world.verify(bundle, policy).verified
    stranger = NoteVerifier.for_key(ORIGIN, Ed25519Signer.generate().public_key)
    assert world.verify(bundle, policy, log_verifier=stranger).fault_codes() == [
        "checkpoint_invalid"
    ]
    assert world.verify(bundle, policy, pinned=False).fault_codes() == ["checkpoint_invalid"]


# -- a policy that is not met ------------------------------------------------------------------


def only_fault(report: BundleReport) -> str:
    assert report.fault_codes() == ["checkpoint_unwitnessed"], report.faults
    return report.faults[0].message


def test_missing_witnesses_are_named_and_nothing_is_trusted(world: World) -> None:
    state = world.verify(world.fresh()).state
    report = world.verify(world.cosigned(world.cosign("police")), world.policy("2"), state=state)
    message = only_fault(report)
    assert message.startswith(
        "the bundle's checkpoint is not witnessed as your witness policy requires "
        "(city: 2 of police, transport and district), so nothing in it can be trusted"
    )
    assert "no cosignature from transport and district" in message
    assert "[witness quorum not met (cosigned by police; missing: transport, district)]" in message
    assert report.checkpoint_size is None and report.witnesses is None
    assert not report.state_advanced and report.state is state


def test_an_unwitnessed_bundle_starts_no_state(world: World) -> None:
    report = world.verify(world.fresh(), world.policy("any"))
    assert "no cosignature from police, transport and district" in only_fault(report)
    assert report.state is None and not report.state_advanced


def test_a_bad_cosignature_is_named_even_when_the_others_would_do(world: World) -> None:
    bundle = world.cosigned(
        world.cosign("police"), world.cosign("transport"), flip_bit(world.cosign("district"))
    )
    message = only_fault(world.verify(bundle, world.policy("2")))
    assert "the cosignature of district does not verify (altered, forged" in message
    assert "no cosignature from" not in message  # district's is bad, not missing
    assert "bad: district" in message


def test_duplicates_and_cosignatures_outside_validity_are_named(world: World) -> None:
    window = f"valid {world.witness_vkey('district')} until {rfc3339(NOW - 86_400)}"
    policy = world.policy("all", extra=[window])
    bundle = world.cosigned(
        world.cosign("police", NOW - 60),
        world.cosign("police", NOW - 30),
        world.cosign("transport"),
        world.cosign("district"),
    )
    message = only_fault(world.verify(bundle, policy))
    assert "police cosigned more than once (counted once)" in message
    assert "district cosigned outside the time the policy trusts its key for" in message
    assert "(city: all of police, transport and district)" in message


def test_a_future_cosignature_does_not_count(world: World) -> None:
    bundle = world.cosigned(world.cosign("police"), world.cosign("transport", NOW + 3600))
    message = only_fault(world.verify(bundle, world.policy("2")))
    assert "transport cosigned outside the time" in message
    assert "or dated it in the future" in message


# -- log keys: rotation and a stolen key -------------------------------------------------------


def test_an_old_bundle_stays_valid_after_its_log_key_is_retired(world: World) -> None:
    retired = NOW - 1800  # the key was stolen after these cosignatures were made
    policy = world.policy(
        logs=[world.log_vkey(), world.log_vkey(world.new_log)],
        extra=[f"valid {world.log_vkey()} until {rfc3339(retired)}"],
    )
    bundle = world.cosigned(world.cosign("police"), world.cosign("transport"))
    report = world.verify(bundle, policy, pinned=False)
    assert report.verified, report.faults  # head statements by the old key count too


def test_what_a_stolen_log_key_signs_after_its_until_is_refused(world: World) -> None:
    stolen_at = NOW - 2 * 86_400
    policy = world.policy(
        logs=[world.log_vkey(), world.log_vkey(world.new_log)],
        extra=[f"valid {world.log_vkey()} until {rfc3339(stolen_at)}"],
    )
    bundle = world.cosigned(world.cosign("police"), world.cosign("transport"))
    message = only_fault(world.verify(bundle, policy))
    assert "the log key that signed it was not valid when the witnesses cosigned" in message
    assert "log keys not valid when witnessed: " in message


def test_a_policy_that_lists_only_other_log_keys_refuses_the_checkpoint(world: World) -> None:
    bundle = world.cosigned(world.cosign("police"), world.cosign("transport"))
    report = world.verify(bundle, world.policy(logs=[world.log_vkey(world.new_log)]))
    assert report.fault_codes() == ["checkpoint_invalid"]
    assert report.faults[0].message.startswith(
        "the bundle's checkpoint is not signed by a log key your witness policy lists"
    )


def test_a_checkpoint_of_another_origin_is_refused_with_a_policy(world: World) -> None:
    bundle = world.cosigned(world.cosign("police"), world.cosign("transport"))
    bundle["origin"] = "other.example/log"
    report = world.verify(bundle, world.policy())
    assert report.fault_codes() == ["checkpoint_invalid"]
    assert "origin differs" in report.faults[0].message


def resign_heads(bundle: Bundle, signer: Ed25519Signer) -> Bundle:
    """The bundle with its head statements signed by ``signer`` (the log's next key)."""
    for item in bundle["items"]:
        statement = head_from_json(item["head"])
        item["head"] = replace(statement, signature=statement.sign(signer)).to_json()
    return bundle


def test_head_statements_signed_by_the_new_log_key_verify_during_a_rotation(
    world: World,
) -> None:
    cosigned = world.cosigned(world.cosign("police"), world.cosign("transport"))
    bundle = resign_heads(cosigned, world.new_log)
    both = world.policy(logs=[world.log_vkey(), world.log_vkey(world.new_log)])
    assert world.verify(bundle, both).verified
    old_only = world.policy()
    assert world.verify(bundle, old_only).fault_codes() == ["head_statement_invalid"]
    assert world.verify(bundle).fault_codes() == ["head_statement_invalid"]  # no policy
    not_yet = world.policy(
        logs=[world.log_vkey(), world.log_vkey(world.new_log)],
        extra=[f"valid {world.log_vkey(world.new_log)} from {rfc3339(NOW + 86_400)}"],
    )
    assert world.verify(bundle, not_yet).fault_codes() == ["head_statement_invalid"]


def test_a_stolen_key_no_longer_vouches_for_head_statements_of_new_checkpoints(
    world: World,
) -> None:
    """The checkpoint counts by the new key; the old key, past its until, signs nothing."""
    stolen_at = NOW - 2 * 86_400
    text, _ = split_note(world.bundle["checkpoint"])
    checkpoint = Checkpoint.from_text(text)
    by_new = sign_checkpoint(checkpoint, ORIGIN, world.new_log).rsplit("\n\n", 1)[1]
    bundle = world.cosigned(by_new, world.cosign("police"), world.cosign("transport"))
    policy = world.policy(
        logs=[world.log_vkey(), world.log_vkey(world.new_log)],
        extra=[f"valid {world.log_vkey()} until {rfc3339(stolen_at)}"],
    )
    # The heads are the old key's: after its until it does not count for this checkpoint.
    assert world.verify(bundle, policy).fault_codes() == ["head_statement_invalid"]
    assert world.verify(resign_heads(bundle, world.new_log), policy).verified
