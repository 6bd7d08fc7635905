"""Offline bundles: everything a handheld needs to check an item (or a site) with pinned keys.

A bundle is one JSON file. A verifier holding only the registry root key and the
log key checks it with no network and no database (:func:`verify_bundle`).

Format ``chemtrace-bundle/v1``
==============================

::

    {
      "format": "chemtrace-bundle/v1",
      "origin": "chemtrace.dev/ledger",          # the log (checkpoint origin line)
      "created_at": "2026-11-21T16:00:00Z",      # when the bundle was built (unsigned)
      "subject": {"kind": "item", "id": "CT-…"}, # or {"kind": "site", "id": "haidian-lab"}
      "checkpoint": "<C2SP signed note>",        # ONE checkpoint: origin, size N, root
      "consistency": null | {"from_size": M, "proof": ["<b64 hash>", …]},
      "certificates": [                          # deduplicated, log order
        {"index": 3, "log_time": "…Z", "hash": "sha256:…",
         "certificate": {"cert": {…}, "signature": "…"}, "inclusion": ["<b64>", …]}],
      "revocations":  [ same shape, body under "revocation" ],
      "events": [                                # deduplicated, log order
        {"index": 17, "log_time": "…Z", "hash": "sha256:…",
         "envelope": {"body": {…}, "signature": {"alg": …, "value": …}},
         "inclusion": ["<b64>", …]}],
      "items": [                                 # sorted by code
        {"code": "CT-…",
         "label": null | <SignedCode JSON (ledger.codes)>,
         "chain": [17, 21, 40],                  # log index of seq 0, 1, 2, …
         "head": <ItemHeadStatement JSON at checkpoint N>}]
    }

* Every entry (event, certificate, revocation) carries its log index, its log
  time, the entry hash the log committed to, and an RFC 9162 inclusion proof
  (base64 hashes, leaf first) of its leaf ``LeafRecord(kind, hash, log_time)``
  against the checkpoint. This is the C2SP tlog-proof idea (index + proof +
  checkpoint) spelled as JSON, with many entries sharing one checkpoint.
* An event shared by several bundled items (a decant, an aggregation) appears
  once in ``events``; each item's ``chain`` refers to it by log index.
* ``certificates`` hold, for every device key that signed a bundled event, its
  device certificates and the organisation certificates of their issuers
  (logged before the checkpoint); ``revocations`` those logged for these keys.
* ``head`` is the log-signed item-head statement *at the bundle's checkpoint*
  (same origin, size and root). When an item's head is older than the
  checkpoint, the builder has the log sign a fresh statement at that checkpoint
  (see :mod:`ledger.store.bundles` for why this, not an older statement plus a
  consistency proof). Dropping the newest events is then always visible, and a
  statement cannot be replayed from an older or another tree.
* ``label`` is the registry's signed code record, checked with the root key;
  ``null`` gives the warning ``label_not_present``.
* ``consistency`` proves the checkpoint extends an earlier one of size ``M``
  (``chemtrace bundle --since M``), so a verifier that saw ``M`` can move on.

What the verifier checks
========================

The checkpoint's signature and origin; each event's hash re-derived from its
envelope, its leaf and inclusion proof; each certificate's and revocation's
hash, leaf and inclusion proof and its signature chain to the pinned root, in
log order, so that only keys certified *before* an event (and valid and not
revoked at its log time) vouch for it; each device signature; each item's chain
(seq contiguous from 0, ``prev`` = hash of the previous event, the link for
*this* code in multi-item events); no duplicated, reordered, foreign or extra
events; the head statement's signature, its tie to the checkpoint, and that it
names the bundle's last event; the label. Given a witness policy (C2SP tlog-policy,
``docs/witness-policy.md``), the checkpoint must also carry the cosignatures of the
policy's quorum of witnesses: **fault** ``checkpoint_unwitnessed`` otherwise, naming who
is missing or bad (:mod:`ledger.bundle.checkpoints`). Against the verifier's
:class:`VerifierState` it then judges freshness:

* same size, other root, or a failing consistency proof from a remembered
  checkpoint: **fault** ``checkpoint_fork`` / ``checkpoint_inconsistent``;
* an older checkpoint: **warning** ``bundle_stale`` (with its age from the two
  bundles' ``created_at``); the state is kept;
* a newer checkpoint with a valid proof from the remembered size: the state
  advances;
* a newer checkpoint without such a proof: **warning**
  ``consistency_unconfirmed``; the state does *not* advance, so one bundle
  from a forked log cannot move the verifier onto the fork;
* no state for this log yet: trust on first use; the state starts here.

The state only changes when the bundle has no fault.

Limits: offline, a verifier cannot tell that a *site* bundle omits an item
(there is no signed per-site list), nor that a revocation was left out (the
log rejects events signed with revoked keys, and ``verify-log`` checks it).
"""

from __future__ import annotations

from ledger.bundle.items import LEFT_SITE_TYPES
from ledger.bundle.report import (
    BundleFault,
    BundleReport,
    BundleWarning,
    Finding,
    describe_day,
    describe_duration,
    describe_witnesses,
    item_noun,
)
from ledger.bundle.state import HISTORY_LIMIT, STATE_FORMAT, LogView, SeenCheckpoint, VerifierState
from ledger.bundle.verifier import verify_bundle
from ledger.bundle.wire import (
    BUNDLE_FORMAT,
    BundledItem,
    BundleFormatError,
    LoggedEntry,
    SubjectKind,
    assemble_bundle,
    head_from_json,
    parse_bundle,
)

__all__ = [
    "BUNDLE_FORMAT",
    "HISTORY_LIMIT",
    "LEFT_SITE_TYPES",
    "STATE_FORMAT",
    "BundleFault",
    "BundleFormatError",
    "BundleReport",
    "BundleWarning",
    "BundledItem",
    "Finding",
    "LogView",
    "LoggedEntry",
    "SeenCheckpoint",
    "SubjectKind",
    "VerifierState",
    "assemble_bundle",
    "describe_day",
    "describe_duration",
    "describe_witnesses",
    "head_from_json",
    "item_noun",
    "parse_bundle",
    "verify_bundle",
]
