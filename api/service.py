"""The service: the ledger deployment plus access control, scopes, journal and read models.

Routes are thin: they parse, call one method here, and shape the answer. Everything a
route needs to decide (who may see what, what to journal) lives here once.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from api.accel import Accelerator, LocalAccelerator, RedisAccelerator
from api.anomaly import FindingsProcess, worker_command
from api.auth import Principal, new_token, token_hash
from api.background import Integrator, OutboxRelay, SingletonLock, Worker
from api.deployment import Deployment
from api.group_commit import GroupCommit
from api.metrics import EVENTS, JOURNAL
from api.problems import ProblemError
from api.scope import Scope
from api.settings import Settings
from api.webhooks import WebhookDispatcher
from ledger.append import Accepted, Outcome, Rejected
from ledger.codes import SignedCode, label_url, normalise_code
from ledger.commitments import disclose
from ledger.custody import visible_events
from ledger.envelope import SignedEvent, open_envelope
from ledger.errors import LedgerError, NotRelatedError
from ledger.licences import Licence, issue_licence
from ledger.records import RegistryRecord
from ledger.revocations import issue_revocation
from ledger.state import ItemState, Projection
from ledger.statements import Receipt
from ledger.store.findings import FindingStore
from ledger.store.service import Aggregate, LoggedEvent, ServiceStore
from ledger.timefmt import format_utc

# A custody refusal is journalled as a clone or probing signal (ledger.rules.signals).
_JOURNAL_CODES: Mapping[type[LedgerError], str] = {NotRelatedError: "not_related"}
_CACHE_S = 1.0
K = TypeVar("K")
V = TypeVar("V")


class _Recent(Generic[K, V]):
    """Values remembered for ``_CACHE_S`` seconds (so a change bites within a second)."""

    def __init__(self, most: int = 10_000) -> None:
        self._kept: dict[K, tuple[V, float]] = {}
        self._most = most

    def get(self, key: K, compute: Callable[[], V]) -> V:
        kept = self._kept.get(key)
        if kept is not None and time.monotonic() - kept[1] < _CACHE_S:
            return kept[0]
        if len(self._kept) >= self._most:
            self._kept.clear()
        value = compute()
        self._kept[key] = (value, time.monotonic())
        return value

    def forget(self, key: K | None = None) -> None:
        """Forget ``key``, or everything."""
        if key is None:
            self._kept.clear()
        else:
            self._kept.pop(key, None)


@dataclass
class Service:
    """One running service: ledger, accelerators and background workers."""

    settings: Settings
    deployment: Deployment
    reads: ServiceStore
    accel: Accelerator
    workers: list[Worker] = field(default_factory=list)
    _records: _Recent[str, Mapping[str, RegistryRecord]] = field(default_factory=_Recent)
    _scopes: _Recent[Principal, Scope] = field(default_factory=_Recent)
    _projection: Projection = field(default_factory=Projection)
    _projected_to: int = -1
    _projection_lock: threading.Lock = field(default_factory=threading.Lock)
    integrator: Integrator | None = None
    findings: FindingsProcess | None = None
    _principals: _Recent[bytes, Principal | None] = field(default_factory=_Recent)
    _writes: GroupCommit = field(init=False)

    def __post_init__(self) -> None:
        self._writes = GroupCommit(self.deployment.ingestor.submit)

    # -- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings) -> Service:
        deployment = Deployment.open(settings.db, settings.keys)
        reads = ServiceStore(deployment.store.engine)
        accel: Accelerator = (
            RedisAccelerator(settings.redis_url, namespace=settings.redis_namespace)
            if settings.redis_url
            else LocalAccelerator()
        )
        service = cls(settings=settings, deployment=deployment, reads=reads, accel=accel)
        service.integrator = Integrator(
            reads,
            deployment.checkpoint,
            SingletonLock(settings.db, deployment.store.engine),
            accel,
        )
        return service

    def start(self) -> None:
        """Start the integrator (and the relay when Redis is configured)."""
        if not self.settings.background or self.workers:
            return
        assert self.integrator is not None
        self.workers.append(
            Worker("integrator", self.settings.checkpoint_interval_s, self.integrator.step)
        )
        if isinstance(self.accel, RedisAccelerator):
            relay = OutboxRelay(self.reads, self.accel.client, self.accel.key("entries"))
            self.workers.append(Worker("outbox-relay", self.settings.relay_interval_s, relay.step))
        if self.settings.findings:
            settings = self.settings
            self.findings = FindingsProcess(worker_command(
                settings.db, settings.rules, settings.redis_url, settings.redis_namespace,
                settings.findings_interval_s))  # fmt: skip
            self.workers.append(Worker("findings-supervisor", 1.0, self.findings.step))
        # -- webhooks: push new findings to subscribers (api/webhooks.py) --
        engine = self.deployment.store.engine
        dispatcher = WebhookDispatcher(
            FindingStore(engine), self.log_signer, self.deployment.keys.origin,
            backoff_s=self.settings.webhook_backoff_s,
            allow_networks=self.settings.webhook_allow_networks,
            lock=SingletonLock(self.settings.db, engine, name="webhooks"),
        )  # fmt: skip
        self.workers.append(Worker("webhooks", self.settings.webhook_interval_s, dispatcher.step))
        # -- end webhooks --
        for worker in self.workers:
            worker.start()

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers.clear()
        if self.findings is not None:
            self.findings.close()
        if self.integrator is not None:
            self.integrator.close()
        self.deployment.store.engine.dispose()

    @property
    def log_signer(self) -> Any:
        return self.deployment.keys.log_signer()

    # -- users and tokens ----------------------------------------------------------------------

    def bootstrap_admin(self, token_file: Path) -> str | None:
        """On first start, create the ``admin`` user and write its token to ``token_file``."""
        if self.records("user"):
            return None
        self.put_record("user", "admin", {"role": "admin", "name": "Registry administrator"})
        token = self.issue_token("admin")
        token_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        return token

    def revoke_tokens(self, user_id: str) -> int:
        revoked = self.reads.revoke_tokens(user_id)
        self._principals.forget()
        return revoked

    def issue_token(self, user_id: str) -> str:
        if user_id not in self.records("user"):
            raise ProblemError(404, "unknown_user", f"no user {user_id!r}")
        token = new_token()
        self.reads.add_token(token_hash(token), user_id)
        return token

    def principal_for(self, digest: bytes) -> Principal | None:
        """The caller behind a token hash (cached for a second: a revocation bites within 1 s)."""
        return self._principals.get(digest, lambda: self._lookup_principal(digest))

    def _lookup_principal(self, digest: bytes) -> Principal | None:
        user_id = self.reads.token_user(digest)
        if user_id is None:
            return None
        user = self.records("user").get(user_id)
        if user is None or user.attr("status") != "active":
            return None
        return Principal(
            user_id=user_id,
            role=user.attr("role"),
            org=user.attr("org"),
            districts=frozenset(user.attr("districts") or ()),
        )

    # -- registry records ---------------------------------------------------------------------

    def records(self, kind: str) -> Mapping[str, RegistryRecord]:
        """Newest version of every record of ``kind`` (cached for a second; read-only)."""
        return self._records.get(
            kind, lambda: MappingProxyType(self.deployment.store.records(kind))
        )

    def put_record(self, kind: str, record_id: str, attrs: dict[str, Any]) -> Receipt:
        """Log a new version of a record (validated and registry-signed)."""
        receipt = self.deployment.record(kind, record_id, attrs)
        self._records.forget(kind)
        if kind == "user":
            self._principals.forget()
        if kind in ("org", "site"):
            self._scopes.forget()
        return receipt

    def put_crew(self, record_id: str, attrs: dict[str, Any], person: dict[str, str]) -> Receipt:
        """Crew: the person's details go to the erasable table; the record holds a commitment."""
        disclosure = disclose("person", _person_text(person))
        self.deployment.store.record_disclosure(disclosure, retain_until=attrs["valid_until"])
        return self.put_record("crew", record_id, {**attrs, "person": disclosure.commitment})

    def person(self, commitment: str) -> dict[str, str] | None:
        found = self.deployment.store.disclosure(commitment)
        if found is None:
            return None
        name, _, rest = found.value.partition("\n")
        id_number, _, phone = rest.partition("\n")
        return {"name": name, "id_number": id_number, "phone": phone}

    def orgs_in(self, districts: Iterable[str]) -> set[str]:
        wanted = set(districts)
        return {oid for oid, rec in self.records("org").items() if rec.attr("district") in wanted}

    def sites_in(self, districts: Iterable[str]) -> set[str]:
        wanted = set(districts)
        return {sid for sid, rec in self.records("site").items() if rec.attr("district") in wanted}

    def district_of(self, org: str | None, site: str | None, code: str | None = None) -> str | None:
        """The district of ``site``, else of ``org``, else of the org ``code`` was issued to."""
        if site and (record := self.records("site").get(site)):
            return str(record.attr("district"))
        if org and (record := self.records("org").get(org)):
            return str(record.attr("district"))
        if code:
            try:
                issued = self.signed_code(code)
            except LedgerError:
                issued = None
            if issued is not None and (record := self.records("org").get(issued.facts.org)):
                return str(record.attr("district"))
        return None

    # -- devices and licences -----------------------------------------------------------------

    def certify_device(
        self, org: str, public_key: bytes, valid_from: str, valid_until: str
    ) -> tuple[str, Receipt]:
        self._require_org(org)
        cert, receipt = self.deployment.certify_device_key(
            org, public_key, (valid_from, valid_until)
        )
        return cert.key_id, receipt

    @staticmethod
    def require_manages(principal: Principal, org: str) -> None:
        """403 unless ``principal`` may enrol and revoke ``org``'s devices."""
        if principal.role == "admin" or (principal.role == "enterprise" and principal.org == org):
            return
        raise ProblemError(403, "forbidden", f"you may not manage the devices of {org}")

    def revoke_device(
        self, principal: Principal, key_id: str, effective_from: str, reason: str
    ) -> Receipt:
        certs = [c for c in self.deployment.store.certificates([key_id]) if c.role == "device"]
        if not certs:
            raise ProblemError(404, "unknown_key", f"no device key {key_id}")
        self.require_manages(principal, certs[0].org)
        root = self.deployment.keys.root_signer()
        revocation = issue_revocation(
            root, key_id=key_id, org=certs[0].org, effective_from=effective_from, reason=reason
        )
        return self.deployment.store.append_revocation(
            revocation, root=(root.algorithm, root.public_key), log_signer=self.log_signer
        )

    def _require_org(self, org: str) -> None:
        if org not in self.records("org"):
            raise ProblemError(422, "unknown_org", f"no organisation {org!r}", field="org")

    def put_licence(self, fields: dict[str, Any]) -> tuple[Licence, Receipt]:
        self._require_org(str(fields["org"]))
        licence = issue_licence(self.deployment.keys.root_signer(), **fields)
        return licence, self.deployment.license(licence)

    # -- codes ----------------------------------------------------------------------------------

    def issue_codes(
        self,
        org: str,
        form: str,
        packaging: Any,
        batch: str,
        count: int,
        gs1_keys: Sequence[str] | None,
    ) -> list[SignedCode]:
        self._require_org(org)
        today = datetime.now(UTC)
        self.deployment.catalogs.current(today.date()).resolve(form)
        return self.deployment.issue_codes(
            org, form, packaging, batch, count, issued_at=today.strftime("%Y-%m-%d"),
            gs1_keys=gs1_keys,
        )  # fmt: skip

    def label_url(self, signed: SignedCode) -> str:
        return label_url(signed, self.settings.base_url)

    def signed_code(self, code: str) -> SignedCode | None:
        found = self.reads.issued_code(normalise_code(code))
        return None if found is None else SignedCode.from_json(json.loads(found[1]))

    # -- ingest ------------------------------------------------------------------------------

    def submit(
        self, raw_events: Sequence[object], principal: Principal, client: str | None
    ) -> list[Outcome]:
        """Check scope, serve known receipts from the front, append the rest."""
        parsed: list[SignedEvent | None] = []
        for position, raw in enumerate(raw_events):
            try:
                event = open_envelope(raw)
            except LedgerError:
                parsed.append(None)  # the ingestor reports it with its field
                continue
            self._require_may_write(principal, event, position, client)
            parsed.append(event)
        self._rate_limit(principal, [e for e in parsed if e is not None])
        self._require_not_probing(principal, [e for e in parsed if e is not None])
        outcomes: list[Outcome | None] = [None] * len(raw_events)
        todo: list[int] = []
        remembered = self.accel.remembered_receipts([e.event_hash for e in parsed if e])
        for position, event in enumerate(parsed):
            known = None if event is None else remembered.get(event.event_hash)
            if known is not None:
                outcomes[position] = Accepted(Receipt.from_json(known), duplicate=True)
            else:
                todo.append(position)
        if todo:
            codes = [link.code for i in todo if (e := parsed[i]) for link in e.body.items]
            with self.accel.item_locks(codes):
                done = self._writes.submit(
                    [parsed[i] if parsed[i] is not None else raw_events[i] for i in todo],
                    frozenset(codes),
                )
            for position, outcome in zip(todo, done, strict=True):
                outcomes[position] = outcome
        final = [o for o in outcomes if o is not None]
        self._after_submit(parsed, final, principal, client)
        return final

    def _require_may_write(
        self, principal: Principal, event: SignedEvent, position: int, client: str | None
    ) -> None:
        body = event.body
        if principal.role == "enterprise" and body.org == principal.org:
            return
        inspecting = principal.role == "inspector" and body.type == "inspect"
        if (
            inspecting
            and body.org == principal.org
            and all(self.may_see(principal, link.code) for link in body.items)
        ):  # fmt: skip
            return
        self.journal(
            "org_mismatch",
            f"token of {principal.user_id} ({principal.role}, "
            f"org {principal.org}) submitted a {body.type} event for org {body.org}",
            principal=principal,
            event=event,
            client=client,
        )
        raise ProblemError(
            403,
            "forbidden",
            f"event {position}: a {principal.role} token may not write a {body.type} event for "
            f"organisation {body.org}",
            index=position,
        )

    def _rate_limit(self, principal: Principal, events: Sequence[SignedEvent]) -> None:
        limit = self.settings.rate_limit_per_minute
        if limit <= 0 or not events:
            return
        per_key: dict[str, int] = {}
        for event in events:
            for key in (f"device:{event.key_id}", f"org:{event.body.org}"):
                per_key[key] = per_key.get(key, 0) + 1
        for key, cost in sorted(per_key.items()):
            wait = self.accel.allow(key, cost, limit)
            if wait is not None:
                raise ProblemError(
                    429,
                    "rate_limited",
                    f"{key} is over {limit} events per minute",
                    retry_after=max(1, int(wait)),
                )

    def _require_not_probing(self, principal: Principal, events: Sequence[SignedEvent]) -> None:
        """429 for a device or organisation that spent its budget of custody refusals.

        Writes on items one has no relation to are refused like unknown items; a caller
        who keeps guessing is probing, and is slowed to ``probe_limit_per_minute``.
        """
        limit = self.settings.probe_limit_per_minute
        if limit <= 0 or not events:
            return
        keys = {f"probe:device:{e.key_id}" for e in events} | {f"probe:org:{principal.org}"}
        for key in sorted(keys):
            wait = self.accel.spent(key, limit)
            if wait is not None:
                raise ProblemError(
                    429, "rate_limited", "too many refused writes; slow down",
                    retry_after=max(1, int(wait)),
                )  # fmt: skip

    def _charge_probes(self, principal: Principal, probes: Mapping[str, int]) -> None:
        limit = self.settings.probe_limit_per_minute
        if limit <= 0 or not probes:
            return
        for device, count in sorted(probes.items()):
            self.accel.spend(f"probe:device:{device}", count)
        self.accel.spend(f"probe:org:{principal.org}", sum(probes.values()))

    def _after_submit(
        self,
        parsed: Sequence[SignedEvent | None],
        outcomes: Sequence[Outcome],
        principal: Principal,
        client: str | None,
    ) -> None:
        fresh: dict[bytes, dict[str, Any]] = {}
        probes: dict[str, int] = {}
        for event, outcome in zip(parsed, outcomes, strict=True):
            if isinstance(outcome, Accepted):
                EVENTS.labels("duplicate" if outcome.duplicate else "accepted").inc()
                if event is not None:
                    fresh[event.event_hash] = dict(outcome.receipt.to_json())
            elif isinstance(outcome, Rejected):
                EVENTS.labels(outcome.error.code).inc()
                if outcome.error.fraud:
                    journal_code = _JOURNAL_CODES.get(type(outcome.error), outcome.error.code)
                    self.journal(
                        journal_code,
                        outcome.error.diagnostics(),
                        principal=principal,
                        event=event,
                        client=client,
                        aggregate_by="device_key" if event is not None else None,
                    )
                if isinstance(outcome.error, NotRelatedError) and event is not None:
                    probes[event.key_id] = probes.get(event.key_id, 0) + 1
        self.accel.remember_receipts(fresh)
        self._charge_probes(principal, probes)

    def journal(
        self,
        code: str,
        detail: str,
        *,
        principal: Principal | None = None,
        event: SignedEvent | None = None,
        client: str | None = None,
        item: str | None = None,
        aggregate_by: Aggregate | None = None,
    ) -> None:
        """Journal a refusal; with ``aggregate_by`` (``client`` or ``device_key``), repeats
        of it in one window are one row with a count (see :meth:`ServiceStore.journal`)."""
        body = event.body if event is not None else None
        org = body.org if body is not None else (principal.org if principal else None)
        site = body.site if body is not None else None
        item_code = item or (body.items[0].code if body is not None else None)
        self.reads.journal(
            code,
            detail,
            aggregate_by=aggregate_by,
            user_id=principal.user_id if principal else None,
            org=org,
            device_key=event.key_id if event is not None else None,
            item_code=item_code,
            site=site,
            district=self.district_of(org, site, item_code),
            client=client,
        )
        JOURNAL.labels(code).inc()

    # -- reads and scope ---------------------------------------------------------------------

    def scope(self, principal: Principal) -> Scope:
        """What ``principal`` may see (remembered for a second: a district's orgs and sites
        take a scan of every record)."""
        return self._scopes.get(principal, lambda: self._scope(principal))

    def _scope(self, principal: Principal) -> Scope:
        if principal.role == "admin":
            return Scope(orgs=None)
        if principal.role == "enterprise":
            return Scope(orgs=frozenset({principal.org} if principal.org else ()))
        return Scope(
            orgs=frozenset(self.orgs_in(principal.districts)),
            sites=frozenset(self.sites_in(principal.districts)),
            by_site=True,
        )

    def visible_record(self, principal: Principal, kind: str, record_id: str) -> RegistryRecord:
        """The newest version of a record ``principal`` may see; else 404 ``<kind>_not_found``
        (a record out of scope answers exactly like a missing one)."""
        record = self.records(kind).get(record_id)
        if record is None or not self.scope(principal).sees_record(kind, record):
            raise ProblemError(
                404, f"{kind}_not_found", f"no {kind} {record_id!r} within your scope"
            )
        return record

    def visible_code(self, principal: Principal, code: str) -> SignedCode:
        """A code issued to an organisation in ``principal``'s scope, or whose item was
        handled in scope; else 404 ``unknown_code`` (out of scope answers like unknown)."""
        signed = self.signed_code(code)
        scope = self.scope(principal)
        if signed is None or not (
            scope.sees_org(signed.facts.org)
            or scope.sees_parties(*self.reads.item_parties(signed.code))
        ):
            raise ProblemError(404, "unknown_code", f"no code {code} issued within your scope")
        return signed

    def may_see(self, principal: Principal, code: str) -> bool:
        """Whether ``principal`` may see item ``code`` (one that exists)."""
        if principal.role == "enterprise":
            return any(self.item_view(principal, code).visible)
        orgs, sites = self.reads.item_parties(code)
        return bool(orgs) and self.scope(principal).sees_parties(orgs, sites)

    def require_item_visible(self, principal: Principal, code: str) -> str:
        """The canonical code, if the item exists and ``principal`` may see it; else 404.

        An item out of scope is reported exactly like a missing one, so scopes leak nothing.
        """
        try:
            canonical = normalise_code(code)
        except LedgerError:
            canonical = code
        if self.may_see(principal, canonical):
            return canonical
        raise ProblemError(404, "item_not_found", f"no item {code} within your scope")

    def item_view(self, principal: Principal, code: str) -> ItemView:
        """The item's chain and which of its events ``principal`` may see.

        Regulators, inspectors and admins see the whole chain of an item in their scope; an
        enterprise sees the span of its own involvement with the handoffs into and out of it
        (:func:`ledger.custody.visible_events`).
        """
        events = self.reads.item_events(code)
        if principal.role != "enterprise" or principal.org is None:
            return ItemView(code, events, [True] * len(events))
        chain = [(logged.event.body, logged.event.event_hash) for logged in events]
        return ItemView(code, events, visible_events(principal.org, code, chain))

    def item_events(self, code: str) -> list[LoggedEvent]:
        """Every event of an item (for views that show no event, like the public page)."""
        return self.reads.item_events(code)

    def require_current_party(self, principal: Principal, code: str) -> str:
        """The canonical code if ``principal`` may take the item's whole offline bundle.

        A bundle proves the whole chain, so an enterprise gets one only while it is a party
        to the item now (its holder, or the carrier or consignee of its open shipment).
        """
        canonical = self.require_item_visible(principal, code)
        if principal.role == "enterprise" and not self.item_view(principal, canonical).current:
            raise ProblemError(404, "item_not_found", f"no item {code} within your scope")
        return canonical

    def projection(self, at: str | None = None) -> dict[str, ItemState]:
        """Every item's state now (incrementally maintained) or at time ``at`` (replayed)."""
        if at is not None:
            projection = Projection()
            projection.apply_all(e.event.body for e in self.reads.all_events(until_time=at))
            return projection.items
        with self._projection_lock:
            while page := self.reads.events_since(self._projected_to):
                self._projection.apply_all(e.event.body for e in page)
                self._projected_to = page[-1].index
            return dict(self._projection.items)

    def now(self) -> str:
        return format_utc(datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item's events in chain order and, for each, whether the caller may see it."""

    code: str
    events: Sequence[LoggedEvent]
    visible: Sequence[bool]

    @property
    def current(self) -> bool:
        """Whether the caller sees the item's newest event (it is a party to it now)."""
        return bool(self.visible) and self.visible[-1]

    @property
    def seen(self) -> list[LoggedEvent]:
        return [e for e, shown in zip(self.events, self.visible, strict=True) if shown]

    @property
    def known_prefix(self) -> list[LoggedEvent]:
        """The chain up to the newest event the caller may see."""
        last = max((i for i, shown in enumerate(self.visible) if shown), default=-1)
        return list(self.events[: last + 1])


def _person_text(person: dict[str, str]) -> str:
    return "\n".join(person.get(name, "") for name in ("name", "id_number", "phone"))
