"""Cut a site bundle into one small bundle per item, so that a scan verifies only its item.

A site bundle of 50 items holds about a thousand events: parsing and checking all of
it on every scan would blow the 50 ms scan-to-verdict budget. An item's sub-bundle is
itself a complete ``chemtrace-bundle/v1`` document: the same checkpoint, consistency
proof, ``created_at`` and subject (the site), the item's entry (label, chain, head
statement), its chain's events, and the certificates and revocations of the keys that
signed those events up to the root. It is sound on its own because every entry carries
its own inclusion proof against the shared checkpoint and the head statement is signed
at that checkpoint: :func:`ledger.bundle.verify_bundle` checks it exactly like the whole
site bundle, just for one item. Nothing is added or changed, only left out.

This is pure JSON manipulation on a bundle that already verified; a cut bundle that
was tampered with on disk later is caught when the scan verifies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Bundle = Mapping[str, Any]


class _Index:
    """A site bundle's entries, looked up by log index and by key id."""

    def __init__(self, bundle: Bundle) -> None:
        self.events = {entry["index"]: entry for entry in bundle["events"]}
        self.certificates: dict[str, list[Mapping[str, Any]]] = {}
        for entry in bundle["certificates"]:
            key_id = entry["certificate"]["cert"]["subject"]["key_id"]
            self.certificates.setdefault(key_id, []).append(entry)
        self.revocations: dict[str, list[Mapping[str, Any]]] = {}
        for entry in bundle["revocations"]:
            self.revocations.setdefault(entry["revocation"]["revocation"]["key_id"], []).append(
                entry
            )

    def keys_up_to_root(self, device_keys: Iterable[str]) -> tuple[list[Any], list[Any]]:
        """The certificates of ``device_keys`` and of their issuers, and their revocations."""
        wanted = set(device_keys)
        seen: set[str] = set()
        certificates: list[Any] = []
        while wanted - seen:
            key_id = min(wanted - seen)
            seen.add(key_id)
            for entry in self.certificates.get(key_id, ()):
                certificates.append(entry)
                wanted.add(entry["certificate"]["cert"]["issuer"])
        revocations = [
            entry for key_id in sorted(seen) for entry in self.revocations.get(key_id, ())
        ]
        return _by_index(certificates), _by_index(revocations)


def _by_index(entries: Iterable[Mapping[str, Any]]) -> list[Any]:
    unique = {entry["index"]: entry for entry in entries}
    return [unique[index] for index in sorted(unique)]


def split_bundle(bundle: Bundle) -> dict[str, dict[str, Any]]:
    """One sub-bundle per item of a verified bundle, keyed by trace code."""
    index = _Index(bundle)
    return {item["code"]: _cut(bundle, index, item) for item in bundle["items"]}


def _cut(bundle: Bundle, index: _Index, item: Mapping[str, Any]) -> dict[str, Any]:
    events = _by_index(index.events[position] for position in item["chain"])
    signers = {entry["envelope"]["body"]["device_key"] for entry in events}
    certificates, revocations = index.keys_up_to_root(signers)
    return {
        "format": bundle["format"],
        "origin": bundle["origin"],
        "created_at": bundle["created_at"],
        "subject": bundle["subject"],
        "checkpoint": bundle["checkpoint"],
        "consistency": bundle["consistency"],
        "certificates": certificates,
        "revocations": revocations,
        "events": events,
        "items": [item],
    }
