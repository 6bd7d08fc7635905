"""The SQL :class:`ledger.external_ids.ExternalIdMapping`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from ledger.codes import GS1_KEY
from ledger.external_ids import ExternalIdError, PatternRule, SchemeRule, normalise
from ledger.store import schema as t
from ledger.timefmt import format_utc

GS1_SCHEME = "gs1"
"""Codes issued with a GS1 key are linked under this scheme when their batch is logged."""
DEFAULT_RULES: Mapping[str, SchemeRule] = {
    "city-uid": PatternRule(),
    "erp": PatternRule(),
    GS1_SCHEME: PatternRule(pattern=GS1_KEY.pattern),
}


class SqlExternalIds:
    """External ids in the ``external_id`` table; one code per (scheme, id)."""

    def __init__(self, engine: Engine, rules: Mapping[str, SchemeRule] = DEFAULT_RULES) -> None:
        self._engine = engine
        self._rules = rules

    def link(self, scheme: str, external_id: str, code: str) -> None:
        scheme, external_id = normalise(self._rules, scheme, external_id)
        existing = self.code_for(scheme, external_id)
        if existing == code:
            return
        if existing is not None:
            raise ExternalIdError("external id already names another code", code=existing)
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(t.external_id).values(
                    scheme=scheme, external_id=external_id, code=code,
                    linked_at=format_utc(datetime.now(UTC)),
                ))  # fmt: skip
        except IntegrityError as exc:  # a concurrent link won the race
            if self.code_for(scheme, external_id) != code:
                raise ExternalIdError("external id already names another code") from exc

    def code_for(self, scheme: str, external_id: str) -> str | None:
        scheme, external_id = normalise(self._rules, scheme, external_id)
        with self._engine.connect() as conn:
            row = conn.execute(
                select(t.external_id.c.code).where(
                    t.external_id.c.scheme == scheme, t.external_id.c.external_id == external_id
                )
            ).first()
        return None if row is None else str(row.code)

    def ids_for(self, code: str) -> dict[str, str]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.external_id).where(t.external_id.c.code == code))
            return {row.scheme: row.external_id for row in rows}
