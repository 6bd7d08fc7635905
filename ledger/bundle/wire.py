"""The bundle's JSON: strict structural parsing (verifier side) and assembly (builder side).

Parsing checks only the shape and JSON types and decodes base64 and hashes;
what the parts *mean* (signatures, proofs, chains) is judged in
:mod:`ledger.bundle.verifier`, so that each fault names the part at fault.
See :mod:`ledger.bundle` for the format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from ledger.canonical import JsonValue, b64decode, b64encode, format_hash, parse_hash
from ledger.errors import InvalidInputError
from ledger.statements import ItemHeadStatement

BUNDLE_FORMAT: Final = "chemtrace-bundle/v1"
SubjectKind = Literal["item", "site"]
_TOP_KEYS: Final = frozenset(
    {
        "format",
        "origin",
        "created_at",
        "subject",
        "checkpoint",
        "consistency",
        "certificates",
        "revocations",
        "events",
        "items",
    }
)
_ENTRY_KEYS: Final = frozenset({"index", "log_time", "hash", "inclusion"})
_ITEM_KEYS: Final = frozenset({"code", "label", "chain", "head"})
_HEAD_KEYS: Final = frozenset(
    {"checkpoint_size", "head", "item", "origin", "root", "seq", "signature"}
)
MAX_INDEX: Final = 2**63 - 1


class BundleFormatError(InvalidInputError):
    """The JSON is not shaped like a chemtrace bundle."""

    code = "bundle_malformed"


# -- parsed form ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WireEntry:
    """A log entry as the bundle carries it: what it is, where it sits, and its proof."""

    index: int
    log_time: str
    entry_hash: bytes
    body: Mapping[str, Any]
    inclusion: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class WireItem:
    """One bundled item: its label record, its chain (log indices by seq) and its head statement."""

    code: str
    label: Mapping[str, Any] | None
    chain: tuple[int, ...]
    head: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class WireBundle:
    """A structurally valid bundle."""

    origin: str
    created_at: str
    subject_kind: SubjectKind
    subject: str
    checkpoint: str
    consistency: tuple[int, tuple[bytes, ...]] | None
    certificates: tuple[WireEntry, ...]
    revocations: tuple[WireEntry, ...]
    events: tuple[WireEntry, ...]
    items: tuple[WireItem, ...]
    captures: tuple[WireEntry, ...] = ()
    """The signed-capture entries the bundle's derived events cite (absent: none)."""


def _fail(message: str, where: str) -> BundleFormatError:
    return BundleFormatError(f"{where}: {message}", where=where)


