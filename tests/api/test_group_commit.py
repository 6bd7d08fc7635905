"""Group commit: merged requests get exactly the outcomes of lone calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from api.group_commit import GroupCommit


class Recorder:
    """A stand-in for ``Ingestor.submit`` that records each call and is slow enough to queue."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[object]] = []
        self.inside = 0
        self.overlap = False
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def __call__(self, events: Sequence[object]) -> list[object]:
        with self._lock:
            self.inside += 1
            self.overlap |= self.inside > 1
        self.calls.append(list(events))
        time.sleep(0.02)
        with self._lock:
            self.inside -= 1
        if self.fail_on in events:
            raise RuntimeError("storage failed")
        return [f"outcome of {event}" for event in events]


def _race(commit: GroupCommit, requests: list[tuple[list[str], frozenset[str]]]) -> list[object]:
    results: list[object] = [None] * len(requests)

    def send(i: int) -> None:
        try:
            results[i] = commit.submit(*requests[i])
        except RuntimeError as exc:
            results[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
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


def test_a_failed_write_fails_every_request_it_carried_and_no_other() -> None:
    recorder = Recorder(fail_on="bad")
    commit = GroupCommit(recorder)
    requests = [(["bad"], frozenset({"x"})), *[([f"e{i}"], frozenset({f"i{i}"})) for i in range(6)]]
    results = _race(commit, requests)  # type: ignore[arg-type]
    failed_calls = [call for call in recorder.calls if "bad" in call]
    assert len(failed_calls) == 1
    for request, result in zip(requests, results, strict=True):
        if request[0][0] in failed_calls[0]:
            assert isinstance(result, RuntimeError)
        else:
            assert result == [f"outcome of {request[0][0]}"]
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
