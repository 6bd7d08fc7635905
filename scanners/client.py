"""A typed, synchronous client for the chemtrace HTTP API (httpx), with device signing.

Every endpoint has one method. Errors come back as :class:`ApiError` carrying the
problem+json ``code``. Signing happens here, through :class:`ledger.builder.DeviceSession`,
so callers never hand-build a signature::

    client = ChemtraceClient("http://127.0.0.1:8000", token="ct_…")
    device = client.device(signer, org="yanshan-chem", actor=commitment)
    receipt = client.sign_and_submit(device, "commission", [code], data, time=now)
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import httpx

from ledger.builder import DeviceSession
from ledger.canonical import JsonValue, parse_hash
from ledger.signing import Signer
from scanners.errors import ScannerError

DEFAULT_CATALOG = "2026-draft.1"


class ApiError(ScannerError):
    """The API answered with a problem document."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        self.code = str(problem.get("code", "http_error"))
        super().__init__(f"{status} {self.code}: {problem.get('detail', '')}")


class ReceiptJson(TypedDict):
    """The log's signed receipt, as the API sends it (``ledger.statements.Receipt.to_json``)."""

    origin: str
    entry_hash: str
    leaf_hash: str
    index: int
    log_time: str
    signature: str


class EventResult(TypedDict):
    """One event's result in a batch: a receipt when accepted (or a resend), else a problem."""

    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    receipt: ReceiptJson | None
    error: dict[str, Any] | None
    """The problem's ``code`` and ``detail`` and whatever context it names (``item``, …)."""


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """The per-event results of a batch."""

    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]

    def receipts(self) -> list[ReceiptJson | None]:
        return [r.get("receipt") for r in self.results]


