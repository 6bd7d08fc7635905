"""Group commit: requests that arrive while a write runs share the next write.

Each append costs a transaction with a fixed number of statements and one fsync, and the
log lock serialises appends anyway. So instead of queueing on the lock one by one, waiting
requests are merged into one ``Ingestor.submit`` call. That is safe because a submit is
atomic per *connected group of items*, never across groups: merged requests that share no
item cannot affect each other's outcome. Requests that do share an item are never merged;
the later one waits for the next round, so its outcome is exactly what it would have been
alone. An atomic request (one group whatever its items) is never merged at all. A merged
write that fails as a whole (a storage error, not a rejected event) is redone request by
request, so a request fails only if it fails alone.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.append import Outcome


class Submit(Protocol):
    def __call__(self, events: Sequence[object], /, *, atomic: bool = ...) -> list[Outcome]: ...


@dataclass
class _Waiter:
    events: list[object]
    codes: frozenset[str]
    atomic: bool = False
    done: bool = False
    result: list[Outcome] | None = None
    error: BaseException | None = None


class GroupCommit:
    """Serialises calls to ``submit`` and merges the ones that queue up meanwhile."""

    def __init__(self, submit: Submit, *, max_events: int = 2000) -> None:
        self._submit, self._max = submit, max_events
        self._cond = threading.Condition()
        self._pending: list[_Waiter] = []
        self._busy = False

    def submit(
        self, events: Sequence[object], codes: frozenset[str], *, atomic: bool = False
    ) -> list[Outcome]:
        """Append ``events`` (touching ``codes``); the outcomes are those of a lone call.

        ``atomic``: all of ``events`` land or none does; such a request runs in a round alone.
        """
        me = _Waiter(list(events), codes, atomic)
        with self._cond:
            self._pending.append(me)
        while True:
            with self._cond:
                while not me.done and self._busy:
                    self._cond.wait()
                if me.done:
                    break
                self._busy = True  # this thread leads the next round
                take = self._next_round()
            self._run(take)
        if me.error is not None:
            raise me.error
        assert me.result is not None
        return me.result

    def _next_round(self) -> list[_Waiter]:
        take: list[_Waiter] = []
        keep: list[_Waiter] = []
        seen: set[str] = set()
        count = 0
        for waiter in self._pending:  # arrival order; the leader is always among them
            fits = not take or (
                count + len(waiter.events) <= self._max and not waiter.atomic and not take[0].atomic
            )
            if fits and not waiter.codes & seen:
                take.append(waiter)
                seen |= waiter.codes
                count += len(waiter.events)
            else:
                keep.append(waiter)
        self._pending = keep
        return take

    def _run(self, take: list[_Waiter]) -> None:
        try:
            events = [event for waiter in take for event in waiter.events]
            outcomes = self._submit(events, atomic=True) if take[0].atomic else self._submit(events)
            first = 0
            for waiter in take:
                waiter.result = outcomes[first : first + len(waiter.events)]
                first += len(waiter.events)
        except Exception as exc:
            if len(take) == 1:
                take[0].error = exc
            else:  # one request's fault must not fail the others: each is redone alone
                for waiter in take:
                    self._run_alone(waiter)
        except BaseException as exc:
            for waiter in take:
                waiter.error = exc
        finally:
            with self._cond:
                for waiter in take:
                    waiter.done = True
                self._busy = False
                self._cond.notify_all()

    def _run_alone(self, waiter: _Waiter) -> None:
        try:
            waiter.result = self._submit(waiter.events)
        except Exception as exc:
            waiter.error = exc
