"""The offline responder pack: what is stored where in a district, signed by the log key.

A pack is one JSON object (format ``chemtrace-emergency-pack/v1``)::

    {
      "format": "chemtrace-emergency-pack/v1",
      "origin": "chemtrace.dev/ledger",        # the log (checkpoint origin line)
      "district": "haidian",
      "created_at": "2026-12-07T16:00:00Z",
      "log_size": 1234,                        # the checkpoint's size: holdings are the fold
      "checkpoint": "<C2SP signed note>",      #   of log entries 0 .. log_size-1
      "sites": [ … sorted by site id, each as a site of /v1/emergency/nearby without
                 distance_m, lat/lon as decimal strings … ],
      "district_totals": {"sites": 3, "items": 40, "totals_by_hazard_class": […],
                          "toxic_inhalation_kg": "…", "flammable_kg": "…"},
      "signature": "<C2SP signed note>"
    }

``signature`` is a detached signed note by the log key (under the log's origin as key
name, like the checkpoint), whose text is::

    chemtrace/v1/emergency-pack
    <origin>
    <district>
    <checkpoint size>
    <base64 checkpoint root hash>
    sha256:<hex SHA-256 of JCS(pack without "signature")>

The first line separates it from a checkpoint (a checkpoint's second line is a size), so
the log key's signature on a pack can never be read as a signed tree head. The pack is
checked offline with the log's public key alone (:func:`verify_pack`); given a checkpoint
the verifier already trusts, it must also be the pack's.

This module performs no I/O.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ledger.canonical import JsonValue, canonical_bytes
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.errors import LedgerError, NoteError, VerificationError
from ledger.note import NoteVerifier, open_note, sign_note
from ledger.signing import Signer

FORMAT: Final = "chemtrace-emergency-pack/v1"
DOMAIN_LINE: Final = "chemtrace/v1/emergency-pack"
SITE_FIELDS: Final = ("site", "items", "totals_by_chemical", "totals_by_hazard_class",
                      "toxic_inhalation_kg", "flammable_kg")  # fmt: skip
_DIGEST_PREFIX: Final = "sha256:"


class PackError(VerificationError):
    """A pack that is not what it claims; ``reason`` says precisely why."""

    code = "pack_invalid"

    def __init__(self, reason: str, message: str, **context: object) -> None:
        super().__init__(message, **context)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PackInput:
    """What a pack is built from: the log, the district, the checkpoint it was cut from and
    each site's holdings at that checkpoint (a site of ``/v1/emergency/nearby`` as JSON,
    floats already written as decimal strings)."""

    origin: str
    district: str
    checkpoint: str
    """The signed checkpoint note whose size the holdings were folded to."""
    created_at: str
    sites: Sequence[Mapping[str, JsonValue]]


@dataclass(frozen=True, slots=True)
class VerifiedPack:
    """A pack that verified: its district and the checkpoint it was cut from."""

    district: str
    checkpoint: Checkpoint
    sites: int


def build_pack(data: PackInput, log_signer: Signer, verifier: NoteVerifier) -> dict[str, Any]:
    """The signed pack of ``data``: sites sorted by id, district totals, the signature.

    Raises:
        PackError: the checkpoint is not the log's, the district is no note line, or a
            site lacks a field the totals need.
    """
    if not data.district or "\n" in data.district or data.district != data.district.strip():
        raise PackError("malformed", "district must be one line without surrounding spaces")
    try:
        checkpoint = open_checkpoint(data.checkpoint, verifier, expected_origin=data.origin)
    except NoteError as exc:
        raise PackError("checkpoint_invalid", f"the checkpoint is not the log's: {exc}") from exc
    sites = sorted((dict(site) for site in data.sites), key=lambda s: str(s.get("site")))
    body: dict[str, Any] = {
        "format": FORMAT,
        "origin": data.origin,
        "district": data.district,
        "created_at": data.created_at,
        "log_size": checkpoint.size,
        "checkpoint": data.checkpoint,
        "sites": sites,
        "district_totals": district_totals(sites),
    }
    text = _statement(data.origin, data.district, checkpoint, pack_digest(body))
    body["signature"] = sign_note(text, data.origin, log_signer)
    return body


def district_totals(sites: Sequence[Mapping[str, Any]]) -> dict[str, JsonValue]:
    """The sums over the district's sites: items, kilograms per hazard class,
    toxic-inhalation and flammable kilograms.

    Raises:
        PackError: a site lacks a field, or an amount is no decimal.
    """
    items, toxic, flammable = 0, Decimal(0), Decimal(0)
    classes: dict[str, tuple[int, Decimal]] = {}
    for site in sites:
        missing = [name for name in SITE_FIELDS if name not in site]
        if missing:
            raise PackError("malformed", "a site lacks fields", site=site.get("site"),
                            missing=",".join(missing))  # fmt: skip
        items += len(site["items"])
        toxic += _decimal(site["toxic_inhalation_kg"])
        flammable += _decimal(site["flammable_kg"])
        for total in site["totals_by_hazard_class"]:
            count, kg = classes.get(str(total["hazard_class"]), (0, Decimal(0)))
            classes[str(total["hazard_class"])] = (count + int(total["items"]),
                                                   kg + _decimal(total["kilograms"]))  # fmt: skip
    return {
        "sites": len(sites),
        "items": items,
        "totals_by_hazard_class": [
            {"hazard_class": name, "items": count, "kilograms": str(kg)}
            for name, (count, kg) in sorted(classes.items())
        ],
        "toxic_inhalation_kg": str(toxic),
        "flammable_kg": str(flammable),
    }


def pack_digest(pack: Mapping[str, Any]) -> str:
    """``sha256:`` and the hex SHA-256 of the RFC 8785 bytes of ``pack`` without its
    signature.

    Raises:
        PackError: the pack holds something JCS cannot encode (a float).
    """
    unsigned = {key: value for key, value in pack.items() if key != "signature"}
    try:
        encoded = canonical_bytes(unsigned)
    except LedgerError as exc:
        raise PackError("malformed", f"the pack has no canonical bytes: {exc}") from exc
    return _DIGEST_PREFIX + hashlib.sha256(encoded).hexdigest()


def verify_pack(
    pack: Mapping[str, Any], verifier: NoteVerifier, trusted_checkpoint: str | None = None
) -> VerifiedPack:
    """Check a pack offline with the log's public key (and a checkpoint already trusted).

    Raises:
        PackError: with ``reason`` one of ``malformed``, ``signature_invalid`` (not signed
            by this log key, or a bad signature), ``checkpoint_invalid`` (the embedded
            checkpoint is not the log's), ``checkpoint_mismatch`` (the signature names
            another checkpoint, district or log than the pack holds), ``digest_mismatch``
            (the contents were changed after signing), ``checkpoint_not_trusted`` (not the
            trusted checkpoint given).
    """
    for name, kind in (("format", str), ("origin", str), ("district", str),
                       ("checkpoint", str), ("signature", str), ("log_size", int),
                       ("sites", list)):  # fmt: skip
        if not isinstance(pack.get(name), kind):
            raise PackError("malformed", f"the pack's {name} is missing or not a {kind.__name__}")
    if pack["format"] != FORMAT:
        raise PackError("malformed", "not an emergency pack", format=pack["format"])
    try:
        signed = open_note(pack["signature"], [verifier]).text
    except NoteError as exc:
        raise PackError("signature_invalid", f"the pack is not signed by this log key: {exc}",
                        key=verifier.name) from exc  # fmt: skip
    try:
        checkpoint = open_checkpoint(pack["checkpoint"], verifier, expected_origin=pack["origin"])
    except NoteError as exc:
        raise PackError("checkpoint_invalid", f"the pack's checkpoint is not the log's: {exc}",
                        key=verifier.name) from exc  # fmt: skip
    lines = signed.split("\n")
    if len(lines) != 7 or lines[0] != DOMAIN_LINE or lines[6] != "":
        raise PackError("malformed", "the signature's note is no emergency-pack statement")
    claimed = {"origin": lines[1], "district": lines[2], "size": lines[3], "root": lines[4]}
    held = {"origin": pack["origin"], "district": pack["district"], "size": str(checkpoint.size),
            "root": _b64(checkpoint.root_hash)}  # fmt: skip
    differ = sorted(k for k in claimed if claimed[k] != held[k])
    if differ or pack["log_size"] != checkpoint.size:
        raise PackError("checkpoint_mismatch",
                        "the pack holds another checkpoint than the one it was signed with",
                        fields=",".join(differ or ["log_size"]),
                        signed_size=claimed["size"], held_size=checkpoint.size)  # fmt: skip
    if lines[5] != pack_digest(pack):
        raise PackError("digest_mismatch", "the pack's contents changed after it was signed")
    if trusted_checkpoint is not None:
        try:
            trusted = open_checkpoint(trusted_checkpoint, verifier, expected_origin=pack["origin"])
        except NoteError as exc:
            raise PackError("malformed", f"the trusted checkpoint does not open: {exc}") from exc
        if (trusted.size, trusted.root_hash) != (checkpoint.size, checkpoint.root_hash):
            raise PackError("checkpoint_not_trusted",
                            "the pack was cut from another checkpoint than the trusted one",
                            trusted_size=trusted.size, pack_size=checkpoint.size)  # fmt: skip
    return VerifiedPack(pack["district"], checkpoint, len(pack["sites"]))


def _statement(origin: str, district: str, checkpoint: Checkpoint, digest: str) -> str:
    lines = [DOMAIN_LINE, origin, district, str(checkpoint.size), _b64(checkpoint.root_hash),
             digest]  # fmt: skip
    return "".join(f"{line}\n" for line in lines)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise PackError("malformed", "an amount is not a decimal", value=value) from exc


__all__ = [
    "FORMAT",
    "PackError",
    "PackInput",
    "VerifiedPack",
    "build_pack",
    "district_totals",
    "pack_digest",
    "verify_pack",
]