def _object(value: object, where: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail("must be an object", where)
    if set(value) != keys:
        missing = sorted(keys - set(value))
        extra = sorted(set(value) - keys)
        raise _fail(f"wrong fields (missing {missing}, unexpected {extra})", where)
    return value


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail("must be a non-empty string", where)
    return value


def _integer(value: object, where: str, minimum: int = 0) -> int:
    if type(value) is not int or not minimum <= value <= MAX_INDEX:
        raise _fail(f"must be an integer >= {minimum}", where)
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail("must be a list", where)
    return value


def _hashes(value: object, where: str) -> tuple[bytes, ...]:
    hashes = []
    for position, element in enumerate(_list(value, where)):
        try:
            hashes.append(b64decode(_string(element, f"{where}[{position}]")))
        except InvalidInputError as exc:
            raise _fail("must be base64 hashes", f"{where}[{position}]") from exc
    return tuple(hashes)


def _entry(value: object, where: str, body_key: str) -> WireEntry:
    raw = _object(value, where, _ENTRY_KEYS | {body_key})
    body = raw[body_key]
    if not isinstance(body, Mapping):
        raise _fail("must be an object", f"{where}.{body_key}")
    try:
        entry_hash = parse_hash(_string(raw["hash"], f"{where}.hash"))
    except BundleFormatError:
        raise
    except InvalidInputError as exc:
        raise _fail("must be 'sha256:' and 64 hex digits", f"{where}.hash") from exc
    return WireEntry(
        index=_integer(raw["index"], f"{where}.index"),
        log_time=_string(raw["log_time"], f"{where}.log_time"),
        entry_hash=entry_hash,
        body=body,
        inclusion=_hashes(raw["inclusion"], f"{where}.inclusion"),
    )


def _item(value: object, where: str) -> WireItem:
    raw = _object(value, where, _ITEM_KEYS)
    label = raw["label"]
    if label is not None and not isinstance(label, Mapping):
        raise _fail("must be an object or null", f"{where}.label")
    head = raw["head"]
    if not isinstance(head, Mapping):
        raise _fail("must be an object", f"{where}.head")
    chain = tuple(
        _integer(index, f"{where}.chain[{position}]")
        for position, index in enumerate(_list(raw["chain"], f"{where}.chain"))
    )
    if not chain:
        raise _fail("an item needs at least one event", f"{where}.chain")
    return WireItem(_string(raw["code"], f"{where}.code"), label, chain, head)


def parse_bundle(data: object) -> WireBundle:
    """Check a bundle's shape and JSON types.

    Raises:
        BundleFormatError: naming the first field at fault.
    """
    if not isinstance(data, Mapping):
        raise _fail("a bundle must be a JSON object", "$")
    if data.get("format") != BUNDLE_FORMAT:
        raise _fail(f"unknown format (expected {BUNDLE_FORMAT!r})", "format")
    raw = _object(data, "$", _TOP_KEYS | ({"captures"} & set(data)))
    subject = _object(raw["subject"], "subject", frozenset({"kind", "id"}))
    kind = subject["kind"]
    if kind not in ("item", "site"):
        raise _fail("must be 'item' or 'site'", "subject.kind")
    consistency = raw["consistency"]
    parsed_consistency = None
    if consistency is not None:
        proof = _object(consistency, "consistency", frozenset({"from_size", "proof"}))
        parsed_consistency = (
            _integer(proof["from_size"], "consistency.from_size", minimum=1),
            _hashes(proof["proof"], "consistency.proof"),
        )
    return WireBundle(
        origin=_string(raw["origin"], "origin"),
        created_at=_string(raw["created_at"], "created_at"),
        subject_kind=kind,
        subject=_string(subject["id"], "subject.id"),
        checkpoint=_string(raw["checkpoint"], "checkpoint"),
        consistency=parsed_consistency,
        certificates=tuple(
            _entry(entry, f"certificates[{n}]", "certificate")
            for n, entry in enumerate(_list(raw["certificates"], "certificates"))
        ),
        revocations=tuple(
            _entry(entry, f"revocations[{n}]", "revocation")
            for n, entry in enumerate(_list(raw["revocations"], "revocations"))
        ),
        events=tuple(
            _entry(entry, f"events[{n}]", "envelope")
            for n, entry in enumerate(_list(raw["events"], "events"))
        ),
        items=tuple(
            _item(item, f"items[{n}]") for n, item in enumerate(_list(raw["items"], "items"))
        ),
        captures=tuple(
            _entry(entry, f"captures[{n}]", "capture")
            for n, entry in enumerate(_list(raw.get("captures", []), "captures"))
        ),
    )


def head_from_json(raw: Mapping[str, Any]) -> ItemHeadStatement:
    """Parse an item-head statement as :meth:`ItemHeadStatement.to_json` writes it.

    Raises:
        BundleFormatError: the statement is malformed.
    """
    where = "head"
    fields = _object(raw, where, _HEAD_KEYS)
    try:
        root = b64decode(_string(fields["root"], "head.root"))
        head_hash = parse_hash(_string(fields["head"], "head.head"))
        signature = b64decode(_string(fields["signature"], "head.signature"))
    except BundleFormatError:
        raise
    except InvalidInputError as exc:
        raise _fail(f"malformed hash or base64 ({exc.message})", where) from exc
    return ItemHeadStatement(
        origin=_string(fields["origin"], "head.origin"),
        checkpoint_size=_integer(fields["checkpoint_size"], "head.checkpoint_size"),
        root_hash=root,
        item=_string(fields["item"], "head.item"),
        seq=_integer(fields["seq"], "head.seq"),
        head_hash=head_hash,
        signature=signature,
    )


# -- assembly (builder side) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """A log entry to bundle: index, log time, entry hash, JSON body and inclusion proof."""

    index: int
    log_time: str
    entry_hash: bytes
    body: Mapping[str, JsonValue]
    inclusion: Sequence[bytes]

    def to_json(self, body_key: str) -> dict[str, JsonValue]:
        """The entry as bundle JSON, its body under ``body_key``."""
        return {
            "index": self.index,
            "log_time": self.log_time,
            "hash": format_hash(self.entry_hash),
            body_key: self.body,
            "inclusion": [b64encode(node) for node in self.inclusion],
        }


@dataclass(frozen=True, slots=True)
class BundledItem:
    """An item to bundle: its code, its chain as log indices by seq, its head statement, label."""

    code: str
    chain: Sequence[int]
    head: ItemHeadStatement
    label: Mapping[str, JsonValue] | None = None

    def to_json(self) -> dict[str, JsonValue]:
        """The item as bundle JSON."""
        return {
            "code": self.code,
            "label": self.label,
            "chain": list(self.chain),
            "head": self.head.to_json(),
        }


def assemble_bundle(
    *,
    origin: str,
    created_at: str,
    subject: tuple[SubjectKind, str],
    checkpoint: str,
    events: Sequence[LoggedEntry],
    certificates: Sequence[LoggedEntry],
    revocations: Sequence[LoggedEntry],
    items: Sequence[BundledItem],
    consistency: tuple[int, Sequence[bytes]] | None = None,
    captures: Sequence[LoggedEntry] = (),
) -> dict[str, JsonValue]:
    """Return the bundle JSON; entries are written once each, in log order. ``captures``
    (the signed-capture entries derived events cite) appear only when there are some, so a
    bundle without derived events keeps the original layout."""
    bundle: dict[str, JsonValue] = {
        "format": BUNDLE_FORMAT,
        "origin": origin,
        "created_at": created_at,
        "subject": {"kind": subject[0], "id": subject[1]},
        "checkpoint": checkpoint,
        "consistency": (
            None
            if consistency is None
            else {
                "from_size": consistency[0],
                "proof": [b64encode(node) for node in consistency[1]],
            }
        ),
        "certificates": [
            entry.to_json("certificate") for entry in sorted(certificates, key=_by_index)
        ],
        "revocations": [
            entry.to_json("revocation") for entry in sorted(revocations, key=_by_index)
        ],
        "events": [entry.to_json("envelope") for entry in sorted(events, key=_by_index)],
        "items": [item.to_json() for item in sorted(items, key=lambda item: item.code)],
    }
    if captures:
        bundle["captures"] = [entry.to_json("capture") for entry in sorted(captures, key=_by_index)]
    return bundle


def _by_index(entry: LoggedEntry) -> int:
    return entry.index
