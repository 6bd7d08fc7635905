"""An engine-state snapshot: the engine's running state at one log position, sealed. Pure.

A restarted findings worker loads the newest snapshot it wrote and replays only the entries
logged after it, instead of the whole ledger. A snapshot decides which findings are ever
raised (its ``emitted`` set and armed deadlines), so a forged or stale one could suppress
findings: it is trusted only when

- its HMAC-SHA256, under a key only the worker's deployment holds, is valid (checked
  *before* anything is unpickled: :func:`open_sealed`);
- its format is this code's :data:`FORMAT`;
- it was made under the same rules configuration and catalogs (:func:`rules_digest`,
  :func:`catalog_digest`); and
- the ledger still holds, at its position, the Merkle leaf and tree root it was bound to
  (the caller reads those from the store: this module does no I/O).

The state is pickled (the engine's state is a graph of dataclasses, sets, heaps and
decimals; a hand-written codec for it would have to change with every new rule). Shared,
immutable inputs (the rules configuration, the chemistry and its pint-built units) are not
written: they are references, bound again to the restoring engine's own. Unpickling is also
restricted to the state's own types, in case a key ever leaks.

:func:`canonical_state` is a deterministic rendering of the same state (sets sorted, the
timer heap sorted), so a snapshot can be compared byte for byte with a full replay made in
another process (another hash seed): the periodic rescan check.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import pickle
import struct
from array import array
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel

from ledger.catalog import CatalogRegistry
from ledger.rules.config import RulesConfig

if TYPE_CHECKING:
    from ledger.rules.engine import Engine

FORMAT: Final = "chemtrace.engine-snapshot/1"
"""Bump whenever the engine's state changes shape: an older snapshot is then refused."""
MAGIC: Final = b"CTSNAP1\n"
MAC_SIZE: Final = 32
_HEADER_LEN = struct.Struct(">I")
_SHARED: Final = ("config",)
"""Engine attributes not written: they come from the restoring engine."""


