"""Group commit: merged requests get exactly the outcomes of lone calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from api.group_commit import GroupCommit


class Recorder:
    """A stand-in for ``Ingestor.submit`` that records each call and is slow enough to queue."""

    def __init__(self, fail_on: str | None = None, gate: threading.Event | None = None) -> None:
        self.calls: list[list[object]] = []
        self.gate = gate
        self.inside = 0
        self.overlap = False
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def __call__(self, events: Sequence[object]) -> list[object]:
        with self._lock:
            self.inside += 1
            self.overlap |= self.inside > 1
        self.calls.append(list(events))
        if self.gate is not None:
            self.gate.wait()
        time.sleep(0.02)
        with self._lock:
            self.inside -= 1
        if self.fail_on in events:
            raise RuntimeError("storage failed")
        return [f"outcome of {event}" for event in events]


Requests = list[tuple[list[str], frozenset[str]]]


def _send(commit: GroupCommit, requests: Requests, results: list[object], i: int) -> None:
    try:
        results[i] = commit.submit(*requests[i])
    except RuntimeError as exc:
        results[i] = exc


def _race(commit: GroupCommit, requests: Requests) -> list[object]:
    results: list[object] = [None] * len(requests)
    threads = [threading.Thread(target=_send, args=(commit, requests, results, i))
               for i in range(len(requests))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_are_merged_and_each_gets_its_own_outcomes() -> None:
    recorder = Recorder()
    requests = [([f"e{i}a", f"e{i}b"], frozenset({f"item{i}"})) for i in range(20)]
    results = _race(GroupCommit(recorder), requests)  # type: ignore[arg-type]
    assert results == [[f"outcome of e{i}a", f"outcome of e{i}b"] for i in range(20)]
    assert len(recorder.calls) < 20  # some requests shared a write
    assert not recorder.overlap  # writes never run concurrently


def test_requests_sharing_an_item_are_never_merged() -> None:
    recorder = Recorder()
    requests = [([f"e{i}"], frozenset({"same-item"})) for i in range(8)]
    results = _race(GroupCommit(recorder), requests)  # type: ignore[arg-type]
    assert results == [[f"outcome of e{i}"] for i in range(8)]
    assert all(len(call) == 1 for call in recorder.calls)


def test_a_failed_merged_write_is_redone_alone_so_only_the_faulty_request_fails() -> None:
    gate = threading.Event()
    recorder = Recorder(fail_on="bad", gate=gate)
    commit = GroupCommit(recorder)  # type: ignore[arg-type]
    requests = [(["first"], frozenset({"f"})), (["bad"], frozenset({"x"})),
                *[([f"e{i}"], frozenset({f"i{i}"})) for i in range(6)]]  # fmt: skip
    results: list[object] = [None] * len(requests)
    threads = [threading.Thread(target=_send, args=(commit, requests, results, i))
               for i in range(len(requests))]  # fmt: skip
    threads[0].start()
    while not recorder.calls:  # "first" holds the writer: the rest queue behind it
        time.sleep(0.001)
    for thread in threads[1:]:
        thread.start()
    while len(commit._pending) < len(requests) - 1:  # all queued, so they merge
        time.sleep(0.001)
    gate.set()
    for thread in threads:
        thread.join()
    assert len(recorder.calls[1]) == len(requests) - 1  # the queued ones were merged, and failed
    assert isinstance(results[1], RuntimeError)
    assert [r for i, r in enumerate(results) if i != 1] == [
        [f"outcome of {events[0]}"] for i, (events, _) in enumerate(requests) if i != 1
    ]
    assert not recorder.overlap
    with pytest.raises(RuntimeError):
        commit.submit(["bad"], frozenset({"x"}))


def test_an_atomic_request_is_never_merged_and_is_submitted_atomic() -> None:
    calls: list[tuple[list[object], bool]] = []
    lock = threading.Lock()

    def submit(events: Sequence[object], *, atomic: bool = False) -> list[object]:
        with lock:
            calls.append((list(events), atomic))
        time.sleep(0.02)
        return [f"outcome of {event}" for event in events]

    commit = GroupCommit(submit)  # type: ignore[arg-type]
    results: list[object] = [None] * 12

    def send(i: int) -> None:
        results[i] = commit.submit([f"e{i}"], frozenset({f"item{i}"}), atomic=i % 3 == 0)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[f"outcome of e{i}"] for i in range(12)]
    atomic = [events for events, flag in calls if flag]
    assert sorted(atomic) == [[f"e{i}"] for i in (0, 3, 6, 9)]  # alone, each in its own round
    assert all(not any(e in {"e0", "e3", "e6", "e9"} for e in events)
               for events, flag in calls if not flag)  # fmt: skip
