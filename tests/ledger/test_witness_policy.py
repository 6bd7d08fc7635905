"""C2SP tlog-policy files and the judging of cosigned checkpoints against them.

Every key is a throwaway Ed25519 key. Times are small POSIX numbers around ``NOW`` so each
window boundary can be hit exactly; ``valid`` lines take them as RFC 3339 text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.cosignature import CosignerVerifier, attach, cosign
from ledger.errors import NoteError, QuorumError, VerificationError
from ledger.note import SIGNATURE_PREFIX, NoteVerifier
from ledger.signing import Ed25519Signer
from ledger.witness_policy import (
    FUTURE_SKEW_S,
    NONE,
    Window,
    judge_checkpoint,
    parse_policy,
    parse_policy_bytes,
    require_quorum,
)
from tests.ledger._witnessed import flip_bit

ORIGIN = "chemtrace.test/log"
NOW = 1_800_000_000
CHECKPOINT = Checkpoint(origin=ORIGIN, size=42, root_hash=bytes(range(32)))


def rfc3339(posix: int) -> str:
    return datetime.fromtimestamp(posix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Keys:
    """Throwaway log and witness keys, created on first use by name."""

    logs: dict[str, Ed25519Signer] = field(default_factory=dict)
    witnesses: dict[str, Ed25519Signer] = field(default_factory=dict)

    def log(self, label: str = "log") -> Ed25519Signer:
        return self.logs.setdefault(label, Ed25519Signer.generate())

    def witness(self, name: str) -> Ed25519Signer:
        return self.witnesses.setdefault(name, Ed25519Signer.generate())

    def log_vkey(self, label: str = "log", origin: str = ORIGIN) -> str:
        return NoteVerifier.for_key(origin, self.log(label).public_key).vkey()

    def witness_vkey(self, name: str) -> str:
        return CosignerVerifier.for_key(key_name(name), self.witness(name).public_key).vkey()

    def note(self, *labels: str, checkpoint: Checkpoint = CHECKPOINT) -> str:
        """The checkpoint signed by the named log keys (the first one's note, others attached)."""
        first, *others = labels or ("log",)
        note = sign_checkpoint(checkpoint, checkpoint.origin, self.log(first))
        lines = [_signature_line(sign_checkpoint(checkpoint, checkpoint.origin, self.log(label)))
                 for label in others]  # fmt: skip
        return attach(note, lines)

    def cosign(self, name: str, timestamp: int = NOW - 60) -> str:
        return cosign(CHECKPOINT.to_text(), key_name(name), self.witness(name), timestamp)

    def cosigned(self, note: str, *lines: str) -> str:
        return attach(note, lines)


def key_name(witness: str) -> str:
    """The witness's key name (its vkey name), distinct from its name in the policy."""
    return f"witness.{witness.lower()}.example"


def _signature_line(note: str) -> str:
    return note.rsplit("\n\n", 1)[1].splitlines()[0]


@pytest.fixture
def keys() -> Keys:
    return Keys()


def city_policy(keys: Keys, quorum: str = "2", extra: Iterable[str] = ()) -> str:
    """This city's shape: the police bureau, the transport commission and a district."""
    lines = [
        f"log {keys.log_vkey()}",
        f"witness police {keys.witness_vkey('police')}",
        f"witness transport {keys.witness_vkey('transport')}",
        f"witness district {keys.witness_vkey('district')}",
        f"group city {quorum} police transport district",
        *extra,
        "quorum city",
    ]
    return "\n".join(lines) + "\n"


# -- parsing -----------------------------------------------------------------------------------


def spec_example(keys: Keys) -> str:
    """The example of C2SP tlog-policy §Example policy, with real keys."""
    x = "\n".join(f"witness X{i} {keys.witness_vkey(f'X{i}')}" for i in (1, 2, 3))
    y = "\n".join(f"witness Y{i} {keys.witness_vkey(f'Y{i}')}" for i in (1, 2, 3))
    return (
        f"log {keys.log_vkey()}\n\n{x}\ngroup X-witnesses 2 X1 X2 X3\n\n{y}\n"
        "group Y-witnesses any Y1 Y2 Y3\n\ngroup X-and-Y all X-witnesses Y-witnesses\n"
        "quorum X-and-Y\n"
    )


def test_the_spec_example_parses_with_its_nested_groups(keys: Keys) -> None:
    policy = parse_policy(spec_example(keys))
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert [(g.name, g.threshold, g.members) for g in policy.groups] == [
        ("X-witnesses", 2, ("X1", "X2", "X3")),
        ("Y-witnesses", 1, ("Y1", "Y2", "Y3")),
        ("X-and-Y", 2, ("X-witnesses", "Y-witnesses")),
    ]
    assert policy.quorum == "X-and-Y"
    assert [log.verifier.vkey() for log in policy.logs] == [keys.log_vkey()]
    assert policy.satisfied({"X1", "X3", "Y2"})
    assert not policy.satisfied({"X1", "Y1", "Y2", "Y3"})  # one X is not two
    assert not policy.satisfied({"X1", "X2", "X3"})  # no Y at all


def test_the_spec_example_judges_real_cosignatures(keys: Keys) -> None:
    policy = parse_policy(spec_example(keys))
    note = keys.note()
    met = keys.cosigned(note, keys.cosign("X1"), keys.cosign("X3"), keys.cosign("Y2"))
    assert judge_checkpoint(met, policy, now=NOW).accepted
    only_x = keys.cosigned(note, *(keys.cosign(f"X{i}") for i in (1, 2, 3)))
    verdict = judge_checkpoint(only_x, policy, now=NOW)
    assert not verdict.accepted
    assert verdict.missing == ("Y1", "Y2", "Y3")


@pytest.mark.parametrize(("rule", "threshold"), [("all", 3), ("any", 1), ("1", 1), ("2", 2),
                                                 ("3", 3)])  # fmt: skip
def test_thresholds_all_any_and_k(keys: Keys, rule: str, threshold: int) -> None:
    policy = parse_policy(city_policy(keys, rule))
    assert policy.groups[0].threshold == threshold


def test_quorum_none_needs_no_witness_at_all(keys: Keys) -> None:
    policy = parse_policy(f"log {keys.log_vkey()}\nquorum none\n")
    assert policy.quorum == NONE and policy.witnesses == ()
    verdict = judge_checkpoint(keys.note(), policy, now=NOW)
    assert verdict.accepted
    assert dict(verdict.cosigned) == {}


def test_comments_blank_lines_tabs_and_urls(keys: Keys) -> None:
    text = (
        "# the city's policy\n"
        "   \t \n"
        f"  log\t{keys.log_vkey()}  https://ct.example.cn/log  \n"
        "\t# indented comment\n"
        f"witness \t police\t{keys.witness_vkey('police')} https://w.police.example/\n"
        f"witness transport   {keys.witness_vkey('transport')}\t\n"
        "group\tboth\tall\tpolice\ttransport\n"
        "quorum both"  # no final newline
    )
    policy = parse_policy(text)
    assert policy.logs[0].url == "https://ct.example.cn/log"
    assert [(w.name, w.url) for w in policy.witnesses] == [
        ("police", "https://w.police.example/"),
        ("transport", None),
    ]
    assert policy.quorum == "both" and policy.groups[0].threshold == 2


def test_octets_with_the_high_bit_set_are_opaque_in_comments(keys: Keys) -> None:
    data = f"# caf\xe9 (Latin-1)\nlog {keys.log_vkey()}\nquorum none\n".encode("latin-1")
    assert parse_policy_bytes(data).quorum == NONE
    with pytest.raises(NoteError):
        parse_policy_bytes(f"log {keys.log_vkey()}\xe9\nquorum none\n".encode("latin-1"))


def test_valid_lines_set_windows_from_rfc3339_times(keys: Keys) -> None:
    text = city_policy(keys, extra=[
        f"valid {keys.witness_vkey('police')} from {rfc3339(NOW - 100)} until {rfc3339(NOW)}",
        f"valid {keys.log_vkey()} until 2027-01-01T08:00:00+08:00",
        f"valid {keys.witness_vkey('district')} from 2026-01-01T00:00:00.5Z",
    ])  # fmt: skip
    policy = parse_policy(text)
    windows = {w.name: w.window for w in policy.witnesses}
    assert windows == {
        "police": Window(NOW - 100, NOW),
        "transport": Window(),
        "district": Window(int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()), None),
    }
    assert policy.logs[0].window == Window(None, int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()))


