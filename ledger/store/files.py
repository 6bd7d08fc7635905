"""Crash-safe file writes, shared by the service and the client side: a reader sees the old
file or the new, and the rename survives a power cut.

Every write goes to a temporary file in the same folder, is flushed and fsynced, then
``os.replace``-d over the target, and the folder itself is fsynced.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_bytes_atomic(
    path: Path, data: bytes, *, mode: int | None = None, fsync_parent: bool = True
) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    The file is readable by the owner only (``mkstemp`` creates it 0600) unless ``mode`` says
    otherwise: published files (tiles a web server reads as another user) pass ``0o644``. A
    caller writing many files into one folder may pass ``fsync_parent=False`` and fsync the
    folder once (:func:`fsync_folder`) before relying on the renames.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if fsync_parent:
        fsync_folder(path.parent)
