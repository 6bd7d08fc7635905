"""Webhooks: new findings pushed to subscribers, signed by the log key.

A subscription (``POST /v1/webhooks``) keeps its owner's scope: a regulator's hooks get the
findings of its districts, an admin's every finding, each at or above the hook's
``min_severity``. The deliveries are queued in the same transaction that stores a new
finding (:meth:`ledger.store.findings.FindingStore.save`); :class:`WebhookDispatcher`
sends them from a background worker.

The request
-----------

``POST <url>`` with the JSON body ``{"finding": {...}, "delivery": {"webhook": <id>,
"attempt": <n>}}`` (the finding as ``GET /v1/findings/{id}`` shows it, at sending time) and
the headers::

    Content-Type: application/json
    Chemtrace-Delivery: <webhook id>/<finding id>[/<opening>]
    Chemtrace-Signature: t=<unix seconds>,key_id=<hex>,ed25519=<base64 signature>

The signature is Ed25519, by the deployment's log key, over the bytes::

    b"chemtrace-webhook-v1\\n" + t + b"\\n" + body

where ``t`` is the decimal text of the ``t=`` field and ``body`` the exact request body.
``key_id`` is the log key's C2SP note key ID (the hex middle part of the vkey served at
``GET /v1/log/key``, also returned when subscribing), so a receiver pins the vkey once and
checks every delivery with :func:`verify_webhook`. A receiver should reject a stale ``t``
(a replay) and deduplicate on ``Chemtrace-Delivery``: delivery is at least once. A finding
is a group of occurrences: it is delivered when it is created, again when a new
occurrence reopens it (``/<opening>``, 2 for the first reopening, is then appended to
the header, and the body's ``finding.openings`` says the same), and when its severity
rises to the hook's ``min_severity``; not for each further occurrence.

Retries
-------

Any 2xx answer is a delivery. Anything else (another status, a redirect, a connection
error, no answer within 5 s, a refused destination) is retried after 1, 2, 4, … seconds
(doubling, capped at 10 minutes); after 12 failed attempts the delivery is given up, its
``last_error`` kept.

Destinations
------------

Only ``http``/``https`` URLs without userinfo, to public addresses, unless the operator
allows private networks (``CHEMTRACE_WEBHOOK_ALLOW_NETWORKS``): checked when subscribing
(``POST /v1/webhooks``) and again at every attempt, when the host is resolved, every address
it resolves to is checked, and the connection goes to the checked address itself (see
:mod:`api.outbound`). A redirect is never followed. A refused attempt's ``last_error`` reads
``refused (<reason>): …`` (a reason of :class:`api.outbound.DestinationRefusedError`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.outbound import (
    DestinationRefusedError,
    OutboundPolicy,
    RefusedRequestError,
    Resolver,
    direct_transport,
    pinned_client,
    system_resolver,
)
from ledger.errors import LedgerError
from ledger.note import note_key_id, parse_vkey
from ledger.signing import Signer
from ledger.store.findings import FindingStore, StoredFinding
from ledger.store.repository import utc_now
from ledger.timefmt import format_utc

log = logging.getLogger("chemtrace.webhooks")

DOMAIN: Final = b"chemtrace-webhook-v1\n"
SIGNATURE_HEADER: Final = "Chemtrace-Signature"
DELIVERY_HEADER: Final = "Chemtrace-Delivery"
TIMEOUT_S: Final = 5.0
MAX_ATTEMPTS: Final = 12
MAX_BACKOFF_S: Final = 600.0
DEFAULT_TOLERANCE_S: Final = 300.0


class _Headers(Protocol):
    def items(self) -> Iterable[tuple[str, str]]: ...


class _Lock(Protocol):
    def acquire(self) -> bool: ...


def signed_message(timestamp: str, body: bytes) -> bytes:
    """The bytes a webhook signature covers."""
    return DOMAIN + timestamp.encode("ascii") + b"\n" + body


def signature_header(signer: Signer, key_id: str, timestamp: int, body: bytes) -> str:
    """The ``Chemtrace-Signature`` value for ``body`` sent at ``timestamp``."""
    t = str(timestamp)
    signature = base64.b64encode(signer.sign(signed_message(t, body))).decode("ascii")
    return f"t={t},key_id={key_id},ed25519={signature}"


def verify_webhook(
    headers: Mapping[str, str] | _Headers,
    body: bytes,
    public_key: bytes | str,
    *,
    max_age_s: float | None = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether a received webhook request is authentic (for receivers, and tests).

    ``public_key`` is the log's raw 32-byte Ed25519 key or its vkey text (as served by
    ``GET /v1/log/key``); with a vkey the header's ``key_id`` must also name that key.
    ``max_age_s`` bounds how old (or how far ahead) ``t`` may be relative to ``now`` (unix
    seconds; default the current time); ``None`` skips the check. Pure but for the clock.
    """
    wanted_key_id: str | None = None
    if isinstance(public_key, str):
        try:
            verifier = parse_vkey(public_key.strip())
        except LedgerError:
            return False
        raw_key, wanted_key_id = verifier.public_key, verifier.key_id.hex()
    else:
        raw_key = public_key
    fields = _signature_fields(headers)
    if fields is None:
        return False
    t, key_id, signature = fields
    if wanted_key_id is not None and key_id.lower() != wanted_key_id:
        return False
    if max_age_s is not None:
        moment = time.time() if now is None else now
        if abs(moment - int(t)) > max_age_s:
            return False
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, signed_message(t, body))
    except (InvalidSignature, ValueError):
        return False
    return True


