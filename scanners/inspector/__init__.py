"""The inspector's kit: verify an item on the spot, with or without the network.

One module per job:

* :mod:`~scanners.inspector.trust`: the pinned registry root key and log key;
* :mod:`~scanners.inspector.kit`: the kit home (trust, verifier state, bundles);
* :mod:`~scanners.inspector.store`: downloaded bundles, newest first, cut per item;
* :mod:`~scanners.inspector.subbundle`: one item's self-contained bundle out of a site's;
* :mod:`~scanners.inspector.fetch`: download, verify at once, keep only what verifies;
* :mod:`~scanners.inspector.scan_input`: what was scanned (label URL, code, GS1 key);
* :mod:`~scanners.inspector.verify`: one scan to one verdict, online or offline;
* :mod:`~scanners.inspector.verdict`: the typed verdict and the custody timeline;
* :mod:`~scanners.inspector.render`: the terminal rendering.

The commands are in :mod:`scanners.cli_inspect` (``chemtrace scan trust|fetch|verify``).
"""

from __future__ import annotations

from scanners.inspector.fetch import FetchOutcome, accept_bundle, fetch_bundle
from scanners.inspector.kit import DEFAULT_HOME, InspectorKit, KitStateError
from scanners.inspector.scan_input import Scan, UnreadableScanError, read_scan
from scanners.inspector.trust import (
    PinnedKey,
    PinnedTrust,
    TrustConflictError,
    TrustError,
    TrustNotPinnedError,
)
from scanners.inspector.verdict import ScanVerdict, Source, Step
from scanners.inspector.verify import OnlineAccess, ScanVerifier

__all__ = [
    "DEFAULT_HOME",
    "FetchOutcome",
    "InspectorKit",
    "KitStateError",
    "OnlineAccess",
    "PinnedKey",
    "PinnedTrust",
    "Scan",
    "ScanVerdict",
    "ScanVerifier",
    "Source",
    "Step",
    "TrustConflictError",
    "TrustError",
    "TrustNotPinnedError",
    "UnreadableScanError",
    "accept_bundle",
    "fetch_bundle",
    "read_scan",
]
