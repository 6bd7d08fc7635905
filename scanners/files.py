"""Crash-safe writes for the device and the inspector kit: readers see the old file or the new.

Every write goes to a temporary file in the same folder, is flushed and fsynced, then
``os.replace``-d over the target, and the folder itself is fsynced so the rename survives
a power cut. A folder of several files (one stored bundle) is built under a temporary
name and renamed into place the same way, so a half-written download is never visible.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ledger.store.files import fsync_folder, write_bytes_atomic
from scanners.errors import ScannerError


class KitFileError(ScannerError):
    """A kit file is missing, unreadable or not the JSON it should be."""


def json_bytes(document: object) -> bytes:
    """JSON as the kit writes it: UTF-8, compact, one trailing newline."""
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def write_json_atomic(path: Path, document: object) -> None:
    """Replace ``path`` with ``document`` as JSON, atomically and durably."""
    write_bytes_atomic(path, json_bytes(document))


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8), atomically and durably."""
    write_bytes_atomic(path, text.encode("utf-8"))


def read_json(path: Path, what: str) -> Any:
    """Parse a kit JSON file.

    Raises:
        KitFileError: the file is missing, unreadable or not JSON.
    """
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise KitFileError(f"no {what} at {path}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KitFileError(f"the {what} at {path} is unreadable ({exc})") from exc


def write_new_file(path: Path, data: bytes) -> None:
    """Write a file inside a folder from :func:`new_folder` (nobody reads it yet) and fsync it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def new_folder(target: Path) -> Iterator[Path]:
    """Yield a hidden folder beside ``target``; on success it becomes ``target`` in one rename.

    Fill it with :func:`write_new_file`. ``target`` must not exist yet: stored bundles are
    never rewritten in place, only replaced by new ones.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield building
        for folder in sorted({path.parent for path in building.rglob("*")} | {building}):
            fsync_folder(folder)
        os.rename(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    fsync_folder(target.parent)


def remove_folder(folder: Path) -> None:
    """Delete a stored folder: renamed away first, so no reader sees it half deleted."""
    doomed = folder.with_name(f".deleted-{folder.name}-{uuid.uuid4().hex[:8]}")
    os.rename(folder, doomed)
    fsync_folder(folder.parent)
    shutil.rmtree(doomed, ignore_errors=True)