def test_a_valid_line_may_write_the_key_id_in_upper_case(keys: Keys) -> None:
    name, key_id, key = keys.witness_vkey("police").split("+", 2)
    upper = f"{name}+{key_id.upper()}+{key}"
    text = city_policy(keys, "any", [f"valid {upper} until {rfc3339(NOW)}"])
    assert parse_policy(text).witnesses[0].window == Window(None, NOW)


def _refusals(keys: Keys) -> dict[str, tuple[str, str]]:
    """Each malformed policy, with the words its refusal must contain."""
    log, police = keys.log_vkey(), keys.witness_vkey("police")
    transport, other = keys.witness_vkey("transport"), keys.witness_vkey("other")
    police_key = keys.witness("police").public_key
    same_key_other_name = CosignerVerifier.for_key("witness.elsewhere.example", police_key)
    police_as_log = NoteVerifier.for_key(ORIGIN, police_key).vkey()
    head = f"log {log}\nwitness police {police}\nwitness transport {transport}\n"
    undefined = "members must be defined once, earlier"
    threshold = "threshold must be all, any or 1..2"
    until = f"until {rfc3339(NOW)}"
    return {
        "unknown keyword": (f"{head}witnesses x {police}\nquorum police\n", "unknown keyword"),
        "keyword in capitals": (f"{head}Quorum police\n", "unknown keyword 'Quorum'"),
        "undefined group member": (f"{head}group g any police nobody\nquorum g\n", undefined),
        "member defined later": (
            f"log {log}\nwitness police {police}\ngroup g any police transport\n"
            f"witness transport {transport}\nquorum g\n",
            undefined,
        ),
        "undefined quorum": (f"{head}quorum nobody\n", "undefined 'nobody'"),
        "quorum before its name": (
            f"log {log}\nquorum police\nwitness police {police}\n",
            "undefined 'police'",
        ),
        "duplicate witness name": (
            f"{head}witness police {other}\nquorum police\n",
            "'police' is defined twice",
        ),
        "group named like a witness": (
            f"{head}group police any transport\nquorum police\n",
            "'police' is defined twice",
        ),
        "duplicate group member": (f"{head}group g 2 police police\nquorum g\n", undefined),
        "duplicate log key": (f"{head}log {log}\nquorum police\n", "duplicate key"),
        "duplicate witness key": (f"{head}witness again {police}\nquorum police\n", "duplicate"),
        "one key under two names": (
            f"{head}witness elsewhere {same_key_other_name.vkey()}\nquorum police\n",
            "duplicate key",
        ),
        "one key as log and witness": (
            f"{head}log {police_as_log}\nquorum police\n",
            "duplicate key",
        ),
        "k is zero": (f"{head}group g 0 police transport\nquorum g\n", threshold),
        "k above n": (f"{head}group g 3 police transport\nquorum g\n", threshold),
        "k with a leading zero": (f"{head}group g 01 police transport\nquorum g\n", threshold),
        "k not a number": (f"{head}group g most police transport\nquorum g\n", threshold),
        "group without members": (f"{head}group g any\nquorum g\n", "group <name>"),
        "two quorum lines": (f"{head}quorum police\nquorum transport\n", "exactly one quorum"),
        "the same quorum twice": (f"{head}quorum police\nquorum police\n", "exactly one quorum"),
        "no quorum line": (head, "no quorum line"),
        "quorum of two names": (f"{head}quorum police transport\n", "exactly one quorum"),
        "none as a group member": (f"{head}group g any police none\nquorum g\n", undefined),
        "none as a witness name": (
            f"log {log}\nwitness none {police}\nquorum none\n",
            "bad name 'none'",
        ),
        "log key given as a witness key": (
            f"log {log}\nwitness police {log}\nquorum police\n",
            "policy line 2: not a cosignature/v1 key",
        ),
        "witness key given as a log key": (
            f"log {police}\nquorum none\n",
            "policy line 1: unsupported note signature type",
        ),
        "malformed witness key": (
            f"log {log}\nwitness police {police[:-4]}AAAA\nquorum police\n",
            "key id does not match",
        ),
        "witness without a key": (f"log {log}\nwitness police\nquorum none\n", "witness <name>"),
        "valid for an unlisted key": (
            f"{head}valid {other} {until}\nquorum police\n",
            "a key the policy does not list",
        ),
        "valid for a malformed key": (
            f"{head}valid police {until}\nquorum police\n",
            "policy line 4: valid names a malformed key",
        ),
        "valid with until equal to from": (
            f"{head}valid {police} from {rfc3339(NOW)} {until}\nquorum police\n",
            "until must be after from",
        ),
        "valid with until before from": (
            f"{head}valid {police} from {rfc3339(NOW + 1)} {until}\nquorum police\n",
            "until must be after from",
        ),
        "valid twice for one key": (
            f"{head}valid {police} {until}\nvalid {police} from {rfc3339(NOW)}\nquorum police\n",
            "one valid line per key",
        ),
        "valid without a time": (f"{head}valid {police}\nquorum police\n", "valid <vkey>"),
        "valid with an unknown word": (
            f"{head}valid {police} before {rfc3339(NOW)}\nquorum police\n",
            "unexpected 'before'",
        ),
        "valid with a time without offset": (
            f"{head}valid {police} until 2027-01-01T00:00:00\nquorum police\n",
            "needs an offset",
        ),
        "valid with an ISO basic time": (
            f"{head}valid {police} until 20270101T000000+08:00\nquorum police\n",
            "not an RFC 3339 time",
        ),
        "valid with an impossible date": (
            f"{head}valid {police} until 2027-02-30T00:00:00Z\nquorum police\n",
            "impossible date",
        ),
    }


