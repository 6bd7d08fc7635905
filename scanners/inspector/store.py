"""Downloaded bundles in the kit: each download in its own folder, cut per item for scanning.

::

    bundles/
      site-haidian-lab-20261121T160000Z-3f2a9c1e/     one download (never rewritten)
        download.json      what it is: kind, subject, server, downloaded_at, created_at,
                           checkpoint size, SHA-256 of bundle.json, and per item the
                           packaging and GS1 key from its (verified) label record
        bundle.json        the bundle as downloaded and verified
        items/CT-….json    one sub-bundle per item (:mod:`scanners.inspector.subbundle`)

A download is written under a hidden name and renamed into place in one step
(:func:`scanners.files.new_folder`). A newer download of the same site or
item replaces the older one; an older one never replaces a newer one.

Nothing here is trusted at scan time: ``download.json`` only says where to look, and
the item's sub-bundle is verified against the pinned keys on every scan, so a file
altered on disk is caught like an altered download. A lying index can only hide an
item (the scan then finds it elsewhere or reports it unknown), never vouch for one:
the verifier checks that the sub-bundle is about the scanned code, and a GS1 lookup is
confirmed against the registry-signed label record.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from ledger.bundle import describe_duration
from ledger.timefmt import parse_utc
from scanners.files import (
    KitFileError,
    json_bytes,
    new_folder,
    read_json,
    remove_folder,
    write_new_file,
)
from scanners.inspector.subbundle import split_bundle

DOWNLOAD_FORMAT: Final = "chemtrace-inspector-download/v1"
META_FILE: Final = "download.json"
BUNDLE_FILE: Final = "bundle.json"
ITEMS_FOLDER: Final = "items"
Kind = Literal["site", "item"]
ITEM_CODE: Final = re.compile(r"[0-9A-Z][0-9A-Z-]{3,63}")
"""The event ``ItemCode`` pattern: also a safe file name."""


@dataclass(frozen=True, slots=True)
class ItemSummary:
    """What the download's verified label record says about one item, for lookups."""

    packaging: str | None = None
    gs1_key: str | None = None


