"""The registry: records (crew with their erasable personal data), devices, licences, codes.

Every change is a new registry-signed log entry; nothing is overwritten. Reads answer
within the caller's scope, and a record out of scope is reported exactly like a missing one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from api.deployment import Deployment
from api.services.access import AccessService, Principal
from api.services.errors import (
    CodeNotFoundError,
    ErasedError,
    NotDeviceManagerError,
    NotFoundError,
    UnknownDeviceKeyError,
    UnknownOrgError,
)
from api.services.records import Records
from ledger.catalog import Catalog
from ledger.certificates import Certificate
from ledger.codes import Packaging, SignedCode, label_url, normalise_code, verify_code
from ledger.commitments import disclose
from ledger.licences import Licence, issue_licence
from ledger.records import RegistryRecord
from ledger.revocations import issue_revocation
from ledger.statements import Receipt
from ledger.store.external_ids import GS1_SCHEME, SqlExternalIds
from ledger.store.service import ServiceStore


class RegistryService:
    """Registry writes (admin-only at the routes) and the registry's scoped reads."""

    def __init__(
        self, deployment: Deployment, store: ServiceStore, records: Records,
        access: AccessService, base_url: str,
    ) -> None:  # fmt: skip
        self._deployment, self._store, self._records = deployment, store, records
        self._access, self._base_url = access, base_url
        self._external_ids = SqlExternalIds(deployment.store.engine)

    # -- records -------------------------------------------------------------------------------

    def records(self, kind: str) -> Mapping[str, RegistryRecord]:
        """Newest version of every record of ``kind`` (cached for a second; read-only)."""
        return self._records.of(kind)

    def put_record(self, kind: str, record_id: str, attrs: dict[str, Any]) -> Receipt:
        """Log a new version of a record (validated and registry-signed)."""
        receipt = self._deployment.record(kind, record_id, attrs)
        self._records.changed(kind)
        return receipt

    def put_crew(self, record_id: str, attrs: dict[str, Any], person: dict[str, str]) -> Receipt:
        """Crew: the person's details go to the erasable table; the record holds a commitment."""
        disclosure = disclose("person", _person_text(person))
        self._deployment.store.record_disclosure(disclosure, retain_until=attrs["valid_until"])
        return self.put_record("crew", record_id, {**attrs, "person": disclosure.commitment})

    def person(self, commitment: str) -> dict[str, str] | None:
        found = self._deployment.store.disclosure(commitment)
        if found is None:
            return None
        name, _, rest = found.value.partition("\n")
        id_number, _, phone = rest.partition("\n")
        return {"name": name, "id_number": id_number, "phone": phone}

    def crew_person(
        self, principal: Principal, record_id: str, reason: str | None = None
    ) -> dict[str, str]:
        """The personal data of a crew member ``principal`` may see, unless it was erased.

        Every read is kept in the audit trail (who, when, whose commitment, why), PIPL arts.
        51 and 55; an erased person's data was not read, so that is not kept.
        """
        record = self.visible_record(principal, "crew", record_id)
        commitment = str(record.attr("person"))
        person = self.person(commitment)
        if person is None:
            raise ErasedError(record_id)
        self._store.record_personal_read(principal.user_id, commitment, "crew", record_id,
                                         reason)  # fmt: skip
        return person

    def personal_reads(
        self, *, user_id: str | None, since: str | None, limit: int,
        after: tuple[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
        """A page of the audit trail of personal data reads, newest first, and its total."""
        found = self._store.personal_reads(user_id=user_id, since=since, limit=limit,
                                           after=after)  # fmt: skip
        total = self._store.personal_reads_count(user_id=user_id, since=since)
        return [row.to_json() for row in found], total

    def visible_record(self, principal: Principal, kind: str, record_id: str) -> RegistryRecord:
        """The newest version of a record ``principal`` may see."""
        record = self._records.of(kind).get(record_id)
        if record is None or not self._access.scope(principal).sees_record(kind, record):
            raise _no_record(kind, record_id)
        return record

    def visible_records(self, principal: Principal, kind: str) -> list[RegistryRecord]:
        """The records of ``kind`` ``principal`` may see, by id."""
        scope = self._access.scope(principal)
        return [rec for _, rec in sorted(self._records.of(kind).items())
                if scope.sees_record(kind, rec)]  # fmt: skip

    def record_history(
        self, principal: Principal, kind: str, record_id: str
    ) -> list[tuple[int, RegistryRecord]]:
        """Every version of a record ``principal`` may see now, oldest first, with its log
        index."""
        history = self._deployment.store.record_history(kind, record_id)
        if not history or not self._access.scope(principal).sees_record(kind, history[-1][1]):
            raise _no_record(kind, record_id)
        return history

    def bootstrap_admin(self, token_file: Path) -> str | None:
        """On first start, create the ``admin`` user and write its token to ``token_file``."""
        if self.records("user"):
            return None
        self.put_record("user", "admin", {"role": "admin", "name": "Registry administrator"})
        token = self._access.issue_token("admin")
        token_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        return token

    def _require_org(self, org: str) -> None:
        if org not in self._records.of("org"):
            raise UnknownOrgError(org)

    # -- devices and licences ------------------------------------------------------------------

    @staticmethod
    def require_manages(principal: Principal, org: str) -> None:
        """Refuse unless ``principal`` may enrol and revoke ``org``'s devices."""
        if principal.role == "admin" or (principal.role == "enterprise" and principal.org == org):
            return
        raise NotDeviceManagerError(org)

    def certify_device(
        self, org: str, public_key: bytes, valid_from: str, valid_until: str
    ) -> tuple[str, Receipt]:
        self._require_org(org)
        cert, receipt = self._deployment.certify_device_key(
            org, public_key, (valid_from, valid_until)
        )
        return cert.key_id, receipt

    def revoke_device(
        self, principal: Principal, key_id: str, effective_from: str, reason: str
    ) -> Receipt:
        store = self._deployment.store
        certs = [c for c in store.certificates([key_id]) if c.role == "device"]
        if not certs:
            raise UnknownDeviceKeyError(key_id)
        self.require_manages(principal, certs[0].org)
        root = self._deployment.keys.root_signer()
        revocation = issue_revocation(
            root, key_id=key_id, org=certs[0].org, effective_from=effective_from, reason=reason
        )
        return store.append_revocation(
            revocation, root=(root.algorithm, root.public_key),
            log_signer=self._deployment.keys.log_signer(),
        )  # fmt: skip

    def devices(self, principal: Principal, org: str | None) -> list[Certificate]:
        """Device certificates (of ``org``, if given) that ``principal`` may see."""
        scope = self._access.scope(principal)
        return [
            cert
            for cert in self._deployment.store.certificates()
            if cert.role == "device"
            and org in (None, cert.org)
            and (cert.org == principal.org or scope.sees_org(cert.org))
        ]

    def put_licence(self, fields: dict[str, Any]) -> tuple[Licence, Receipt]:
        self._require_org(str(fields["org"]))
        licence = issue_licence(self._deployment.keys.root_signer(), **fields)
        return licence, self._deployment.license(licence)

    def licences(self, principal: Principal, org: str | None) -> list[Licence]:
        """Newest versions of the licences (of ``org``, if given) ``principal`` may see."""
        scope = self._access.scope(principal)
        return [lic for lic in self._deployment.store.licences(org) if scope.sees_org(lic.org)]

    # -- codes ---------------------------------------------------------------------------------

    def issue_codes(
        self,
        org: str,
        form: str,
        packaging: Packaging,
        batch: str,
        count: int,
        gs1_keys: Sequence[str] | None,
    ) -> list[SignedCode]:
        self._require_org(org)
        today = datetime.now(UTC)
        self._deployment.catalogs.current(today.date()).resolve(form)
        return self._deployment.issue_codes(
            org, form, packaging, batch, count, issued_at=today.strftime("%Y-%m-%d"),
            gs1_keys=gs1_keys,
        )  # fmt: skip

    def label_url(self, signed: SignedCode) -> str:
        return label_url(signed, self._base_url)

    def signed_code(self, code: str) -> SignedCode | None:
        """The issued code ``code`` (in any spelling), or ``None``."""
        found = self._store.issued_code(normalise_code(code))
        return None if found is None else SignedCode.from_json(json.loads(found[1]))

    def code_for_gs1_key(self, gs1_key: str) -> str:
        """The trace code issued with a GS1 key (callers check it is in scope)."""
        code = self._external_ids.code_for(GS1_SCHEME, gs1_key)
        if code is None:
            raise CodeNotFoundError(gs1_key, f"no code issued with GS1 key {gs1_key}")
        return code

    def verify_label(self, scanned: SignedCode) -> None:
        """Check a scanned label's registry signature (raises a ``LedgerError`` if forged)."""
        root = self._deployment.keys.root_signer()
        verify_code(scanned, root.algorithm, root.public_key)

    def catalog(self, day: date) -> Catalog:
        """The chemical catalog in force on ``day``."""
        return self._deployment.catalogs.current(day)


def _no_record(kind: str, record_id: str) -> NotFoundError:
    return NotFoundError(kind, record_id, f"no {kind} {record_id!r} within your scope")


def _person_text(person: dict[str, str]) -> str:
    return "\n".join(person.get(name, "") for name in ("name", "id_number", "phone"))
