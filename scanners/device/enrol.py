"""Enrolling a device: its key is generated here and only the public half goes to the service.

The organisation's manager (the token's user) certifies the key through ``POST /v1/devices``.
The log's verifier key is pinned at the first enrolment (trust on first use, shown to the
person enrolling); a later enrolment against a log with another key is refused.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ledger.timefmt import format_utc
from scanners.client import DEFAULT_CATALOG, ChemtraceClient
from scanners.device.home import DeviceError, DeviceHome, Profile
from scanners.device.outbox import Author


def enrol(
    home: DeviceHome,
    client: ChemtraceClient,
    *,
    server: str,
    org: str | None,
    actor: str | None,
    site: str | None = None,
    valid_days: int = 365,
    rotate: bool = False,
    catalog_version: str = DEFAULT_CATALOG,
) -> Profile:
    """Generate a key, have the service certify it, and save the profile (and token).

    Raises:
        DeviceError: already enrolled without ``rotate``, or the log key changed.
        scanners.client.ApiError: the service refused (no right to manage ``org``, …).
    """
    existing = home.profile() if home.enrolled() else None
    if existing is not None and not rotate:
        raise DeviceError(
            f"this device is already enrolled for {existing.org} with key {existing.key_id}; "
            "pass --rotate for a new key",
            code="already_enrolled",
        )
    if existing is None and (org is None or actor is None):
        raise DeviceError("the first enrolment needs --org and --actor", code="enrol_incomplete")
    log_vkey = client.log_key()
    if existing is not None and existing.log_vkey not in (None, log_vkey):
        raise DeviceError(
            "the server signs with another log key than the one this device pinned; "
            "refusing (a different log, or a compromised one)",
            code="log_key_changed",
        )
    org = org or (existing.org if existing else None)
    assert org is not None
    now = datetime.now(UTC).replace(microsecond=0)
    valid_until = format_utc(now + timedelta(days=valid_days))
    signer = home.generate_key()
    key_id = client.enrol_device(org, signer.public_key, valid_from=format_utc(now),
                                 valid_until=valid_until)  # fmt: skip
    if key_id != signer.key_id:
        raise DeviceError(f"the service certified key {key_id}, not {signer.key_id}",
                          code="enrol_mismatch")  # fmt: skip
    if existing is not None:
        profile = replace(existing.with_key(key_id, valid_until), org=org,
                          actor=actor or existing.actor, site=site or existing.site)  # fmt: skip
    else:
        assert actor is not None
        profile = Profile(server=server, org=org, actor=actor, key_id=key_id,
                          valid_until=valid_until, catalog_version=catalog_version,
                          log_vkey=log_vkey, site=site)  # fmt: skip
    if client.token:
        home.save_token(client.token)
    home.save_profile(profile)
    return profile


def author(home: DeviceHome) -> Author:
    """The active key and the profile's organisation and operator, for signing."""
    profile = home.profile()
    return Author(home.signer(profile.key_id), profile.org, profile.actor,
                  profile.catalog_version)  # fmt: skip


def client_of(home: DeviceHome) -> ChemtraceClient:
    """A client of the profile's server, with the device's token.

    Raises:
        scanners.device.home.NotEnrolledError: the device has no profile yet.
    """
    return ChemtraceClient(home.profile().server, token=home.token(), timeout=15.0)