REFUSALS = sorted(_refusals(Keys()))


@pytest.mark.parametrize("case", REFUSALS)
def test_every_malformed_policy_is_refused(keys: Keys, case: str) -> None:
    text, words = _refusals(keys)[case]
    with pytest.raises(NoteError, match=re.escape(words)):
        parse_policy(text)


def test_a_refusal_names_its_line(keys: Keys) -> None:
    with pytest.raises(NoteError, match=r"policy line 4: unknown keyword 'witnesses'"):
        parse_policy(_refusals(keys)["unknown keyword"][0])


# -- judging: who counts -----------------------------------------------------------------------


def test_a_missing_witness_is_named(keys: Keys) -> None:
    policy = parse_policy(city_policy(keys, "all"))
    note = keys.cosigned(keys.note(), keys.cosign("police"), keys.cosign("district"))
    verdict = judge_checkpoint(note, policy, now=NOW)
    assert not verdict.accepted
    assert verdict.missing == ("transport",)
    assert sorted(verdict.cosigned) == ["district", "police"]
    assert "missing: transport" in verdict.explain()
    assert verdict.explain().startswith("witness quorum not met")


def test_a_bad_cosignature_from_a_listed_witness_refuses_the_checkpoint(keys: Keys) -> None:
    policy = parse_policy(city_policy(keys, "2"))
    note = keys.cosigned(
        keys.note(),
        keys.cosign("police"),
        keys.cosign("transport"),
        flip_bit(keys.cosign("district")),
    )
    verdict = judge_checkpoint(note, policy, now=NOW)
    assert not verdict.accepted  # the other two would meet the quorum
    assert verdict.bad == ("district",)
    assert "district" not in verdict.cosigned
    assert "bad: district" in verdict.explain()
    with pytest.raises(QuorumError) as raised:
        require_quorum(note, policy, now=NOW)
    assert raised.value.code == "witness_quorum_not_met"
    assert raised.value.context["bad"] == ["district"]