def _signature_fields(headers: Mapping[str, str] | _Headers) -> tuple[str, str, bytes] | None:
    value = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None)
    if value is None:
        return None
    fields: dict[str, str] = {}
    for part in value.split(","):
        name, sep, content = part.strip().partition("=")
        if not sep or name in fields:
            return None
        fields[name] = content
    t, key_id, encoded = fields.get("t", ""), fields.get("key_id", ""), fields.get("ed25519", "")
    if not (t.isascii() and t.isdigit() and key_id and encoded):
        return None
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return t, key_id, signature


@dataclass(frozen=True, slots=True)
class _Attempt:
    webhook_id: str
    finding_id: str
    attempt: int
    url: str
    body: bytes
    opening: int = 1


class WebhookDispatcher:
    """Sends due webhook deliveries; :meth:`step` is one round (a background worker's)."""

    def __init__(
        self,
        store: FindingStore,
        signer: Signer,
        key_name: str,
        clock: Callable[[], datetime] = utc_now,
        *,
        describe: Callable[[StoredFinding], dict[str, Any]],
        backoff_s: float = 1.0,
        timeout_s: float = TIMEOUT_S,
        max_attempts: int = MAX_ATTEMPTS,
        parallel: int = 8,
        batch: int = 100,
        lock: _Lock | None = None,
        allow_networks: Iterable[str] = (),
        resolver: Resolver = system_resolver,
        transport: Callable[[], httpx.BaseTransport] = direct_transport,
    ) -> None:
        """``key_name`` is the name in the log's vkey (the log origin): with the signer's
        public key it gives the ``key_id`` receivers match against the vkey. With ``lock``
        (a :class:`api.background.SingletonLock`), only its holder sends. ``describe``
        renders a finding as ``GET /v1/findings/{id}`` does
        (:meth:`api.services.catalog.CatalogService.describe_finding`).

        ``allow_networks`` (CIDRs) are the private networks hooks may reach besides public
        addresses; ``resolver`` resolves hook hosts, and ``transport`` makes the connection
        layer that is handed the checked address (both seams for tests)."""
        self._store, self._signer, self._clock, self._lock = store, signer, clock, lock
        self._describe = describe
        self._policy = OutboundPolicy(allow_networks, resolver)
        self._transport = transport
        self.key_id = note_key_id(key_name, signer.public_key).hex()
        self._backoff, self._timeout = backoff_s, timeout_s
        self._max_attempts, self._parallel, self._batch = max_attempts, parallel, batch

    def step(self) -> int:
        """Send every due delivery once; returns how many were delivered."""
        if self._lock is not None and not self._lock.acquire():
            return 0
        due = self._store.due_deliveries(limit=self._batch)
        if not due:
            return 0
        attempts = self._prepare(due)
        with (
            pinned_client(self._policy, timeout=self._timeout, transport=self._transport) as client,
            ThreadPoolExecutor(max_workers=min(self._parallel, len(attempts))) as pool,
        ):
            results = list(pool.map(lambda a: self._send(client, a), attempts))
        return sum(results)

    def _prepare(self, due: list[dict[str, Any]]) -> list[_Attempt]:
        findings: dict[str, dict[str, Any]] = {}
        prepared = []
        for row in due:
            finding_id = row["finding_id"]
            if finding_id not in findings:
                findings[finding_id] = self._describe(self._store.get(finding_id)[0])
            attempt = int(row["attempts"]) + 1
            document = {
                "finding": findings[finding_id],
                "delivery": {"webhook": row["webhook_id"], "attempt": attempt},
            }
            body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
            opening = int(findings[finding_id].get("openings", 1))
            prepared.append(
                _Attempt(row["webhook_id"], finding_id, attempt, row["url"], body, opening)
            )
        return prepared

    def _send(self, client: httpx.Client, attempt: _Attempt) -> bool:
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(self._signer, self.key_id, timestamp, attempt.body),
            DELIVERY_HEADER: f"{attempt.webhook_id}/{attempt.finding_id}"
            + (f"/{attempt.opening}" if attempt.opening > 1 else ""),
        }
        error: str | None
        try:
            # The text first: the parsed URL no longer shows an empty userinfo (``http://@h``).
            self._policy.check_url(attempt.url)
            answer = client.post(attempt.url, content=attempt.body, headers=headers)
            error = _status_error(answer.status_code)
        except DestinationRefusedError as refused:
            error = f"refused ({refused.reason}): {refused.detail}"
        except RefusedRequestError as exc:
            error = f"refused ({exc.refused.reason}): {exc.refused.detail}"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        retry_at = None
        if error is not None and attempt.attempt < self._max_attempts:
            delay = min(self._backoff * 2 ** (attempt.attempt - 1), MAX_BACKOFF_S)
            retry_at = format_utc(self._clock() + timedelta(seconds=delay))
        if error is not None:
            log.info("webhook %s: attempt %d for %s failed (%s)%s", attempt.webhook_id,
                     attempt.attempt, attempt.finding_id, error,
                     "" if retry_at else "; giving up")  # fmt: skip
        self._store.delivery_done(
            attempt.webhook_id, attempt.finding_id, error=error, retry_at=retry_at
        )
        return error is None


def _status_error(status: int) -> str | None:
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status} (redirects are not followed)"
    return f"HTTP {status}"
