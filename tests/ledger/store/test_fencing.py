"""The fence (ledger/store/fencing.py): which node may take writes, judged on every new
connection. Pure judgements here, and real PostgreSQL databases standing in for nodes
(the standby and kill -9 cases are in tests/api/test_failover.py, slow tier)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from ledger.store.fencing import FencedError, NodeState, judge, node_state, promote
from ledger.store.migrate import open_store

PRIMARY = NodeState("a", True, False, 2)


def test_a_primary_alone_or_ahead_of_every_other_node_may_write() -> None:
    judge(PRIMARY, [])
    judge(PRIMARY, [NodeState("b", True, True, 2)])  # its standby
    judge(PRIMARY, [NodeState("b", True, False, 1)])  # the former primary, revived
    judge(PRIMARY, [NodeState("b", False)])  # unreachable: no evidence


@pytest.mark.parametrize(
    ("primary", "peer", "says"),
    [
        (NodeState("a", True, True, 2), None, "is a standby"),
        (PRIMARY, NodeState("b", True, False, 3), "former primary"),
        (PRIMARY, NodeState("b", True, False, 2), "both primaries"),
    ],
)
def test_a_standby_a_former_primary_and_a_split_brain_are_refused(
    primary: NodeState, peer: NodeState | None, says: str
) -> None:
    with pytest.raises(FencedError, match=says):
        judge(primary, [] if peer is None else [peer])


def test_a_node_promoted_after_another_fences_it_on_every_new_connection(
    postgres_database_factory: Callable[..., str],
) -> None:
    old, new = postgres_database_factory("old"), postgres_database_factory("new")
    for url in (old, new):
        open_store(url, origin="chemtrace.test/log").engine.dispose()
    assert node_state(old).generation == node_state(new).generation == 1
    with pytest.raises(FencedError, match="both primaries"):
        open_store(old, origin="chemtrace.test/log", fence_peers=[new])

    assert promote(new, [old]) == 2
    with pytest.raises(FencedError, match="former primary"):
        open_store(old, origin="chemtrace.test/log", fence_peers=[new])
    store = open_store(new, origin="chemtrace.test/log", fence_peers=[old])
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT generation FROM fence")).scalar_one() == 2
    finally:
        store.engine.dispose()
    # a mistaken promote of the former one leaves two equal primaries: both refuse
    assert promote(old, []) == 2
    with pytest.raises(FencedError, match="both primaries"):
        open_store(new, origin="chemtrace.test/log", fence_peers=[old])