def test_a_cosignature_over_another_checkpoint_is_bad(keys: Keys) -> None:
    policy = parse_policy(city_policy(keys, "any"))
    other = Checkpoint(origin=ORIGIN, size=43, root_hash=bytes(32))
    stolen = cosign(other.to_text(), key_name("police"), keys.witness("police"), NOW - 60)
    verdict = judge_checkpoint(keys.cosigned(keys.note(), stolen), policy, now=NOW)
    assert not verdict.accepted and verdict.bad == ("police",)


def test_two_cosignatures_from_one_witness_count_once(keys: Keys) -> None:
    policy = parse_policy(city_policy(keys, "2"))
    twice = keys.cosigned(
        keys.note(), keys.cosign("police", NOW - 60), keys.cosign("police", NOW - 30)
    )
    verdict = judge_checkpoint(twice, policy, now=NOW)
    assert not verdict.accepted
    assert verdict.duplicate == ("police",)
    assert dict(verdict.cosigned) == {"police": NOW - 60}
    assert "duplicate: police" in verdict.explain()
    with_transport = keys.cosigned(twice, keys.cosign("transport"))
    assert judge_checkpoint(with_transport, policy, now=NOW).accepted


def test_cosignatures_from_unknown_keys_are_ignored(keys: Keys) -> None:
    policy = parse_policy(city_policy(keys, "2"))
    stranger = cosign(CHECKPOINT.to_text(), "witness.stranger.example", Ed25519Signer.generate(),
                      NOW - 60)  # fmt: skip
    # A listed witness's name with an unlisted key is a stranger too.
    impostor = cosign(CHECKPOINT.to_text(), key_name("transport"), Ed25519Signer.generate(),
                      NOW - 60)  # fmt: skip
    note = keys.cosigned(keys.note(), keys.cosign("police"), stranger, impostor)
    verdict = judge_checkpoint(note, policy, now=NOW)
    assert not verdict.accepted  # neither counts toward the quorum
    assert verdict.bad == ()
    assert verdict.unknown == ("witness.stranger.example", key_name("transport"))
    accepted = judge_checkpoint(keys.cosigned(note, keys.cosign("district")), policy, now=NOW)
    assert accepted.accepted
    assert "unknown keys ignored: witness.stranger.example" in accepted.explain()


