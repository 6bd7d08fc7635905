"""Service settings: flags, then ``CHEMTRACE_*`` environment variables, then defaults."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.catalogs import load_risk_weights
from api.deployment import DEFAULT_DB
from api.witnessing import WitnessEndpoint
from ledger.errors import LedgerError

DEFAULT_KEYS_DIR = Path("var/keys")


class Settings(BaseSettings):
    """How one API process runs."""

    model_config = SettingsConfigDict(env_prefix="CHEMTRACE_", extra="forbid")

    db: str = DEFAULT_DB
    keys: Path = DEFAULT_KEYS_DIR
    redis_url: str | None = None
    redis_namespace: str = "chemtrace"
    """Prefix of every Redis key and of the entry stream, so deployments can share a server."""
    base_url: str = "http://127.0.0.1:8000"
    """Where the public pages live; printed into label QR codes."""
    max_body_bytes: int = 16 * 1024 * 1024
    """The largest request body, enforced before anything else (``api.limits``)."""
    max_json_depth: int = 64
    """The deepest nesting of ``[`` and ``{`` in a JSON body, checked before it is parsed."""
    max_header_bytes: int = 32 * 1024
    """The most bytes of header fields (names and values) a request may carry."""
    max_batch_events: int = 5000
    epcis_capture_limit: int = 5000
    """The most events one EPCIS capture may hold (``GS1-EPCIS-Capture-Limit``)."""
    epcis_capture_file_size_limit: int = 16 * 1024 * 1024
    """The largest EPCIS capture body in bytes (``GS1-EPCIS-Capture-File-Size-Limit``)."""
    checkpoint_interval_s: float = 0.5
    relay_interval_s: float = 0.2
    rate_limit_per_minute: int = 60_000
    """Events per minute per device and per organisation (0 = off)."""
    probe_limit_per_minute: int = 20
    """Custody refusals (writes on items one has no relation to) per minute per device and
    per organisation before further writes get 429 for the rest of the minute (0 = off)."""
    trusted_proxies: Annotated[list[str], NoDecode] = []
    """Reverse proxies (CIDRs, comma-separated or a JSON list) whose X-Forwarded-For names
    the client. Empty, the default: the client is the socket's peer, whatever the header."""

    replica_db: Annotated[list[str], NoDecode] = []
    """PostgreSQL standbys of ``db`` (comma-separated or a JSON list): read-only queries go
    to one that has replayed what they need (``api.replicas``), and a primary that finds
    one of them promoted after it refuses writes (``ledger.store.fencing``)."""

    @field_validator(
        "trusted_proxies", "webhook_allow_networks", "witnesses", "replica_db", mode="before"
    )
    @classmethod
    def _split_list(cls, value: object) -> object:
        """A list setting from the environment: comma-separated, or a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [
                part.strip() for part in text.split(",") if part.strip()
            ]  # fmt: skip
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(cidr, strict=False)) for cidr in value]

    witnesses: Annotated[list[str], NoDecode] = []
    """Witnesses asked to cosign each checkpoint: ``<submission URL> <cosigner vkey>`` items,
    comma-separated or a JSON list (``api.witnessing``). Empty, the default: none."""
    witness_quorum: int = 0
    """How many of ``witnesses`` must cosign before a checkpoint is bundled for inspectors
    (0: bundles take the newest checkpoint, cosigned or not)."""
    witness_timeout_s: float = 5.0
    witness_backoff_s: float = 0.5
    """The first retry delay after a witness fails (doubling, capped at a minute)."""

    @field_validator("witnesses")
    @classmethod
    def _parse_witnesses(cls, value: list[str]) -> list[str]:
        names = []
        for item in value:
            try:
                names.append(WitnessEndpoint.parse(item).name)
            except LedgerError as exc:
                raise ValueError(f"witness {item!r}: {exc.message}") from exc
        if len(set(names)) != len(names):
            raise ValueError("two witnesses share a key name")
        return value

    @model_validator(mode="after")
    def _quorum_possible(self) -> Settings:
        if not 0 <= self.witness_quorum <= len(self.witnesses):
            raise ValueError(
                f"witness_quorum {self.witness_quorum} must be in 0..{len(self.witnesses)}"
            )
        return self

    findings: bool = True
    """Run the online anomaly engine (one process per database holds its lock)."""
    rules: Path | None = None
    """The rules configuration file (default: the shipped ``catalogs/rules/2026.1.json``)."""
    risk_weights: Path | None = None
    """The enterprise risk grade's weights (default: ``catalogs/risk-grade/2026.1.json``)."""

    @field_validator("risk_weights")
    @classmethod
    def _weights_parse(cls, path: Path | None) -> Path | None:
        """Read at start-up, so a bad weights file stops the service, not each grade."""
        if path is not None:
            try:
                load_risk_weights(path)
            except OSError as exc:
                raise ValueError(f"risk weights {path}: {exc.strerror}") from None
            except LedgerError as exc:
                raise ValueError(exc.message) from None
        return path

    findings_interval_s: float = 0.25
    findings_snapshots: Path | None = None
    """Folder of the findings worker's engine snapshots (``api.engine_snapshots``), sealed
    with a key in ``keys``; a restarted worker then replays only what came after. None: off."""
    background: bool = True
    """Run the checkpoint integrator and the outbox relay in this process."""
    webhook_interval_s: float = 0.5
    """How often the webhook dispatcher looks for due deliveries."""
    webhook_backoff_s: float = 1.0
    """The first retry delay of a failed webhook delivery (then doubling, capped at 10 min)."""
    webhook_allow_networks: Annotated[list[str], NoDecode] = []
    """Private networks webhooks may reach (CIDRs, comma-separated or a JSON list), besides
    public addresses; empty, the default: none (``api.outbound``)."""

    @field_validator("webhook_allow_networks")
    @classmethod
    def _allow_networks(cls, value: list[str]) -> list[str]:
        # strict: host bits set (10.0.0.1/8) are more likely a typo than the network meant
        return [str(ipaddress.ip_network(cidr.strip(), strict=True)) for cidr in value]

    # -- console (api/console): server-side web sessions and offline assets --
    console_idle_timeout_s: float = 30 * 60
    """A console session ends after this long without a request."""
    console_session_max_s: float = 8 * 3600
    """A console session ends this long after login, however busy."""
    console_assets: Path | None = None
    """The npm assets' node_modules (default: var/console-assets/node_modules in the repo)."""
    console_tile_url: str | None = None
    """An online tile server for the console's map (``https://…/{z}/{x}/{y}.png``); None, the
    default: the offline district base map only. Its origin is added to the CSP's img-src."""
    console_tile_datum: str = "WGS-84"
    """The datum of those tiles, shown on the map (``GCJ-02`` for most Chinese tile servers)."""
