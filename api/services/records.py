"""The registry's newest records, read through a one-second cache every service shares."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Generic, TypeVar

from ledger.records import RegistryRecord
from ledger.store.repository import SqlLedgerStore

CACHE_S = 1.0
K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Values remembered for ``CACHE_S`` seconds (so a change bites within a second)."""

    def __init__(self, most: int = 10_000) -> None:
        self._kept: dict[K, tuple[V, float]] = {}
        self._most = most

    def get(self, key: K, compute: Callable[[], V]) -> V:
        kept = self._kept.get(key)
        if kept is not None and time.monotonic() - kept[1] < CACHE_S:
            return kept[0]
        if len(self._kept) >= self._most:
            self._kept.clear()
        value = compute()
        self._kept[key] = (value, time.monotonic())
        return value

    def fresh(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` if ``key`` is remembered and still fresh, else ``(False, None)``."""
        kept = self._kept.get(key)
        if kept is not None and time.monotonic() - kept[1] < CACHE_S:
            return True, kept[0]
        return False, None

    def forget(self, key: K | None = None) -> None:
        """Forget ``key``, or everything."""
        if key is None:
            self._kept.clear()
        else:
            self._kept.pop(key, None)


class Records:
    """Newest version of every record, by kind; who caches what is derived from records
    subscribes (:meth:`on_change`) to forget it when a record of a kind is written."""

    def __init__(self, store: SqlLedgerStore) -> None:
        self._store = store
        self._kept: Recent[str, Mapping[str, RegistryRecord]] = Recent()
        self._listeners: list[Callable[[str], None]] = []

    def of(self, kind: str) -> Mapping[str, RegistryRecord]:
        """Every record of ``kind``, newest versions (cached for a second; read-only)."""
        return self._kept.get(kind, lambda: MappingProxyType(self._store.records(kind)))

    def on_change(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def changed(self, kind: str) -> None:
        """A record of ``kind`` was written."""
        self._kept.forget(kind)
        for listener in self._listeners:
            listener(kind)

    def orgs_in(self, districts: Iterable[str]) -> set[str]:
        wanted = set(districts)
        return {oid for oid, rec in self.of("org").items() if rec.attr("district") in wanted}

    def sites_in(self, districts: Iterable[str]) -> set[str]:
        wanted = set(districts)
        return {sid for sid, rec in self.of("site").items() if rec.attr("district") in wanted}
