"""One deployment: a database, a keystore, and the ingest path wired together."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.catalogs import load_registry
from api.keystore import FileKeystore, pinned_trust
from ledger.catalog import CatalogRegistry
from ledger.certificates import Certificate, CertRole, issue_certificate
from ledger.codes import Packaging, SignedCode, issue_batch
from ledger.ingest import Ingestor
from ledger.licences import Licence
from ledger.records import issue_record
from ledger.signing import ED25519, Signer
from ledger.statements import Receipt
from ledger.store.migrate import open_store
from ledger.store.repository import Clock, SqlLedgerStore, utc_now
from ledger.verify import TrustedKeys

DEFAULT_DB = "sqlite:///var/chemtrace.db"
REPLICA_ENV = "CHEMTRACE_REPLICA_DB"


def replica_urls() -> list[str]:
    """The standbys named in ``CHEMTRACE_REPLICA_DB`` (comma-separated URLs)."""
    return [url.strip() for url in os.environ.get(REPLICA_ENV, "").split(",") if url.strip()]


CERT_FROM = "2020-01-01T00:00:00Z"
CERT_UNTIL = "2036-01-01T00:00:00Z"


@dataclass
class Deployment:
    """The ledger of one deployment, with its dev keystore."""

    store: SqlLedgerStore
    keys: FileKeystore
    ingestor: Ingestor
    catalogs: CatalogRegistry
    _trusted: TrustedKeys | None = field(default=None, init=False, repr=False)

    @classmethod
    def open(
        cls,
        db_url: str,
        keys_dir: Path,
        *,
        clock: Clock = utc_now,
        migrate: bool = True,
        replicas: Sequence[str] | None = None,
    ) -> Deployment:
        """Open (migrating and initialising as needed) the ledger at ``db_url``; ``clock``
        gives the log times of appends (a simulation runs its own). ``replicas``, the
        cluster's other nodes (default: ``CHEMTRACE_REPLICA_DB``), fence a former primary:
        every chemtrace process that writes opens its ledger here."""
        keys = FileKeystore(keys_dir)
        peers = replica_urls() if replicas is None else replicas
        store = open_store(
            db_url, origin=keys.origin, clock=clock, migrate=migrate, fence_peers=peers
        )
        root = keys.root_signer()
        catalogs = load_registry()
        ingestor = Ingestor(
            store,
            log_signer=keys.log_signer(),
            root_algorithm=ED25519,
            root_public_key=root.public_key,
            catalogs=catalogs,
            genesis=store.item_genesis,
        )
        return cls(store=store, keys=keys, ingestor=ingestor, catalogs=catalogs)

    def trusted_keys(self) -> TrustedKeys:
        """The keys an auditor on this machine pins: the published vkeys, never the database
        (read once per process)."""
        if self._trusted is None:
            self._trusted = pinned_trust(self.keys.directory)
        return self._trusted

    def certify_org(
        self, org: str, *, valid_from: str = CERT_FROM, valid_until: str = CERT_UNTIL
    ) -> Signer:
        """Create (or load) an organisation key and log its root-signed certificate."""
        return self._certify(
            "org", org, f"org-{org}", self.keys.root_signer(), (valid_from, valid_until)
        )

    def certify_device(
        self, org: str, name: str, *, valid_from: str = CERT_FROM, valid_until: str = CERT_UNTIL
    ) -> Signer:
        """Create (or load) a device key and log its certificate, signed by the org key."""
        issuer = self.keys.signer(f"org-{org}")
        return self._certify(
            "device", org, f"device-{org}-{name}", issuer, (valid_from, valid_until)
        )

    def _certify(
        self, role: CertRole, org: str, key_name: str, issuer: Signer, window: tuple[str, str]
    ) -> Signer:
        signer = self.keys.signer(key_name)
        self.certify_key(role, org, signer.public_key, issuer, window)
        return signer

    def certify_key(
        self,
        role: CertRole,
        org: str,
        public_key: bytes,
        issuer: Signer,
        window: tuple[str, str],
    ) -> tuple[Certificate, Receipt]:
        """Log a certificate of an Ed25519 ``public_key`` (held here or on a device)."""
        cert = issue_certificate(
            issuer,
            role=role,
            subject_algorithm=ED25519,
            subject_public_key=public_key,
            org=org,
            valid_from=window[0],
            valid_until=window[1],
        )
        root = self.keys.root_signer()
        receipt = self.store.append_certificate(
            cert, root=(root.algorithm, root.public_key), log_signer=self.keys.log_signer()
        )
        return cert, receipt

    def certify_device_key(
        self, org: str, public_key: bytes, window: tuple[str, str]
    ) -> tuple[Certificate, Receipt]:
        """Certify a device's public key under ``org``'s key (certifying that first if new)."""
        org_key = self.keys.signer(f"org-{org}")
        if not self.store.certificates([org_key.key_id]):
            self.certify_org(org)
        return self.certify_key("device", org, public_key, org_key, window)

    def issue_codes(
        self,
        org: str,
        form_id: str,
        packaging: Packaging,
        batch_id: str,
        count: int,
        *,
        issued_at: str,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        gs1_keys: Sequence[str] | None = None,
    ) -> list[SignedCode]:
        """Issue a batch of registry-signed codes to ``org`` and log the batch."""
        root = self.keys.root_signer()
        codes = issue_batch(org, form_id, packaging, batch_id, issued_at, count, root,
                            random_bytes, gs1_keys=gs1_keys)  # fmt: skip
        self.store.append_code_batch(codes, root=(root.algorithm, root.public_key),
                                     log_signer=self.keys.log_signer())  # fmt: skip
        return codes

    def record(self, kind: str, record_id: str, attrs: Mapping[str, Any]) -> Receipt:
        """Sign a registry record (validated) with the root key and log it."""
        root = self.keys.root_signer()
        return self.store.append_record(
            issue_record(root, kind, record_id, attrs),
            root=(root.algorithm, root.public_key), log_signer=self.keys.log_signer(),
        )  # fmt: skip

    def license(self, licence: Licence) -> Receipt:
        """Log a registry-signed licence record."""
        root = self.keys.root_signer()
        return self.store.append_licence(
            licence, root=(root.algorithm, root.public_key), log_signer=self.keys.log_signer()
        )

    def checkpoint(self) -> str | None:
        """Sign a checkpoint covering every entry so far (with both keys during a rotation)."""
        incoming = self.keys.next_log_signer()
        return self.store.write_checkpoint(
            log_signer=self.keys.log_signer(),
            note_name=self.keys.origin,
            also_sign=() if incoming is None else (incoming,),
        )
