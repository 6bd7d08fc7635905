"""Service settings: flags, then ``CHEMTRACE_*`` environment variables, then defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from api.deployment import DEFAULT_DB

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
    max_batch_events: int = 5000
    checkpoint_interval_s: float = 0.5
    relay_interval_s: float = 0.2
    rate_limit_per_minute: int = 60_000
    """Events per minute per device and per organisation (0 = off)."""
    findings: bool = True
    """Run the online anomaly engine (one process per database holds its lock)."""
    rules: Path | None = None
    """The rules configuration file (default: the shipped ``catalogs/rules/2026.1.json``)."""
    findings_interval_s: float = 0.25
    background: bool = True
    """Run the checkpoint integrator and the outbox relay in this process."""
    webhook_interval_s: float = 0.5
    """How often the webhook dispatcher looks for due deliveries."""
    webhook_backoff_s: float = 1.0
    """The first retry delay of a failed webhook delivery (then doubling, capped at 10 min)."""
