"""An RFC 9421-signed capture request, for an ERP or a script that cannot run ``epcis push``.

The document goes as it is (no chain links, no per-event signatures); the device key signs
the whole request (:func:`ledger.http_signature.sign_request`), and the server derives the
events. The signed URI names the actor (a person commitment) and the catalog version.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from urllib.parse import urlencode

from ledger.http_signature import sign_request
from ledger.signing import Signer

PATH = "/epcis/capture/signed"


def signed_capture_request(
    signer: Signer,
    server: str,
    document: bytes,
    *,
    actor: str,
    catalog_version: str,
    nonce: str | None = None,
    created: datetime | None = None,
) -> tuple[str, dict[str, str]]:
    """The URL and headers that capture ``document`` as signed by ``signer``'s device key.

    Add the caller's ``Authorization`` header; send ``document`` byte for byte as the body.
    """
    query = urlencode({"actor": actor, "catalog": catalog_version})
    url = f"{server.rstrip('/')}{PATH}?{query}"
    headers = sign_request(
        signer, "POST", url, document, nonce=nonce or secrets.token_urlsafe(18),
        created=created or datetime.now(UTC),
    )  # fmt: skip
    return url, headers