class SnapshotRefusedError(Exception):
    """A snapshot that must not be trusted; ``reason`` is a stable code for the log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Binding:
    """What a snapshot is bound to (its authenticated header)."""

    position: int
    """The log index of the last entry the state has judged."""
    leaf_hash: str
    """Hex RFC 9162 leaf hash of the entry at ``position``."""
    root: str
    """Hex Merkle root of the log of size ``position + 1``."""
    clock: str
    """The engine's clock (RFC 3339), deadlines due before it have fired."""
    journal_at: str
    """The security journal has been judged up to here."""
    rules_hash: str
    catalog_hash: str
    format: str = FORMAT

    def to_json(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Binding:
        names = {f.name for f in dataclasses.fields(cls)}
        if set(data) != names:
            raise SnapshotRefusedError("bad_header", f"fields {sorted(data)}")
        return cls(**{name: data[name] for name in names})


# -- sealing -------------------------------------------------------------------------------


def seal(engine: Engine, binding: Binding, key: bytes) -> bytes:
    """The snapshot file's bytes: magic, header length, header JSON, state, HMAC."""
    if binding.position != engine.position:
        raise ValueError(f"binding at {binding.position}, engine at {engine.position}")
    header = json.dumps(binding.to_json(), sort_keys=True, separators=(",", ":")).encode()
    body = MAGIC + _HEADER_LEN.pack(len(header)) + header + _dump_state(engine)
    return body + hmac.new(key, body, hashlib.sha256).digest()


def open_sealed(data: bytes, key: bytes) -> tuple[Binding, bytes]:
    """Check the MAC and format, then return the binding and the (still pickled) state."""
    if len(data) < len(MAGIC) + _HEADER_LEN.size + MAC_SIZE or not data.startswith(MAGIC):
        raise SnapshotRefusedError("not_a_snapshot")
    body, mac = data[:-MAC_SIZE], data[-MAC_SIZE:]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        raise SnapshotRefusedError("bad_mac", "not written under this deployment's snapshot key")
    start = len(MAGIC) + _HEADER_LEN.size
    (length,) = _HEADER_LEN.unpack_from(body, len(MAGIC))
    try:
        binding = Binding.from_json(json.loads(body[start : start + length]))
    except (ValueError, TypeError) as exc:
        raise SnapshotRefusedError("bad_header", str(exc)) from exc
    if binding.format != FORMAT:
        raise SnapshotRefusedError("format", f"{binding.format!r}, this code reads {FORMAT!r}")
    return binding, body[start + length :]


def check_inputs(binding: Binding, engine: Engine) -> None:
    """Refuse a snapshot made under other rules or catalogs than ``engine``'s."""
    if binding.rules_hash != rules_digest(engine.config):
        raise SnapshotRefusedError("rules_changed", engine.config.version)
    if binding.catalog_hash != catalog_digest(engine.state.chemistry.catalogs):
        raise SnapshotRefusedError("catalogs_changed")


def restore(engine: Engine, state: bytes) -> None:
    """Replace a fresh ``engine``'s running state by an opened snapshot's."""
    loaded = _Unpickler(_Reader(state), _shared(engine)).load()
    if not isinstance(loaded, dict) or set(loaded) != set(vars(engine)) - set(_SHARED):
        raise SnapshotRefusedError("format", "the engine's fields differ")
    vars(engine).update(loaded)


def _dump_state(engine: Engine) -> bytes:
    out = _Writer()
    fields = {name: value for name, value in vars(engine).items() if name not in _SHARED}
    _Pickler(out, _shared(engine)).dump(fields)
    return b"".join(out.parts)


class _Writer:
    """An in-memory sink for the pickler (this module does no I/O, not even ``io``)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._bytes, self._data, self._at = data, memoryview(data), 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        chunk = self._data[self._at : end].tobytes()
        self._at += len(chunk)
        return chunk

    def readline(self) -> bytes:
        end = self._bytes.find(b"\n", self._at)
        return self.read(-1 if end < 0 else end + 1 - self._at)


def _shared(engine: Engine) -> dict[str, object]:
    chemistry = engine.state.chemistry
    return {"config": engine.config, "chemistry": chemistry, "units": chemistry.units,
            "kilograms": engine.state.projection.kilograms}  # fmt: skip


class _Pickler(pickle.Pickler):
    def __init__(self, out: _Writer, shared: dict[str, object]) -> None:
        super().__init__(out, protocol=pickle.HIGHEST_PROTOCOL)
        self._refs = {id(value): name for name, value in shared.items()}

    def persistent_id(self, obj: Any) -> str | None:
        return self._refs.get(id(obj))


_ALLOWED: Final = {
    "builtins": frozenset({"set", "frozenset", "dict", "list", "tuple"}),
    "collections": frozenset({"defaultdict", "Counter", "OrderedDict", "deque"}),
    "array": frozenset({"array", "_array_reconstructor"}),  # a key's log times (KeyLog)
    "decimal": frozenset({"Decimal"}),
    "datetime": frozenset({"datetime", "date", "timedelta", "timezone"}),
    "copyreg": frozenset({"_reconstructor"}),
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: _Reader, shared: dict[str, object]) -> None:
        super().__init__(data)
        self._shared = shared

    def persistent_load(self, pid: Any) -> object:
        if pid not in self._shared:
            raise SnapshotRefusedError("format", f"unknown reference {pid!r}")
        return self._shared[pid]

    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        if module.startswith("ledger.") and "." not in name:
            found = super().find_class(module, name)
            # a class of the ledger's own, not anything its modules happen to import
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise SnapshotRefusedError("format", f"type {module}.{name} is not engine state")


# -- digests and the canonical form -----------------------------------------------------------


def rules_digest(config: RulesConfig) -> str:
    """SHA-256 of the rules configuration's canonical form (every parameter, not the version)."""
    return hashlib.sha256(canonical(config)).hexdigest()


def catalog_digest(catalogs: CatalogRegistry) -> str:
    """SHA-256 of every loaded catalog version's canonical form, in registry order."""
    return hashlib.sha256(canonical(tuple(catalogs))).hexdigest()


def canonical_state(engine: Engine) -> bytes:
    """The engine's running state, rendered deterministically (for byte comparison)."""
    fields = {name: value for name, value in vars(engine).items() if name not in _SHARED}
    timers = engine.state.timers
    return canonical(fields, shared=_shared(engine), heaps=(timers,))


def canonical(
    value: object, *, shared: Mapping[str, object] | None = None, heaps: Iterable[object] = ()
) -> bytes:
    """A deterministic JSON rendering of a state graph (sets sorted, types tagged)."""
    walker = _Canon({id(v): k for k, v in (shared or {}).items()}, {id(h) for h in heaps})
    return json.dumps(walker.walk(value), ensure_ascii=False, separators=(",", ":")).encode()


class _Canon:
    def __init__(self, refs: dict[int, str], heaps: set[int]) -> None:
        self._refs, self._heaps = refs, heaps

    def walk(self, value: object) -> object:
        if id(value) in self._refs:
            return ["ref", self._refs[id(value)]]
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return ["f", repr(value)]
        if isinstance(value, Decimal):
            return ["d", str(value)]
        if isinstance(value, (datetime, date)):
            return ["dt", value.isoformat()]
        if isinstance(value, bytes):
            return ["b", value.hex()]
        if isinstance(value, BaseModel):
            names = type(value).model_fields
            return ["m", type(value).__qualname__, [[n, self.walk(getattr(value, n))]
                                                    for n in names]]  # fmt: skip
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return ["o", type(value).__qualname__,
                    [[f.name, self.walk(getattr(value, f.name))]
                     for f in dataclasses.fields(value)]]  # fmt: skip
        if isinstance(value, Mapping):
            pairs = [[self.walk(k), self.walk(v)] for k, v in value.items()]
            return ["map", sorted(pairs, key=_order)]
        if isinstance(value, (set, frozenset)):
            return ["set", sorted((self.walk(v) for v in value), key=_order)]
        if isinstance(value, array):
            return ["a", value.typecode, [self.walk(v) for v in value]]
        if isinstance(value, deque):
            return ["q", [self.walk(v) for v in value]]
        if isinstance(value, (list, tuple)):
            items = [self.walk(v) for v in value]
            if id(value) in self._heaps:
                items.sort(key=_order)
            return ["t" if isinstance(value, tuple) else "l", items]
        owner = getattr(value, "__self__", None)
        if callable(value) and id(owner) in self._refs:
            return ["call", self._refs[id(owner)], getattr(value, "__name__", "?")]
        raise TypeError(f"no canonical form for {type(value).__qualname__}")


def _order(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
