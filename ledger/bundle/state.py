"""What an offline verifier remembers between bundles: the largest checkpoint it accepted.

The state is kept per log (origin). For each log it holds the largest verified
checkpoint (size and root), the ``created_at`` of the bundle that showed it, when
it was verified, and a short history of earlier checkpoints (size and root) so
that an older bundle can still be caught contradicting one of them. The caller
stores it (``to_json`` / ``from_json``); this module performs no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

from ledger.canonical import JsonValue, b64decode, b64encode
from ledger.errors import InvalidInputError
from ledger.merkle import HASH_SIZE
from ledger.timefmt import parse_utc

STATE_FORMAT: Final = "chemtrace-verifier-state/v1"
HISTORY_LIMIT: Final = 64
"""Earlier checkpoints remembered per log, besides the largest."""


@dataclass(frozen=True, slots=True)
class SeenCheckpoint:
    """A checkpoint the verifier accepted earlier."""

    size: int
    root_hash: bytes


@dataclass(frozen=True, slots=True)
class LogView:
    """The verifier's view of one log: the largest checkpoint it accepted, and a few older ones."""

    origin: str
    size: int
    root_hash: bytes
    as_of: str
    """``created_at`` of the bundle that showed this checkpoint (the bundle's own time)."""
    verified_at: str
    """When this verifier accepted it (its own clock)."""
    history: tuple[SeenCheckpoint, ...] = ()
    """Earlier accepted checkpoints, oldest first, at most :data:`HISTORY_LIMIT`."""

    def root_at(self, size: int) -> bytes | None:
        """The root of an accepted checkpoint of ``size``, if remembered."""
        if size == self.size:
            return self.root_hash
        for seen in self.history:
            if seen.size == size:
                return seen.root_hash
        return None

    def advanced_to(self, size: int, root_hash: bytes, as_of: str, verified_at: str) -> LogView:
        """This view moved forward to a larger, consistent checkpoint."""
        history = (*self.history, SeenCheckpoint(self.size, self.root_hash))[-HISTORY_LIMIT:]
        return replace(
            self,
            size=size,
            root_hash=root_hash,
            as_of=as_of,
            verified_at=verified_at,
            history=history,
        )


@dataclass(frozen=True, slots=True)
class VerifierState:
    """Everything an offline verifier keeps between runs: one :class:`LogView` per origin."""

    logs: tuple[LogView, ...] = ()

    def view(self, origin: str) -> LogView | None:
        """The view of the log called ``origin``, if any bundle of it was accepted."""
        return next((log for log in self.logs if log.origin == origin), None)

    def with_view(self, view: LogView) -> VerifierState:
        """This state with ``view`` replacing the view of the same origin."""
        others = tuple(log for log in self.logs if log.origin != view.origin)
        return VerifierState(tuple(sorted((*others, view), key=lambda log: log.origin)))

    def to_json(self) -> dict[str, JsonValue]:
        """The state as JSON (to be saved by the caller)."""
        return {
            "format": STATE_FORMAT,
            "logs": [
                {
                    "origin": log.origin,
                    "size": log.size,
                    "root": b64encode(log.root_hash),
                    "as_of": log.as_of,
                    "verified_at": log.verified_at,
                    "history": [
                        {"size": seen.size, "root": b64encode(seen.root_hash)}
                        for seen in log.history
                    ],
                }
                for log in self.logs
            ],
        }

    @classmethod
    def from_json(cls, data: object) -> VerifierState:
        """Parse :meth:`to_json` output strictly.

        Raises:
            InvalidInputError: the JSON is not a verifier state.
        """
        if not isinstance(data, Mapping) or set(data) != {"format", "logs"}:
            raise InvalidInputError("a verifier state has exactly 'format' and 'logs'")
        if data["format"] != STATE_FORMAT:
            raise InvalidInputError("unknown verifier state format", format=str(data["format"]))
        logs = data["logs"]
        if not isinstance(logs, list):
            raise InvalidInputError("verifier state 'logs' must be a list")
        views = tuple(_view_from_json(raw) for raw in logs)
        if len({view.origin for view in views}) != len(views):
            raise InvalidInputError("verifier state lists a log twice")
        return cls(tuple(sorted(views, key=lambda log: log.origin)))


def _view_from_json(raw: object) -> LogView:
    keys = {"origin", "size", "root", "as_of", "verified_at", "history"}
    if not isinstance(raw, Mapping) or set(raw) != keys:
        raise InvalidInputError("a verifier state log has the wrong fields")
    origin, as_of, verified_at = raw["origin"], raw["as_of"], raw["verified_at"]
    if not all(isinstance(value, str) for value in (origin, as_of, verified_at)):
        raise InvalidInputError("verifier state origin and times must be strings")
    parse_utc(as_of)
    parse_utc(verified_at)
    history = raw["history"]
    if not isinstance(history, list) or len(history) > HISTORY_LIMIT:
        raise InvalidInputError("verifier state history must be a short list")
    seen = tuple(_seen_from_json(entry) for entry in history)
    current = _seen_from_json({"size": raw["size"], "root": raw["root"]})
    if any(entry.size >= current.size for entry in seen):
        raise InvalidInputError("verifier state history must be smaller than its checkpoint")
    return LogView(str(origin), current.size, current.root_hash, as_of, verified_at, seen)


def _seen_from_json(raw: object) -> SeenCheckpoint:
    if not isinstance(raw, Mapping) or set(raw) != {"size", "root"}:
        raise InvalidInputError("a remembered checkpoint has exactly 'size' and 'root'")
    size, root = raw["size"], raw["root"]
    if type(size) is not int or size < 1 or not isinstance(root, str):
        raise InvalidInputError("a remembered checkpoint needs a positive size and a root")
    root_hash = b64decode(root)
    if len(root_hash) != HASH_SIZE:
        raise InvalidInputError("a remembered root must be 32 bytes")
    return SeenCheckpoint(size, root_hash)