def test_timestamps_more_than_300_seconds_ahead_do_not_count(keys: Keys) -> None:
    policy = parse_policy(city_policy(keys, "any"))
    note = keys.note()
    at_edge = keys.cosigned(note, keys.cosign("police", NOW + FUTURE_SKEW_S))
    assert judge_checkpoint(at_edge, policy, now=NOW).accepted
    beyond = keys.cosigned(note, keys.cosign("police", NOW + FUTURE_SKEW_S + 1))
    verdict = judge_checkpoint(beyond, policy, now=NOW)
    assert not verdict.accepted
    assert verdict.outside_validity == ("police",)
    assert "police" not in verdict.cosigned


@pytest.mark.parametrize(
    ("stamp", "counts"),
    [(NOW - 1001, False), (NOW - 1000, True), (NOW - 1, True), (NOW, False), (NOW + 10, False)],
)
def test_a_witness_key_counts_only_inside_its_window(keys: Keys, stamp: int, counts: bool) -> None:
    window = f"valid {keys.witness_vkey('police')} from {rfc3339(NOW - 1000)} until {rfc3339(NOW)}"
    policy = parse_policy(city_policy(keys, "any", [window]))
    verdict = judge_checkpoint(
        keys.cosigned(keys.note(), keys.cosign("police", stamp)), policy, now=NOW + 20
    )
    assert verdict.accepted is counts
    assert verdict.outside_validity == (() if counts else ("police",))


# -- judging: log keys, rotation and recovery --------------------------------------------------

COMPROMISED = NOW - 10_000
"""When the old log key was stolen; the policy marks it ``until`` this time."""


def rotation_policy(keys: Keys, quorum: str = "2") -> str:
    return city_policy(keys, quorum, [
        f"log {keys.log_vkey('new')}",
        f"valid {keys.log_vkey()} until {rfc3339(COMPROMISED)}",
        f"valid {keys.log_vkey('new')} from {rfc3339(COMPROMISED - 3600)}",
    ])  # fmt: skip


