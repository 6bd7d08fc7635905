"""The ingest path: parse, check signatures, then append atomically.

Cheap and CPU-heavy checks (strict parsing, Ed25519 verification) run before
the store takes any lock; the store then judges chain heads and key validity at
the log time inside one transaction (see :mod:`ledger.append`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from ledger.append import AppendPlan, Outcome, Rejected, connected_groups, reject_group
from ledger.catalog import CatalogRegistry
from ledger.certificates import Certificate, TrustStore
from ledger.envelope import CAPTURE_ALG, SignedEvent, open_envelope
from ledger.errors import (
    KeyNotValidAtLogTimeError,
    LedgerError,
    SignatureInvalidError,
    UnknownKeyError,
)
from ledger.events import Commission, EventBody
from ledger.signing import Signer
from ledger.timefmt import parse_utc
from ledger.units import CatalogUnits, check_event_units, chemical_of, event_quantities

_CHEMICALS_CACHED = 100_000
_KEY_ERRORS: tuple[type[LedgerError], ...] = (UnknownKeyError, KeyNotValidAtLogTimeError)


def _rejected_for(outcome: Outcome | None, errors: tuple[type[LedgerError], ...]) -> bool:
    return isinstance(outcome, Rejected) and isinstance(outcome.error, errors)


class EventStore(Protocol):
    """What ingest needs from storage (implemented by ``ledger.store``)."""

    def certificates(self, key_ids: Iterable[str] | None = None) -> list[Certificate]:
        """Logged certificates of ``key_ids``, in log order."""
        ...

    def append_events(
        self,
        events: Sequence[SignedEvent],
        *,
        trust: TrustStore,
        log_signer: Signer,
        atomic: bool = False,
    ) -> AppendPlan:
        """Append atomically and return what was written."""
        ...


class Ingestor:
    """Accepts signed events into the log."""

    def __init__(
        self,
        store: EventStore,
        *,
        log_signer: Signer,
        root_algorithm: str,
        root_public_key: bytes,
        catalogs: CatalogRegistry | None = None,
        genesis: Callable[[str], EventBody | None] | None = None,
    ) -> None:
        """``catalogs``, when given, must know every event's catalog version and chemical,
        and every quantity must convert to kilograms of its item's form. ``genesis`` gives
        an item's first logged event, so a use or count is judged by its item's chemical."""
        self._store = store
        self._log_signer = log_signer
        self._trust = TrustStore(root_algorithm, root_public_key)
        self._loaded_keys: set[str] = set()
        self._lock = threading.Lock()
        self._catalogs = catalogs
        self._units = None if catalogs is None else CatalogUnits(catalogs)
        self._genesis = genesis
        self._chemicals: dict[str, str | None] = {}
        """Items' chemicals as logged: a logged first event never changes."""
        self._vouched: dict[bytes, bytes] = {}
        """Derived events being appended, each with the signed-capture entry it cites."""

    def vouch(self, authority: bytes, event_hashes: Iterable[bytes]) -> None:
        """Admit these derived events (until :meth:`release`): their signed capture, logged
        as ``authority``, verified. Nothing else can admit an event without a signature."""
        with self._lock:
            self._vouched.update(dict.fromkeys(event_hashes, authority))

    def release(self, event_hashes: Iterable[bytes]) -> None:
        with self._lock:
            for event_hash in event_hashes:
                self._vouched.pop(event_hash, None)

    def submit(self, raw_events: Sequence[object], *, atomic: bool = False) -> list[Outcome]:
        r"""Append a batch; each event gets an outcome, in order.

        Items are raw envelopes (JSON objects) or already opened :class:`SignedEvent`\ s.

        The atomic unit is the connected group of items events touch together: one failure,
        before or inside the store, rejects its whole group and nothing else. ``atomic``
        makes the whole batch one group: one failure rejects every event.
        """
        outcomes: list[Outcome | None] = [None] * len(raw_events)
        parsed: list[tuple[int, SignedEvent]] = []
        for position, raw in enumerate(raw_events):
            try:
                opened = raw if isinstance(raw, SignedEvent) else open_envelope(raw)
                parsed.append((position, opened))
            except LedgerError as exc:
                outcomes[position] = Rejected(exc)
        if atomic and len(parsed) < len(raw_events):
            cause = next(o.error for o in outcomes if isinstance(o, Rejected))
            reject_group(outcomes, range(len(raw_events)), cause)
            return [outcome for outcome in outcomes if outcome is not None]
        if atomic:
            groups = [parsed] if parsed else []
        else:
            groups = [
                [parsed[i] for i in group] for group in connected_groups([e for _, e in parsed])
            ]
        # A certificate may have been logged since the cache was filled: reload and retry the
        # groups that failed on a key, once.
        retry = self._append_groups(groups, outcomes, reload=False, atomic=atomic)
        if retry:
            self._append_groups(retry, outcomes, reload=True, atomic=atomic)
        return [outcome for outcome in outcomes if outcome is not None]

    def _append_groups(
        self,
        groups: list[list[tuple[int, SignedEvent]]],
        outcomes: list[Outcome | None],
        *,
        reload: bool,
        atomic: bool = False,
    ) -> list[list[tuple[int, SignedEvent]]]:
        """Check and append ``groups``; return the groups whose failure was a key error."""
        keys = {event.key_id for group in groups for _, event in group}
        trust = self._trust_for(keys, reload=reload)
        ready: list[tuple[int, SignedEvent]] = []
        for group in groups:
            for position, _ in group:  # a retried group is judged afresh
                outcomes[position] = None
            failure = self._first_failure(group, trust)
            if failure is None:
                ready.extend(group)
            else:
                failed, error = failure
                outcomes[failed] = Rejected(error)
                reject_group(outcomes, [position for position, _ in group], error)
        if ready:
            plan = self._store.append_events(
                [event for _, event in ready], trust=trust, log_signer=self._log_signer,
                atomic=atomic,
            )  # fmt: skip
            for (position, _), outcome in zip(ready, plan.outcomes, strict=True):
                outcomes[position] = outcome
        return [
            group
            for group in groups
            if any(_rejected_for(outcomes[position], _KEY_ERRORS) for position, _ in group)
        ]

    def _first_failure(
        self, group: list[tuple[int, SignedEvent]], trust: TrustStore
    ) -> tuple[int, LedgerError] | None:
        for position, event in group:
            try:
                self._verify(event, trust)
            except LedgerError as exc:
                return position, exc
        return None

    def _trust_for(self, key_ids: set[str], *, reload: bool = False) -> TrustStore:
        """The cached trust store, extended with the certificates of ``key_ids`` not yet loaded.

        Logged certificates are append-only, so a cache can only be incomplete, never wrong.
        """
        with self._lock:
            wanted = sorted(key_ids if reload else key_ids - self._loaded_keys)
            if not wanted:
                return self._trust
            devices = self._store.certificates(wanted)
            issuers = sorted({cert.issuer for cert in devices})
            for cert in self._store.certificates(issuers) if issuers else []:
                if cert.role == "org":
                    self._trust.add(cert)
            for cert in devices:
                if cert.role == "device":
                    self._trust.add(cert)
            self._loaded_keys.update(wanted)
            return self._trust

    def _check_catalog(self, event: SignedEvent) -> None:
        if self._catalogs is None or self._units is None:
            return
        catalog = self._catalogs.check_event_version(
            event.body.catalog_version, at=parse_utc(event.body.time).date()
        )
        if isinstance(event.body, Commission):
            catalog.resolve(event.body.data.chemical)
        check_event_units(event.body, self._units, self._known_chemicals(event.body))

    def _known_chemicals(self, body: EventBody) -> dict[str, str | None]:
        """The logged chemical of each item ``body`` continues (not of one it starts).

        Only what the log holds is cached, never an unverified event's claim; an item not
        logged yet (its commission in the same batch) is left to the engine.
        """
        if self._genesis is None or not event_quantities(body):
            return {}
        found: dict[str, str | None] = {}
        for link in body.items:
            if link.seq == 0:
                continue
            if link.code not in self._chemicals:
                chemical = chemical_of(link.code, self._genesis)
                if chemical is None:
                    continue
                if len(self._chemicals) >= _CHEMICALS_CACHED:
                    self._chemicals.clear()
                self._chemicals[link.code] = chemical
            found[link.code] = self._chemicals[link.code]
        return found

    def _verify(self, event: SignedEvent, trust: TrustStore) -> None:
        self._check_catalog(event)
        certificates = trust.certificates_for(event.key_id)
        if not certificates:
            raise UnknownKeyError("no certificate for the signing key", key_id=event.key_id)
        if event.algorithm == CAPTURE_ALG:
            with self._lock:
                authority = self._vouched.get(event.event_hash)
            if authority is None or authority != event.signature:
                raise SignatureInvalidError("a derived event enters only with its signed capture")
            return
        if certificates[0].algorithm != event.algorithm:
            raise SignatureInvalidError("signature algorithm does not match the key")
        event.verify(certificates[0].public_key)
