"""chemtrace's pure domain core: events, canonical bytes, signatures, the log, verification.

Nothing in this package (except :mod:`ledger.store`) performs I/O. The shells (``api``,
``scanners``, ``sim``) use the modules in ``__all__``; within them, names starting with ``_``
are internal. The subpackages ``bundle``, ``catalog``, ``risk`` and ``rules`` curate their own
``__all__``; ``ledger.store`` holds the adapters (SQL, crash-safe files) behind the core's
ports (:class:`ledger.ingest.EventStore`, :class:`ledger.merkle.NodeReader`, ...).
"""

__all__ = [
    "anchor",  # the seam for anchoring checkpoints with independent parties
    "append",  # what one append transaction writes: heads, custody, leaves, receipts
    "builder",  # how a device links and signs events
    "bundle",  # offline bundles and their verifier
    "canonical",  # RFC 8785 bytes, hashes, base64
    "catalog",  # the chemical catalog
    "certificates",  # device and organisation key certificates, the trust store
    "checkpoint",  # C2SP checkpoints
    "codes",  # trace codes, label signatures, GS1 keys
    "commitments",  # salted commitments to personal data
    "cosignature",  # C2SP tlog-cosignature/v1 (witness cosignatures)
    "custody",  # who may write and read an item
    "emergency_pack",  # the offline responder pack: build, sign, verify
    "envelope",  # signed event envelopes
    "epcis",  # GS1 EPCIS 2.0 / CBV 2.0: event hash IDs, Digital Link, the event mapping
    "errors",  # every error the core raises
    "events",  # the 21 typed events
    "external_ids",  # external identifier schemes
    "geo",  # WGS-84 geodesic distances and search boxes
    "hazards",  # a chemical's hazard class, toxic-inhalation and flammable (emergency query)
    "http_signature",  # RFC 9421 signed requests (Ed25519, RFC 9530 digests)
    "ingest",  # the ingest path and its storage port
    "leaf",  # the log's leaf records
    "licences",  # licence records
    "localtime",  # Beijing dates and Civil Code periods
    "merkle",  # the RFC 9162 tree and proofs
    "note",  # C2SP signed notes
    "records",  # registry records
    "registry",  # code batches
    "revocations",  # key revocations
    "risk",  # the enterprise risk grade and its versioned weights
    "rules",  # the anomaly engine
    "search",  # items by lot, waybill, vehicle and device
    "signed_capture",  # an RFC 9421-signed EPCIS document as a log entry, and its derived events
    "signing",  # the one signer interface
    "state",  # the item-state fold
    "statements",  # receipts and item-head statements
    "store",  # the storage adapters
    "tiles",  # C2SP tlog-tiles: tile paths, entry bundles, proofs from tiles
    "timefmt",  # RFC 3339 UTC
    "trusted_bodies",  # rebuilding logged event bodies without re-validation, hash-checked
    "units",  # quantities with units: pint at the edge, exact kg decimals inside
    "verify",  # the full audit of a log
    "witness",  # what a C2SP witness decides on add-checkpoint
    "witness_audit",  # which stored checkpoints a witness policy accepts
    "witness_policy",  # C2SP tlog-policy: which checkpoints a verifier accepts
]
