"""A finding: one rule broken by one set of ledger facts. Pure.

A finding's id is a hash of its rule and subject key, so evaluating the same facts twice
(a replayed stream message, a batch rescan, a restarted worker) yields the same id and
a store that inserts only new ids never duplicates one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, get_args

from ledger.canonical import JsonValue

Severity: TypeAlias = Literal["low", "medium", "high", "critical"]
SEVERITIES: Final = get_args(Severity)


@dataclass(frozen=True, slots=True)
class Finding:
    """What was found, where, about whom, and the events that show it."""

    rule: str
    key: str
    severity: Severity
    at: str
    message: str
    evidence: tuple[str, ...]
    org: str | None = None
    site: str | None = None
    district: str | None = None
    chemical: str | None = None
    item: str | None = None
    supersedes: tuple[str, ...] = ()
    """Ids of findings this one replaces (a deadline breach a late-synced event explains):
    the store moves each to ``superseded`` through a workflow transition, never deletes it."""

    @property
    def id(self) -> str:
        """Stable across runs (:func:`finding_id`)."""
        return finding_id(self.rule, self.key)

    def to_json(self) -> dict[str, JsonValue]:
        raw: dict[str, JsonValue] = {
            "id": self.id, "rule": self.rule, "key": self.key, "severity": self.severity,
            "at": self.at, "message": self.message, "evidence": list(self.evidence),
            "org": self.org, "site": self.site, "district": self.district,
            "chemical": self.chemical, "item": self.item,
        }  # fmt: skip
        if self.supersedes:
            raw["supersedes"] = list(self.supersedes)
        return raw

    @classmethod
    def from_json(cls, raw: dict[str, JsonValue]) -> Finding:
        evidence = raw["evidence"]
        assert isinstance(evidence, list)
        return cls(
            rule=str(raw["rule"]), key=str(raw["key"]),
            severity=_severity(raw["severity"]), at=str(raw["at"]),
            message=str(raw["message"]), evidence=tuple(str(e) for e in evidence),
            supersedes=tuple(str(s) for s in _list(raw.get("supersedes"))),
            **{name: _optional(raw.get(name)) for name in _WHERE},
        )  # fmt: skip


_WHERE: Final = ("org", "site", "district", "chemical", "item")


def _optional(value: JsonValue) -> str | None:
    return None if value is None else str(value)


def _list(value: JsonValue) -> list[JsonValue]:
    return value if isinstance(value, list) else []


def _severity(value: JsonValue) -> Severity:
    match value:
        case "low" | "medium" | "high" | "critical":
            return value
    raise ValueError(f"unknown severity {value!r}")


def finding_id(rule: str, key: str) -> str:
    """``f-`` and 32 hex digits of SHA-256(rule, key): the same finding in every run."""
    digest = hashlib.sha256(f"{rule}\x00{key}".encode()).hexdigest()
    return f"f-{digest[:32]}"