@dataclass(frozen=True, slots=True)
class StoredDownload:
    """One stored bundle download."""

    folder: Path
    kind: Kind
    subject: str
    server: str | None
    downloaded_at: str
    created_at: str
    origin: str
    checkpoint_size: int
    bundle_sha256: str
    items: Mapping[str, ItemSummary] = field(default_factory=dict)

    def describe(self) -> str:
        """``the site bundle of haidian-lab``."""
        return f"the {self.kind} bundle of {self.subject}"

    def age(self, now_text: str) -> str:
        """How long ago it was downloaded, for people."""
        return describe_duration(parse_utc(now_text) - parse_utc(self.downloaded_at))

    def item_file(self, code: str) -> Path:
        return self.folder / ITEMS_FOLDER / f"{code}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DOWNLOAD_FORMAT,
            "kind": self.kind,
            "subject": self.subject,
            "server": self.server,
            "downloaded_at": self.downloaded_at,
            "created_at": self.created_at,
            "origin": self.origin,
            "checkpoint_size": self.checkpoint_size,
            "bundle_sha256": self.bundle_sha256,
            "items": {
                code: {"packaging": summary.packaging, "gs1_key": summary.gs1_key}
                for code, summary in sorted(self.items.items())
            },
        }

    @classmethod
    def from_json(cls, folder: Path, document: object) -> StoredDownload:
        """Parse ``download.json``.

        Raises:
            KitFileError: it is not a download record.
        """
        try:
            if not isinstance(document, Mapping) or document["format"] != DOWNLOAD_FORMAT:
                raise TypeError("not a download record")
            kind = document["kind"]
            if kind not in ("site", "item"):
                raise TypeError("unknown kind")
            items = {
                str(code): ItemSummary(summary.get("packaging"), summary.get("gs1_key"))
                for code, summary in document["items"].items()
            }
            return cls(
                folder=folder,
                kind=kind,
                subject=str(document["subject"]),
                server=document["server"],
                downloaded_at=str(document["downloaded_at"]),
                created_at=str(document["created_at"]),
                origin=str(document["origin"]),
                checkpoint_size=int(document["checkpoint_size"]),
                bundle_sha256=str(document["bundle_sha256"]),
                items=items,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KitFileError(f"{folder / META_FILE} is not a download record ({exc})") from exc


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What storing a download did."""

    stored: StoredDownload | None
    kept: StoredDownload | None = None
    """A newer download of the same subject, kept instead of this one."""
    replaced: tuple[StoredDownload, ...] = ()


def safe_name(text: str) -> str:
    """A folder-name form of a site id or code: unusual characters written as ``~hex``."""
    return re.sub(r"[^A-Za-z0-9._-]", lambda match: f"~{ord(match.group()):x}", text)[:80]


class BundleStore:
    """``bundles/`` under the kit home."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def downloads(self) -> list[StoredDownload]:
        """Every stored download, newest first (largest checkpoint, then latest download).

        Unreadable records are skipped: they cannot vouch for anything anyway.
        """
        found = []
        for meta in self.folder.glob(f"[!.]*/{META_FILE}"):
            try:
                found.append(StoredDownload.from_json(meta.parent, read_json(meta, "record")))
            except KitFileError:
                continue
        return sorted(found, key=lambda d: (d.checkpoint_size, d.downloaded_at), reverse=True)

    def holding(self, code: str) -> Iterator[StoredDownload]:
        """Downloads that hold ``code``'s sub-bundle, newest first."""
        if not ITEM_CODE.fullmatch(code):
            return
        for download in self.downloads():
            if download.item_file(code).is_file():
                yield download

    def code_for_gs1(self, gs1_key: str) -> str | None:
        """The trace code whose stored label record carries ``gs1_key``, newest first."""
        for download in self.downloads():
            for code, summary in download.items.items():
                if summary.gs1_key == gs1_key:
                    return code
        return None

    def store(
        self,
        bundle: Mapping[str, Any],
        *,
        kind: Kind,
        subject: str,
        checkpoint_size: int,
        items: Mapping[str, ItemSummary],
        server: str | None,
        downloaded_at: str,
    ) -> StoreOutcome:
        """Store a verified bundle unless a newer download of the same subject is kept.

        Older downloads of the same subject are removed once the new one is in place.
        """
        same = [d for d in self.downloads() if (d.kind, d.subject) == (kind, subject)]
        newer = [d for d in same if d.checkpoint_size > checkpoint_size]
        if newer:
            return StoreOutcome(stored=None, kept=newer[0])
        data = json_bytes(bundle)
        digest = hashlib.sha256(data).hexdigest()
        stamp = downloaded_at.replace("-", "").replace(":", "")
        target = self.folder / f"{kind}-{safe_name(subject)}-{stamp}-{digest[:8]}"
        download = StoredDownload(
            folder=target,
            kind=kind,
            subject=subject,
            server=server,
            downloaded_at=downloaded_at,
            created_at=str(bundle["created_at"]),
            origin=str(bundle["origin"]),
            checkpoint_size=checkpoint_size,
            bundle_sha256=digest,
            items=dict(items),
        )
        if target.exists():  # the same bytes, downloaded in the same second
            return StoreOutcome(stored=download)
        with new_folder(target) as building:
            write_new_file(building / BUNDLE_FILE, data)
            for code, sub_bundle in split_bundle(bundle).items():
                if not ITEM_CODE.fullmatch(code):  # cannot pass verification; never a path
                    continue
                write_new_file(building / ITEMS_FOLDER / f"{code}.json", json_bytes(sub_bundle))
            write_new_file(building / META_FILE, json_bytes(download.to_json()))
        for old in same:
            remove_folder(old.folder)
        return StoreOutcome(stored=download, replaced=tuple(same))
