"""EPCIS capture jobs and the CBV 2.0 hash IDs of captured events (service tables, not the log).

A job row is written when a capture starts (``running``) and completed once its events were
judged. ``epcis_captured_event`` holds each captured event's CBV hash ID as its primary key,
so the database is the authority on "captured before" (a 409), even between workers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.store import schema as t

JobState = Literal["running", "success", "failed"]


@dataclass(frozen=True, slots=True)
class CaptureJob:
    id: str
    org: str
    user_id: str
    behaviour: str
    state: JobState
    events: int
    created_at: str
    finished_at: str | None
    result: dict[str, Any] | None


def _job(row: Any) -> CaptureJob:
    return CaptureJob(
        id=row.id, org=row.org, user_id=row.user_id, behaviour=row.behaviour, state=row.state,
        events=row.events, created_at=row.created_at, finished_at=row.finished_at,
        result=None if row.result is None else json.loads(row.result),
    )  # fmt: skip


class SqlCaptureJobs:
    """Capture jobs and captured hash IDs in the service database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(self, job: CaptureJob) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(t.epcis_capture_job).values(
                id=job.id, org=job.org, user_id=job.user_id, behaviour=job.behaviour,
                state=job.state, events=job.events, created_at=job.created_at,
            ))  # fmt: skip

    def finish(
        self,
        job_id: str,
        state: JobState,
        finished_at: str,
        result: dict[str, Any],
        captured: Sequence[tuple[str, bytes]],
    ) -> list[str]:
        """Complete a job and record its captured ``(hash_id, event_hash)`` pairs.

        Returns the hash IDs another job recorded first (a concurrent capture of the same
        event, which the ledger took once); those rows are left to that job.
        """
        raced: list[str] = []
        with self._engine.begin() as conn:
            for hash_id, event_hash in captured:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(t.epcis_captured_event).values(
                            hash_id=hash_id, event_hash=event_hash, job_id=job_id,
                        ))  # fmt: skip
                except IntegrityError:
                    raced.append(hash_id)
            conn.execute(
                update(t.epcis_capture_job)
                .where(t.epcis_capture_job.c.id == job_id)
                .values(state=state, finished_at=finished_at, result=json.dumps(result))
            )
        return raced

    def job(self, job_id: str) -> CaptureJob | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(t.epcis_capture_job).where(t.epcis_capture_job.c.id == job_id)
            ).first()
        return None if row is None else _job(row)

    def jobs(self, org: str | None, *, limit: int) -> list[CaptureJob]:
        """The newest ``limit`` jobs, of ``org`` (None: every organisation's)."""
        query = select(t.epcis_capture_job).order_by(
            t.epcis_capture_job.c.created_at.desc(), t.epcis_capture_job.c.id.desc()
        )
        if org is not None:
            query = query.where(t.epcis_capture_job.c.org == org)
        with self._engine.connect() as conn:
            return [_job(row) for row in conn.execute(query.limit(limit))]

    def captured(self, hash_ids: Sequence[str]) -> dict[str, bytes]:
        """The ledger event hash of each of ``hash_ids`` captured before."""
        found: dict[str, bytes] = {}
        column = t.epcis_captured_event.c
        with self._engine.connect() as conn:
            for start in range(0, len(hash_ids), 500):
                chunk = list(hash_ids[start : start + 500])
                for row in conn.execute(
                    select(column.hash_id, column.event_hash).where(column.hash_id.in_(chunk))
                ):
                    found[row.hash_id] = bytes(row.event_hash)
        return found
