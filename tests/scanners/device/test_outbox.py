"""The outbox on its own: signing into it, heads, order, replacement, and a real kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ledger.builder import Head
from ledger.canonical import format_hash, parse_hash
from ledger.codes import generate_code
from ledger.commitments import disclose
from ledger.envelope import open_envelope
from ledger.errors import LedgerError
from ledger.signing import Ed25519Signer
from scanners.device.home import DeviceError
from scanners.device.outbox import Author, Outbox
from scanners.device.sync import Conflict, Moved, explain, rewrite
from tests.scanners.device._events import COMMISSION, STORE_IN, use

REPO = Path(__file__).resolve().parents[3]
T0 = "2026-10-01T08:00:00Z"


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    with Outbox(tmp_path / "outbox.sqlite") as box:
        yield box


@pytest.fixture
def author() -> Author:
    return Author(Ed25519Signer.generate(), "p-chem", disclose("person", "op").commitment,
                  "2026-draft.1")  # fmt: skip


def _commissioned(outbox: Outbox, author: Author) -> str:
    code = generate_code()
    outbox.record(author, "commission", [code], COMMISSION, time=T0, site="p-chem-site")
    return code


def test_an_event_is_signed_kept_and_moves_the_head(outbox: Outbox, author: Author) -> None:
    code = _commissioned(outbox, author)
    second = outbox.record(author, "store_in", [code], STORE_IN, time="2026-10-01T08:01:00Z")
    signed = open_envelope(second.envelope)
    assert format_hash(signed.event_hash) == second.event_hash
    assert signed.body.items[0].seq == 1
    assert outbox.head(code) == Head(1, parse_hash(second.event_hash))
    assert second.state == "pending" and outbox.counts()["pending"] == 2
    assert outbox.check() == []


def test_an_unknown_head_is_refused_and_nothing_is_kept(outbox: Outbox, author: Author) -> None:
    with pytest.raises(DeviceError) as caught:
        outbox.record(author, "store_in", [generate_code()], STORE_IN, time=T0)
    assert caught.value.code == "head_unknown"
    assert outbox.events() == []


def test_an_invalid_event_is_refused_before_it_is_kept(outbox: Outbox, author: Author) -> None:
    code = _commissioned(outbox, author)
    with pytest.raises(LedgerError):
        outbox.record(author, "use", [code], {"quantity": {"value": "-1", "unit": "kg"}}, time=T0)
    assert len(outbox.events()) == 1
    assert outbox.head(code).seq == 0  # type: ignore[union-attr]


def test_a_learned_server_head_does_not_overwrite_waiting_events(
    outbox: Outbox, author: Author
) -> None:
    code = _commissioned(outbox, author)
    outbox.learn_head(code, 7, b"\x01" * 32)
    assert outbox.head(code).seq == 0  # type: ignore[union-attr]
    other = generate_code()
    outbox.learn_head(other, 3, b"\x02" * 32)
    assert outbox.head(other) == Head(3, b"\x02" * 32)
    event = outbox.record(author, "use", [other], use("1"), time=T0)
    assert event.links()[0]["seq"] == 4 and event.links()[0]["prev"] == format_hash(b"\x02" * 32)


def test_newest_finds_the_latest_event_of_a_type_for_one_item(
    outbox: Outbox, author: Author
) -> None:
    first, second = _commissioned(outbox, author), _commissioned(outbox, author)
    older = outbox.record(author, "use", [first], use("1"), time=T0)
    newer = outbox.record(author, "use", [first], use("2"), time=T0)
    other = outbox.record(author, "use", [second], use("3"), time=T0)
    assert outbox.newest(first, "use", "pending", "sent") == newer
    assert outbox.newest(second, "use", "pending") == other
    assert outbox.newest(first, "store_in", "pending", "sent") is None
    outbox.apply_outcomes([(newer.id, "rejected", {"code": "x"}, False)])
    assert outbox.newest(first, "use", "pending", "sent") == outbox.get(older.id)


def test_events_behind_a_conflict_wait_in_order(outbox: Outbox, author: Author) -> None:
    first, second = _commissioned(outbox, author), _commissioned(outbox, author)
    stuck = outbox.record(author, "store_in", [first], STORE_IN, time=T0)
    behind = outbox.record(author, "use", [first], use("2"), time=T0)
    free = outbox.record(author, "use", [second], use("2"), time=T0)
    outbox.apply_outcomes([(event.id, "sent", {"r": 1}, False) for event in outbox.events()[:2]])
    outbox.apply_outcomes([(stuck.id, "conflict", {"code": "stale_head"}, False)])
    ready, blocked = outbox.sendable()
    assert [e.id for e in ready] == [free.id]
    assert [e.id for e in blocked] == [behind.id]
    assert [e.id for e in outbox.dependents(outbox.get(stuck.id))] == [behind.id]


def test_a_rewrite_supersedes_the_chain_and_relinks_it(outbox: Outbox, author: Author) -> None:
    code = _commissioned(outbox, author)
    stuck = outbox.record(author, "store_in", [code], STORE_IN, time=T0)
    behind = outbox.record(author, "use", [code], use("2"), time="2026-10-01T09:00:00Z")
    outbox.apply_outcomes([(1, "sent", {"r": 1}, False), (stuck.id, "conflict",
                          {"code": "stale_head"}, False)])  # fmt: skip
    server_head = Head(3, b"\x07" * 32)
    moved = [Moved(code, 1, server_head, [])]
    conflict = Conflict(
        outbox.get(stuck.id), "stale_head", "", moved, [outbox.get(behind.id)], True
    )
    new_key = Ed25519Signer.generate()
    replaced = rewrite(outbox, conflict, new_key, note="rebased")
    assert [e.replaces for e in replaced] == [stuck.id, behind.id]
    first, second = (open_envelope(e.envelope).body for e in replaced)
    assert (first.items[0].seq, first.items[0].prev) == (4, format_hash(b"\x07" * 32))
    assert (second.items[0].seq, second.items[0].prev) == (5, replaced[0].event_hash)
    assert first.device_key == second.device_key == new_key.key_id
    assert second.time == "2026-10-01T09:00:00Z"  # the handoff happened when it happened
    assert outbox.get(stuck.id).state == outbox.get(behind.id).state == "superseded"
    assert outbox.get(stuck.id).replaced_by == replaced[0].id
    assert outbox.head(code) == Head(5, parse_hash(replaced[1].event_hash))
    assert outbox.check() == []


def test_a_key_conflict_is_not_resigned_with_the_same_key(outbox: Outbox, author: Author) -> None:
    code = _commissioned(outbox, author)
    outbox.apply_outcomes([(1, "conflict", {"code": "key_not_valid_at_log_time"}, False)])
    conflict = Conflict(outbox.get(1), "key", "", [], [], False)
    with pytest.raises(DeviceError) as caught:
        rewrite(outbox, conflict, author.signer, note="x")
    assert caught.value.code == "key_rotation_needed"
    assert outbox.head(code).seq == 0  # type: ignore[union-attr]


def test_only_a_conflict_or_rejection_is_explained(outbox: Outbox, author: Author) -> None:
    _commissioned(outbox, author)
    with pytest.raises(DeviceError) as caught:
        explain(outbox, None, outbox.get(1))
    assert caught.value.code == "nothing_to_resolve"
    outbox.apply_outcomes([(1, "rejected", {"code": "unknown_code", "detail": "no batch"}, False)])
    conflict = explain(outbox, None, outbox.get(1))
    assert (conflict.kind, conflict.online) == ("rejected", False)
    assert conflict.message == (
        "the log rejected event 1 (commission at 2026-10-01T08:00:00Z): unknown_code: no batch."
        " Fix the cause and retry, or discard it."
    )
    _commissioned(outbox, author)
    outbox.apply_outcomes([(2, "conflict", {"code": "key_revoked"}, False)])
    conflict = explain(outbox, None, outbox.get(2))
    assert conflict.kind == "key"
    assert conflict.message == (
        "the log refused event 2 (commission at 2026-10-01T08:00:00Z): key_revoked. Re-sign it"
        " with this device's current key (enrol a new key first if this one expired)."
    )


def test_discard_needs_a_reason_and_keeps_the_event(outbox: Outbox, author: Author) -> None:
    code = _commissioned(outbox, author)
    stuck = outbox.record(author, "store_in", [code], STORE_IN, time=T0)
    outbox.apply_outcomes([(1, "sent", {}, False), (stuck.id, "conflict", {}, False)])
    with pytest.raises(DeviceError):
        outbox.discard(outbox.get(stuck.id), "  ", {})
    outbox.discard(outbox.get(stuck.id), "the drum was never moved", {code: Head(5, b"\x03" * 32)})
    kept = outbox.get(stuck.id)
    assert kept.state == "discarded" and kept.note == "the drum was never moved"
    assert outbox.head(code) == Head(5, b"\x03" * 32)


def test_a_tampered_row_is_reported_by_check(outbox: Outbox, author: Author) -> None:
    _commissioned(outbox, author)
    raw = outbox._db  # the file as a thief with a hex editor would see it
    raw.execute("UPDATE event SET envelope = replace(envelope, '\"40\"', '\"4\"')")
    assert outbox.check() == ["event 1: stored hash does not match its envelope"]
    _commissioned(outbox, author)
    raw.execute("UPDATE event SET envelope = replace(envelope, '\"commission\"', '\"x\"')"
                " WHERE id = 2")  # fmt: skip
    problems = outbox.check()
    assert problems[0] == "event 1: stored hash does not match its envelope"
    assert len(problems) == 2 and problems[1].startswith("event 2: ")
    assert "stored hash" not in problems[1] and "'x'" in problems[1]  # refused when re-opened


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ledger.codes import generate_code
    from ledger.signing import Ed25519Signer
    from scanners.device.outbox import Author, Outbox
    from tests.scanners.device._events import COMMISSION, use
    author = Author(Ed25519Signer.generate(), "p-chem", "sha256:" + "ab" * 32, "2026-draft.1")
    box = Outbox(Path(sys.argv[1]))
    codes = []
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        if n % 5 == 1:
            codes.append(generate_code())
            box.record(author, "commission", [codes[-1]], COMMISSION, time="2026-10-01T08:00:00Z")
        else:
            box.record(author, "use", [codes[-1]], use("1"), time="2026-10-01T08:00:00Z")
    """
)


@pytest.mark.parametrize("delay_ms", [30, 90, 170, 260, 400])
def test_a_kill_during_writes_leaves_whole_events_and_true_heads(
    tmp_path: Path, delay_ms: int
) -> None:
    path = tmp_path / "outbox.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], env=env,
                              stdout=subprocess.PIPE, start_new_session=True)  # fmt: skip
    assert writer.stdout is not None and writer.stdout.readline().strip() == b"ready"
    time.sleep(delay_ms / 1000)
    os.killpg(writer.pid, signal.SIGKILL)
    writer.wait(10)
    writer.stdout.close()
    with Outbox(path) as box:
        assert box.check() == []
        events = box.events()
        assert events, "the writer wrote nothing before it was killed"
        last: dict[str, tuple[int, str]] = {}
        for event in events:
            for link in event.links():
                expected = last.get(link["code"])
                assert (link["prev"] is None) == (expected is None)
                if expected is not None:
                    assert (link["seq"], link["prev"]) == (expected[0] + 1, expected[1])
                last[link["code"]] = (link["seq"], event.event_hash)
        for code, (seq, digest) in last.items():
            assert box.head(code) == Head(seq, parse_hash(digest))
