"""``api.replicas.ReadRouter`` chooses, per read, a node that has replayed what the read
needs, and within ``one_node`` keeps to the node it chose first."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from api.replicas import ReadRouter, needing, one_node


def _node(path: Path, size: int) -> Engine:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE log_state (size INTEGER)"))
        conn.execute(text("INSERT INTO log_state VALUES (:size)"), {"size": size})
    return engine


def _grow(engine: Engine, size: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE log_state SET size = :size"), {"size": size})


def test_a_read_goes_to_the_first_replica_that_has_replayed_enough(tmp_path: Path) -> None:
    primary, behind, ahead = (_node(tmp_path / f"{n}.db", s)
                              for n, s in (("p", 10), ("a", 3), ("b", 8)))  # fmt: skip
    router = ReadRouter.of(primary, [behind, ahead])
    assert router.choose() is behind
    with needing(5):
        assert router.choose() is ahead
    with needing(9):
        assert router.choose() is primary


def test_within_one_node_every_read_keeps_to_the_node_chosen_first(tmp_path: Path) -> None:
    primary, lagging, other = (_node(tmp_path / f"{n}.db", s)
                               for n, s in (("p", 10), ("a", 4), ("b", 2)))  # fmt: skip
    router = ReadRouter.of(primary, [lagging, other])
    with one_node():
        chosen = router.choose()
        assert chosen is lagging
        lagging.dispose()
        (tmp_path / "a.db").unlink()  # now unreachable: a fresh choice would move on
        for replica in router.replicas:
            replica.checked = float("-inf")
        assert router.choose() is chosen
        with needing(3):  # what the first read saw is what the rest must see
            assert router.choose() is chosen
    assert router.choose() is other
    _grow(other, 12)
    router.replicas[1].checked = float("-inf")  # sizes are cached for 0.1 s
    with one_node(), needing(11):
        assert router.choose() is other
