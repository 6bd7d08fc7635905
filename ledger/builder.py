"""Building signed events the way a device does: track heads, link, sign.

Used by the demo seeder, tests, the client SDK and scanners, so every writer
builds bodies one way. Pure. A session moves its view of each item's head as soon as it signs, so a
batch may hold several steps of one chain; sessions of different devices can
share one ``heads`` dict to model handoffs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.canonical import JsonValue, canonical_bytes, format_hash
from ledger.envelope import event_hash_of, sign_body
from ledger.events import EventBody, parse_body
from ledger.signing import Signer


@dataclass(frozen=True, slots=True)
class Head:
    """What a device knows of an item's chain head."""

    seq: int
    head_hash: bytes


@dataclass(slots=True)
class DeviceSession:
    """A device signing events for one organisation."""

    signer: Signer
    org: str
    actor: str
    catalog_version: str
    heads: dict[str, Head] = field(default_factory=dict)

    def event(
        self,
        event_type: str,
        items: Sequence[str | tuple[str, str]],
        data: Mapping[str, JsonValue],
        *,
        time: str,
        site: str | None = None,
        geo: Mapping[str, str] | None = None,
        co_actor: str | None = None,
        check: Callable[[EventBody], None] | None = None,
    ) -> dict[str, JsonValue]:
        """Return a signed envelope linking each item to its known head.

        ``items`` are codes, or ``(code, role)`` pairs for multi-role events.
        Items this session has never seen start a new chain (seq 0). ``check``, when given,
        judges the strictly parsed body before anything is signed (and may raise).
        """
        links: list[JsonValue] = []
        for item in items:
            code, role = (item, "subject") if isinstance(item, str) else item
            head = self.heads.get(code)
            links.append(
                {
                    "code": code,
                    "role": role,
                    "seq": 0 if head is None else head.seq + 1,
                    "prev": None if head is None else format_hash(head.head_hash),
                }
            )
        # The oldest body version that carries these fields (v2: a ship's planned route),
        # so a body that needs nothing new stays readable by v1 verifiers.
        version = 2 if event_type == "ship" and "route" in data else 1
        body: dict[str, JsonValue] = {
            "v": version,
            "type": event_type,
            "time": time,
            "org": self.org,
            "device_key": self.signer.key_id,
            "actor": self.actor,
            "items": links,
            "catalog_version": self.catalog_version,
            "data": dict(data),
        }
        optional: dict[str, JsonValue] = {"site": site, "co_actor": co_actor}
        if geo is not None:
            optional["geo"] = dict(geo)
        body.update({key: value for key, value in optional.items() if value is not None})
        if check is not None:
            check(parse_body(body))
        envelope = sign_body(body, self.signer)
        digest = event_hash_of(canonical_bytes(envelope))
        for link in links:
            assert isinstance(link, dict)
            self.heads[str(link["code"])] = Head(int(str(link["seq"])), digest)
        return envelope

    def learn(self, code: str, seq: int, head_hash: bytes) -> None:
        """Adopt another device's head for ``code`` (after a handoff)."""
        self.heads[code] = Head(seq, head_hash)
