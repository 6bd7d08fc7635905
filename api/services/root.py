"""The composition root: one running service, its parts wired, and its background workers.

The app (``app.state.service``) and the CLI open one :class:`Service`; routes call its
parts (``service.queries``, ``service.ingest``, …), each a service with one job. Nothing
here decides anything about a request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from api.accel import Accelerator, LocalAccelerator, RedisAccelerator
from api.anomaly import FindingsProcess, worker_command
from api.background import Integrator, OutboxRelay, SingletonLock, Worker
from api.deployment import Deployment
from api.replicas import ReadRouter
from api.services.access import AccessService
from api.services.catalog import CatalogService
from api.services.emergency import EmergencyService
from api.services.emergency_pack import PackService
from api.services.epcis import EpcisService
from api.services.epcis_capture import EpcisCaptureService
from api.services.epcis_queries import NamedQueryService
from api.services.filters import Filters
from api.services.findings import FindingsService
from api.services.ingest import IngestService
from api.services.journal import JournalService
from api.services.log import LogService
from api.services.paging import Cursors
from api.services.queries import QueryService
from api.services.records import Records
from api.services.registry import RegistryService
from api.services.signed_capture import SignedCaptureService
from api.services.tiles import TileService
from api.settings import Settings
from api.webhooks import WebhookDispatcher
from api.witnessing import WitnessEndpoint, Witnessing, configured_policy
from ledger.store.engine import make_engine
from ledger.store.epcis_capture import SqlCaptureJobs
from ledger.store.epcis_queries import SqlNamedQueries
from ledger.store.findings import FindingStore
from ledger.store.repository import SqlLedgerStore
from ledger.store.service import ServiceStore
from ledger.store.witnessing import WitnessingStore


@dataclass
class Service:
    """One running service: the ledger, its services, accelerators and background workers."""

    settings: Settings
    deployment: Deployment
    accel: Accelerator
    access: AccessService
    registry: RegistryService
    queries: QueryService
    journal: JournalService
    ingest: IngestService
    log: LogService
    findings: FindingsService
    integrator: Integrator
    witnessing: Witnessing
    _store: ServiceStore
    _reads: ServiceStore
    router: ReadRouter
    workers: list[Worker] = field(default_factory=list)
    findings_process: FindingsProcess | None = None

    @classmethod
    def open(cls, settings: Settings) -> Service:
        deployment = Deployment.open(settings.db, settings.keys, replicas=settings.replica_db)
        engine = deployment.store.engine
        store = ServiceStore(engine)
        # reads that may lag go through ``router`` (api.replicas); auth, writes and heads
        # use ``store`` and ``deployment.store``, the primary's
        router = ReadRouter.of(engine, [make_engine(url) for url in settings.replica_db])
        reads = ServiceStore(router.engine()) if settings.replica_db else store
        log_reads = (SqlLedgerStore(router.engine(), origin=deployment.keys.origin)
                     if settings.replica_db else deployment.store)  # fmt: skip
        accel: Accelerator = (
            RedisAccelerator(settings.redis_url, namespace=settings.redis_namespace)
            if settings.redis_url
            else LocalAccelerator()
        )
        records = Records(deployment.store)
        access = AccessService(store, records)
        registry = RegistryService(deployment, store, records, access, settings.base_url)
        endpoints = [WitnessEndpoint.parse(text) for text in settings.witnesses]
        queries = QueryService(
            deployment,
            reads,
            records,
            access,
            registry,
            witnesses=([e.name for e in endpoints], settings.witness_quorum),
            policy=configured_policy(
                deployment.trusted_keys().log, endpoints, settings.witness_quorum
            ),
            log_reads=log_reads,
        )
        journal = JournalService(store, records, registry, access)
        cosignatures = WitnessingStore(engine)
        lock = SingletonLock(settings.db, engine)
        witnessing = Witnessing(
            deployment.store, cosignatures, endpoints, accel,
            quorum=settings.witness_quorum, lock_held=lambda: lock.held,
            timeout_s=settings.witness_timeout_s, backoff_s=settings.witness_backoff_s,
        )  # fmt: skip
        return cls(
            settings=settings,
            deployment=deployment,
            accel=accel,
            access=access,
            registry=registry,
            queries=queries,
            journal=journal,
            ingest=IngestService(settings, deployment, accel, queries, journal),
            log=LogService(deployment, accel, cosignatures, log_reads),
            findings=FindingsService(FindingStore(engine), deployment.keys.log_vkey),
            integrator=Integrator(
                store, deployment.checkpoint, lock, accel, on_checkpoint=witnessing.wake
            ),
            witnessing=witnessing,
            _store=store,
            _reads=reads,
            router=router,
        )

    @cached_property
    def epcis(self) -> EpcisService:
        """EPCIS 2.0 queries (``/epcis/``), scoped like :attr:`queries`, with log proofs."""
        jobs = SqlCaptureJobs(self.deployment.store.engine)
        return EpcisService(self.deployment, self._reads, self.queries, self.registry, self.log,
                            jobs)  # fmt: skip

    @cached_property
    def epcis_queries(self) -> NamedQueryService:
        """EPCIS 2.0 named queries (``/epcis/queries``), run through :attr:`epcis`."""
        return NamedQueryService(SqlNamedQueries(self.deployment.store.engine), self.queries)

    @cached_property
    def epcis_capture(self) -> EpcisCaptureService:
        """EPCIS 2.0 capture (``/epcis/capture``, ``/epcis/events``) through :attr:`ingest`."""
        jobs = SqlCaptureJobs(self.deployment.store.engine)
        return EpcisCaptureService(self.settings, jobs, self.registry, self.queries, self.ingest)

    @cached_property
    def signed_capture(self) -> SignedCaptureService:
        """RFC 9421-signed EPCIS capture (``/epcis/capture/signed``): derived events."""
        jobs = SqlCaptureJobs(self.deployment.store.engine)
        return SignedCaptureService(self.deployment, jobs, self.registry, self.ingest,
                                    self.epcis_capture)  # fmt: skip

    @cached_property
    def catalog(self) -> CatalogService:
        """Every catalog version, and the chemical lookup the filters use."""
        return CatalogService(self.deployment.catalogs)

    @cached_property
    def filters(self) -> Filters:
        """The list endpoints' shared filters, checked against the caller's scope."""
        return Filters(self.registry, self.access, self.catalog)

    @cached_property
    def cursors(self) -> Cursors:
        """Signs and opens the list endpoints' page cursors (a key derived from the log's)."""
        return Cursors.derived(self.deployment.keys.log_signer().sign)

    @cached_property
    def emergency(self) -> EmergencyService:
        """What hazardous material is near a point (``/v1/emergency/nearby``, the console)."""
        return EmergencyService(self.deployment.store, self.deployment.catalogs,
                                self.queries.units, read_model=self.queries.read_model)  # fmt: skip

    @cached_property
    def emergency_pack(self) -> PackService:
        """The signed offline responder pack of a district (``/v1/emergency/pack``)."""
        return PackService(self.emergency, self.deployment.store, self.deployment.keys.log_signer())

    @cached_property
    def tiles(self) -> TileService:
        """The log as C2SP tlog-tiles (``/tlog/``), following :attr:`log`'s checkpoint."""
        return TileService(self.deployment, self.log)

    def start(self) -> None:
        """Start the integrator (and the relay when Redis is configured)."""
        if not self.settings.background or self.workers:
            return
        settings = self.settings
        self.workers.append(
            Worker("integrator", settings.checkpoint_interval_s, self.integrator.step)
        )
        if self.witnessing.anchors:
            self.workers.append(Worker("witnessing", 1.0,
                                       lambda: self.witnessing.step(wait=False),
                                       wakeup=self.witnessing.wakeup))  # fmt: skip
        if isinstance(self.accel, RedisAccelerator):
            relay = OutboxRelay(self._store, self.accel.client, self.accel.key("entries"))
            self.workers.append(Worker("outbox-relay", settings.relay_interval_s, relay.step))
        if settings.findings:
            self.findings_process = FindingsProcess(worker_command(
                settings.db, settings.rules, settings.redis_url, settings.redis_namespace,
                settings.findings_interval_s, snapshots=settings.findings_snapshots,
                keys=settings.keys))  # fmt: skip
            self.workers.append(Worker("findings-supervisor", 1.0, self.findings_process.step))
        # -- webhooks: push new findings to subscribers (api/webhooks.py) --
        engine = self.deployment.store.engine
        dispatcher = WebhookDispatcher(
            FindingStore(engine), self.deployment.keys.log_signer(), self.deployment.keys.origin,
            describe=self.catalog.describe_finding,
            backoff_s=settings.webhook_backoff_s,
            allow_networks=settings.webhook_allow_networks,
            lock=SingletonLock(settings.db, engine, name="webhooks"),
        )  # fmt: skip
        self.workers.append(Worker("webhooks", settings.webhook_interval_s, dispatcher.step))
        # -- end webhooks --
        for worker in self.workers:
            worker.start()

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers.clear()
        if self.findings_process is not None:
            self.findings_process.close()
        self.integrator.close()
        self.witnessing.close()
        self.router.dispose()
        self.deployment.store.engine.dispose()

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the database answers, with a report of what was checked."""
        checks: dict[str, Any] = {}
        try:
            self._store.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"down: {type(exc).__name__}"
        checks["accelerator"] = self.accel.name
        if self.accel.name == "redis":
            # Redis down degrades (in-process fallbacks), it does not make the service unready.
            checks["redis"] = "ok" if self.accel.healthy() else "degraded"
        size, covered = self._store.checkpoint_state() if checks["database"] == "ok" else (0, 0)
        checks.update(log_size=size, checkpoint_size=covered)
        if self.witnessing.anchors and checks["database"] == "ok":
            # A failing witness is visible here but never makes the service unready: ingest
            # and signing go on, and the cosignatures follow when it is back.
            checks["witnessing"] = self.witnessing.report()
        return checks["database"] == "ok", checks
