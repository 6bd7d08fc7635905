"""The one root of every exception ``scanners`` defines: :class:`ScannerError`.

Each class keeps its own module, name and ``code``; this root only lets an edge (a command,
a screen) catch "anything the client side refused" in one clause. One of them is also
:class:`ledger.errors.InvalidInputError` (malformed input, nothing written), so code that
catches ledger errors keeps catching them.

::

    ScannerError                          scanners.errors
    ├── ImageDecodeError                  images              (and ledger InvalidInputError)
    ├── ApiError                          client
    ├── DeviceError                       device.home
    │   ├── NotEnrolledError              device.home
    │   └── ServerUnreachableError        device.sync
    ├── KitFileError                      files
    ├── KitStateError                     inspector.kit
    ├── TrustError                        inspector.trust
    │   ├── TrustNotPinnedError           inspector.trust
    │   └── TrustConflictError            inspector.trust
    ├── UnreadableScanError               inspector.scan_input
    ├── ScanLookupError                   tui.actions
    └── FormError                         tui.forms

``scanners.identifiers.ScanError`` is not under this root: it is the core's
``ledger.epcis.errors.IdentifierError`` (the GS1 parsing moved into ``ledger``), a ledger
``InvalidInputError``, which every catch-all here catches alongside ``ScannerError``.

Classes that also derive from a ledger error list it first (``class ImageDecodeError(
InvalidInputError, ScannerError)``), so the ledger's ``__init__``, ``message`` and
``diagnostics()`` stay theirs. This module imports nothing, so any module may import it.
"""

from __future__ import annotations


class ScannerError(Exception):
    """Base of every exception defined in ``scanners``; ``code`` is stable where set."""

    code: str = "scanner_error"