def test_an_old_bundle_cosigned_before_the_old_keys_until_is_still_accepted(keys: Keys) -> None:
    policy = parse_policy(rotation_policy(keys))
    before = COMPROMISED - 86_400
    old = keys.cosigned(
        keys.note(), keys.cosign("police", before), keys.cosign("transport", before + 5)
    )
    verdict = judge_checkpoint(old, policy, now=NOW)  # judged long after the compromise
    assert verdict.accepted
    assert verdict.log_keys == (NoteVerifier.for_key(ORIGIN, keys.log().public_key).key_id.hex(),)
    assert verdict.log_keys_outside_validity == ()


def test_what_the_stolen_key_signs_after_its_until_is_refused(keys: Keys) -> None:
    policy = parse_policy(rotation_policy(keys))
    forged = keys.cosigned(keys.note(), keys.cosign("police"), keys.cosign("transport"))
    verdict = judge_checkpoint(forged, policy, now=NOW)
    assert not verdict.accepted
    assert sorted(verdict.cosigned) == ["police", "transport"]  # honest witnesses, fooled
    old_id = NoteVerifier.for_key(ORIGIN, keys.log().public_key).key_id.hex()
    assert verdict.log_keys_outside_validity == (old_id,)
    assert f"log keys not valid when witnessed: {ORIGIN}+{old_id}" in verdict.explain()
    # One cosignature before the until is not enough: the quorum must be inside the window.
    mixed = keys.cosigned(
        keys.note(), keys.cosign("police", COMPROMISED - 1), keys.cosign("transport")
    )
    assert not judge_checkpoint(mixed, policy, now=NOW).accepted


def test_the_new_key_signs_on_after_the_rotation(keys: Keys) -> None:
    policy = parse_policy(rotation_policy(keys))
    note = keys.cosigned(keys.note("new"), keys.cosign("police"), keys.cosign("district"))
    verdict = judge_checkpoint(note, policy, now=NOW)
    assert verdict.accepted
    assert verdict.log_keys == (
        NoteVerifier.for_key(ORIGIN, keys.log("new").public_key).key_id.hex(),
    )


def test_a_checkpoint_signed_by_both_log_keys_during_the_transition(keys: Keys) -> None:
    policy = parse_policy(rotation_policy(keys))
    old_id = NoteVerifier.for_key(ORIGIN, keys.log().public_key).key_id.hex()
    new_id = NoteVerifier.for_key(ORIGIN, keys.log("new").public_key).key_id.hex()
    both = keys.note("log", "new")
    during = keys.cosigned(
        both, keys.cosign("police", COMPROMISED - 60), keys.cosign("transport", COMPROMISED - 30)
    )
    verdict = judge_checkpoint(during, policy, now=NOW)
    assert verdict.accepted
    assert set(verdict.log_keys) == {old_id, new_id}
    assert verdict.unknown == ()  # a listed log key's line is not an unknown signature
    after = keys.cosigned(both, keys.cosign("police"), keys.cosign("transport"))
    late = judge_checkpoint(after, policy, now=NOW)
    assert late.accepted  # the new key counts; the old one no longer does
    assert late.log_keys_outside_validity == (old_id,)
    new_only = parse_policy(city_policy(keys, "2").replace(keys.log_vkey(), keys.log_vkey("new")))
    assert judge_checkpoint(after, new_only, now=NOW).accepted
    assert judge_checkpoint(after, new_only, now=NOW).unknown == (ORIGIN,)


def test_a_bad_signature_from_a_listed_log_key_rejects_the_note(keys: Keys) -> None:
    policy = parse_policy(rotation_policy(keys))
    good = keys.note()
    broken = attach(good, [flip_bit(_signature_line(keys.note("new")))])
    with pytest.raises(NoteError, match="does not verify"):
        judge_checkpoint(keys.cosigned(broken, keys.cosign("police")), policy, now=NOW)


def test_a_note_no_listed_log_key_signed_is_an_error(keys: Keys) -> None:
    policy = parse_policy(city_policy(keys, "any"))
    with pytest.raises(NoteError, match="no signature from a known key"):
        judge_checkpoint(keys.note("stranger"), policy, now=NOW)
    other_log = Checkpoint(origin="other.example/log", size=1, root_hash=bytes(32))
    with pytest.raises(NoteError, match="lists no key for this log"):
        judge_checkpoint(keys.note(checkpoint=other_log), policy, now=NOW)