class ChemtraceClient:
    """One caller of the API (one token)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        if http is None:
            if base_url is None:
                raise ValueError("give base_url or http")
            http = httpx.Client(base_url=base_url, timeout=timeout)
        self.http = http
        self.token = token

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ChemtraceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def with_token(self, token: str) -> ChemtraceClient:
        """Another client on the same connection pool, acting as another user."""
        return ChemtraceClient(http=self.http, token=token)

    # -- plumbing ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"code": "http_error", "detail": response.text[:200]}
            raise ApiError(response.status_code, problem)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    # -- registries (admin) --------------------------------------------------------------------

    def put_record(self, kind_path: str, record_id: str, **attrs: Any) -> dict[str, Any]:
        """Log a new version of a record: ``kind_path`` is orgs, sites, vehicles, crew,
        permits or users."""
        return dict(self._json("POST", f"/v1/{kind_path}", json={"id": record_id, **attrs}))

    def put_org(self, org_id: str, **attrs: Any) -> dict[str, Any]:
        return self.put_record("orgs", org_id, **attrs)

    def put_site(self, site_id: str, **attrs: Any) -> dict[str, Any]:
        return self.put_record("sites", site_id, **attrs)

    def put_vehicle(self, vehicle_id: str, **attrs: Any) -> dict[str, Any]:
        return self.put_record("vehicles", vehicle_id, **attrs)

    def put_crew(self, crew_id: str, **attrs: Any) -> dict[str, Any]:
        return self.put_record("crew", crew_id, **attrs)

    def put_permit(self, permit_id: str, **attrs: Any) -> dict[str, Any]:
        return self.put_record("permits", permit_id, **attrs)

    def put_user(self, user_id: str, **attrs: Any) -> dict[str, Any]:
        return self.put_record("users", user_id, **attrs)

    def records(self, kind_path: str) -> list[dict[str, Any]]:
        return list(self._json("GET", f"/v1/{kind_path}"))

    def record(self, kind_path: str, record_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/v1/{kind_path}/{record_id}"))

    def crew_person(self, crew_id: str) -> dict[str, str]:
        return dict(self._json("GET", f"/v1/crew/{crew_id}/person"))

    def issue_token(self, user_id: str) -> str:
        return str(self._json("POST", f"/v1/users/{user_id}/tokens")["token"])

    def revoke_tokens(self, user_id: str) -> int:
        return int(self._json("DELETE", f"/v1/users/{user_id}/tokens")["revoked"])

    def put_licence(self, **fields: Any) -> dict[str, Any]:
        return dict(self._json("POST", "/v1/licences", json=fields))

    def licences(self, org: str | None = None) -> list[dict[str, Any]]:
        return list(self._json("GET", "/v1/licences", params=_params(org=org)))

    def enrol_device(
        self, org: str, public_key: bytes, *, valid_from: str, valid_until: str
    ) -> str:
        """Certify a device key for ``org``; return its key id."""
        payload = {
            "org": org,
            "public_key": base64.b64encode(public_key).decode(),
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
        return str(self._json("POST", "/v1/devices", json=payload)["key_id"])

    def devices(self, org: str | None = None) -> list[dict[str, Any]]:
        return list(self._json("GET", "/v1/devices", params=_params(org=org)))

    def revoke_device(self, key_id: str, *, effective_from: str, reason: str) -> dict[str, Any]:
        return dict(
            self._json(
                "POST",
                f"/v1/devices/{key_id}:revoke",
                json={"effective_from": effective_from, "reason": reason},
            )
        )

    # -- codes ----------------------------------------------------------------------------------

    def issue_codes(
        self,
        *,
        form: str,
        packaging: str,
        batch: str,
        count: int,
        org: str | None = None,
        gs1_keys: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        payload: dict[str, Any] = {
            "form": form,
            "packaging": packaging,
            "batch": batch,
            "count": count,
        }
        if org is not None:
            payload["org"] = org
        if gs1_keys is not None:
            payload["gs1_keys"] = list(gs1_keys)
        return list(self._json("POST", "/v1/codes:issue", json=payload)["codes"])

    def resolve_gs1_key(self, gs1_key: str) -> str:
        """The trace code issued with a GS1 key (canonical bracketed form)."""
        return str(self._json("GET", "/v1/codes:resolve", params={"gs1_key": gs1_key})["code"])

    def label_png(self, code: str, *, dpi: int = 300) -> bytes:
        return self._request("GET", f"/v1/codes/{code}/label.png", params={"dpi": dpi}).content

    def label_svg(self, code: str) -> bytes:
        return self._request("GET", f"/v1/codes/{code}/label.svg").content

    def label_sheet(self, codes: Sequence[str]) -> bytes:
        return self._request("GET", "/v1/codes:sheet", params={"code": list(codes)}).content

    # -- events ---------------------------------------------------------------------------------

    def device(
        self, signer: Signer, *, org: str, actor: str, catalog_version: str = DEFAULT_CATALOG
    ) -> DeviceSession:
        """A signing session for one device."""
        return DeviceSession(signer=signer, org=org, actor=actor, catalog_version=catalog_version)

    def submit(self, envelope: Mapping[str, JsonValue]) -> dict[str, Any]:
        """Append one signed event; a resend returns the original receipt."""
        return dict(self._json("POST", "/v1/events", json=envelope))

    def submit_batch(self, envelopes: Sequence[Mapping[str, JsonValue]]) -> BatchOutcome:
        raw = self._json("POST", "/v1/events:batch", json={"events": list(envelopes)})
        return BatchOutcome(raw["accepted"], raw["duplicates"], raw["rejected"], raw["results"])

    def capture(
        self, document: Mapping[str, Any], *, behaviour: str = "rollback"
    ) -> dict[str, Any]:
        """``POST /epcis/capture`` a document of signed EPCIS events; the finished capture job."""
        headers = {"GS1-Capture-Error-Behaviour": behaviour, "GS1-EPCIS-Version": "2.0.0",
                   "Content-Type": "application/ld+json"}  # fmt: skip
        # a document of thousands of events is judged within the request: allow it minutes
        return dict(self._json("POST", "/epcis/capture", json=document, headers=headers,
                               timeout=300))  # fmt: skip

    def sign_and_submit(
        self,
        session: DeviceSession,
        event_type: str,
        items: Sequence[str | tuple[str, str]],
        data: Mapping[str, JsonValue],
        **fields: Any,
    ) -> dict[str, Any]:
        """Sign an event with ``session`` (linking each item to its known head) and submit it."""
        return self.submit(session.event(event_type, items, data, **fields))

    def sync_head(self, session: DeviceSession, code: str) -> None:
        """Teach ``session`` the item's current head, as the server knows it."""
        head = self.item(code)["head"]
        if head is not None:
            session.learn(code, int(head["seq"]), parse_hash(head["hash"]))

    # -- items ----------------------------------------------------------------------------------

    def item(self, code: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/v1/items/{code}"))

    def chain(self, code: str) -> list[dict[str, Any]]:
        return list(self._json("GET", f"/v1/items/{code}/events")["steps"])

    def verify_item(self, code: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/v1/items/{code}/verify"))

    def item_bundle(self, code: str, *, since: int | None = None) -> dict[str, Any]:
        return dict(self._json("GET", f"/v1/items/{code}/bundle", params=_params(since=since)))

    def site_bundle(self, site: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/v1/sites/{site}/bundle"))

    def search(self, **filters: Any) -> list[dict[str, Any]]:
        """Every matching item, following the pages' cursors."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self._json("GET", "/v1/items", params=_params(**filters, cursor=cursor))
            found.extend(page["items"])
            cursor = page.get("next_cursor")
            if cursor is None:
                return found

    def inventory(self, **filters: Any) -> dict[str, Any]:
        return dict(self._json("GET", "/v1/inventory", params=_params(**filters)))

    def journal(self, *, since: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return list(
            self._json("GET", "/v1/security/journal", params=_params(since=since, limit=limit))
        )

    # -- the public audit API --------------------------------------------------------------------

    def checkpoint(self) -> str:
        return self._request("GET", "/v1/log/checkpoint").text

    def log_key(self) -> str:
        return self._request("GET", "/v1/log/key").text.strip()

    def entries(self, start: int, end: int) -> list[bytes]:
        raw = self._json("GET", "/v1/log/entries", params={"start": start, "end": end})
        return [base64.b64decode(entry) for entry in raw["entries"]]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        raw = self._json("GET", "/v1/log/proof/inclusion", params={"index": index, "size": size})
        return [base64.b64decode(node) for node in raw["proof"]]

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        raw = self._json(
            "GET", "/v1/log/proof/consistency", params={"first": first, "second": second}
        )
        return [base64.b64decode(node) for node in raw["proof"]]

    def public_page(self, code_or_path: str, *, lang: str = "zh") -> httpx.Response:
        """The public page (no token); ``code_or_path`` is a code or a label URL path."""
        path = code_or_path if code_or_path.startswith("/") else f"/c/{code_or_path}"
        return self.http.get(path, params={"lang": lang})

    def healthz(self) -> dict[str, Any]:
        return dict(self._json("GET", "/healthz"))

    def readyz(self) -> dict[str, Any]:
        return dict(self.http.get("/readyz").json())

    def metrics(self) -> str:
        return self._request("GET", "/metrics").text


def _params(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
