"""Load history in the SQLite store: raw samples plus 1-minute and 1-hour roll-ups, written in
one transaction, and pruned by per-resolution retention."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controlplane.store.sqlite_store import SqliteStore
from models.load import HOUR, MINUTE, RAW, LoadSample

INSERT = "INSERT OR REPLACE INTO load_samples VALUES (?,?,?,?,?,?,?,?,?)"
# A roll-up bucket from the finer rows in it: counts summed, gauges averaged, service time
# weighted by completions.
ROLL_UP = """
INSERT OR REPLACE INTO load_samples
SELECT agent, ?, ?, SUM(arrivals), SUM(completions), AVG(queue_depth), AVG(in_flight),
       COALESCE(SUM(service_time_s * completions) / NULLIF(SUM(completions), 0), 0),
       AVG(replicas)
FROM load_samples WHERE agent=? AND resolution=? AND time>=? AND time<?
GROUP BY agent
"""
DEFAULT_RETENTION_S: Mapping[int, float] = {RAW: 24 * 3600, MINUTE: 14 * 86400, HOUR: 400 * 86400}


def _row(sample: LoadSample) -> tuple[Any, ...]:
    return (
        sample.agent,
        sample.resolution,
        sample.time,
        sample.arrivals,
        sample.completions,
        sample.queue_depth,
        sample.in_flight,
        sample.service_time_s,
        sample.replicas,
    )


class LoadHistoryStore:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def append(self, samples: Sequence[LoadSample]) -> None:
        """Stores raw samples and refreshes the minute and hour buckets they fall in."""
        statements: list[tuple[str, Sequence[Any]]] = [(INSERT, _row(s)) for s in samples]
        for sample in samples:
            minute = sample.time - sample.time % MINUTE
            hour = sample.time - sample.time % HOUR
            statements.append(
                (ROLL_UP, (MINUTE, minute, sample.agent, RAW, minute, minute + MINUTE))
            )
            statements.append((ROLL_UP, (HOUR, hour, sample.agent, MINUTE, hour, hour + HOUR)))
        if statements:
            self._store.execute_all(statements)

    def read(
        self, agent: str, resolution: int, start: float, end: float, limit: int = 100_000
    ) -> list[LoadSample]:
        rows = self._store.query(
            "SELECT * FROM load_samples WHERE agent=? AND resolution=? AND time>=? AND time<? "
            "ORDER BY time LIMIT ?",
            (agent, resolution, start, end, limit),
        )
        return [
            LoadSample(
                agent=str(r[0]),
                resolution=int(r[1]),
                time=float(r[2]),
                arrivals=float(r[3]),
                completions=float(r[4]),
                queue_depth=float(r[5]),
                in_flight=float(r[6]),
                service_time_s=float(r[7]),
                replicas=float(r[8]),
            )
            for r in rows
        ]

    def agents(self) -> list[str]:
        return [str(r[0]) for r in self._store.query("SELECT DISTINCT agent FROM load_samples")]

    def prune(self, now: float, retention_s: Mapping[int, float] = DEFAULT_RETENTION_S) -> None:
        self._store.execute_all(
            [
                ("DELETE FROM load_samples WHERE resolution=? AND time<?", (res, now - keep))
                for res, keep in retention_s.items()
            ]
        )