def test_rotating_a_witness_key_keeps_one_vote_per_party(keys: Keys) -> None:
    text = (
        f"log {keys.log_vkey()}\n"
        f"witness police-2025 {keys.witness_vkey('police-2025')}\n"
        f"witness police-2026 {keys.witness_vkey('police-2026')}\n"
        "group police any police-2025 police-2026\n"
        f"witness transport {keys.witness_vkey('transport')}\n"
        f"witness district {keys.witness_vkey('district')}\n"
        "group city 2 police transport district\n"
        f"valid {keys.witness_vkey('police-2025')} until {rfc3339(NOW - 500)}\n"
        f"valid {keys.witness_vkey('police-2026')} from {rfc3339(NOW - 600)}\n"
        "quorum city\n"
    )
    policy = parse_policy(text)
    note = keys.note()
    both_police = keys.cosigned(
        note, keys.cosign("police-2025", NOW - 550), keys.cosign("police-2026", NOW - 550)
    )
    verdict = judge_checkpoint(both_police, policy, now=NOW)
    assert not verdict.accepted  # one party, one vote
    assert sorted(verdict.cosigned) == ["police-2025", "police-2026"]
    old_and_transport = keys.cosigned(
        note, keys.cosign("police-2025", NOW - 700), keys.cosign("transport")
    )
    assert judge_checkpoint(old_and_transport, policy, now=NOW).accepted
    retired = keys.cosigned(note, keys.cosign("police-2025"), keys.cosign("transport"))
    assert not judge_checkpoint(retired, policy, now=NOW).accepted  # old key past its until


@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_of_n_boundaries(keys: Keys, k: int) -> None:
    policy = parse_policy(city_policy(keys, str(k)))
    names = ["police", "transport", "district"]
    note = keys.note()
    short = keys.cosigned(note, *(keys.cosign(name) for name in names[: k - 1]))
    enough = keys.cosigned(note, *(keys.cosign(name) for name in names[:k]))
    assert not judge_checkpoint(short, policy, now=NOW).accepted
    assert judge_checkpoint(enough, policy, now=NOW).accepted


def test_quorum_none_judges_log_windows_at_the_verifiers_clock(keys: Keys) -> None:
    text = f"log {keys.log_vkey()}\nvalid {keys.log_vkey()} until {rfc3339(NOW)}\nquorum none\n"
    policy = parse_policy(text)
    assert judge_checkpoint(keys.note(), policy, now=NOW - 1).accepted
    late = judge_checkpoint(keys.note(), policy, now=NOW)
    assert not late.accepted
    assert late.log_keys_outside_validity != ()


def test_require_quorum_returns_the_verdict_when_met(keys: Keys) -> None:
    policy = parse_policy(city_policy(keys, "2"))
    note = keys.cosigned(keys.note(), keys.cosign("police", NOW - 9), keys.cosign("district"))
    verdict = require_quorum(note, policy, now=NOW)
    assert dict(verdict.cosigned) == {"police": NOW - 9, "district": NOW - 60}
    assert verdict.explain() == "quorum met (cosigned by district, police; missing: transport)"
    with pytest.raises(VerificationError):
        require_quorum(keys.note(), policy, now=NOW)


def test_signature_lines_are_what_attach_adds(keys: Keys) -> None:
    """The helpers above build notes the way the server will: cosignature lines appended."""
    note = keys.cosigned(keys.note(), keys.cosign("police"))
    assert note.count(SIGNATURE_PREFIX) == 2
    assert note.startswith(CHECKPOINT.to_text() + "\n")


def test_the_policies_in_the_docs_parse() -> None:
    """docs/witness-policy.md shows real policy files; they must stay valid."""
    doc = (Path(__file__).parents[2] / "docs" / "witness-policy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```policy\n(.*?)```", doc, flags=re.DOTALL)
    assert len(blocks) == 2
    city, rotation = (parse_policy(block) for block in blocks)
    assert city.quorum == "city" and city.groups[-1].threshold == 2
    assert [w.name for w in city.witnesses] == ["police", "transport", "haidian"]
    assert rotation.groups[0].members == ("police-2026", "police-2027")
    assert rotation.witnesses[0].window.end is not None
