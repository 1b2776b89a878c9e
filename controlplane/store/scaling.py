"""Scaling policies and scaling events (the control loop's decisions) in the SQLite store.

A policy is stored as its JSON document (see `models.scaling_documents`);
an event is
one `ScalingDecision` with its inputs as JSON and, if acting on it failed, why. Every write is
one committed transaction before the caller acknowledges or acts on it. Event ids are assigned
here, in increasing order (the control loop is the only writer of events).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from typing import Any

from controlplane.store.sqlite_store import SqliteStore
from models.forecasting import ScalingDecision
from models.scaling import ScalingEvent

# Holds (decisions that changed nothing) are kept this long; changes this long.
HOLD_RETENTION_S = 86400.0
EVENT_RETENTION_S = 90 * 86400.0


@dataclass(frozen=True)
class PolicyRow:
    agent: str
    document: dict[str, Any]
    create_time: float
    update_time: float


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: non-finite floats become None, tuples lists, other objects text."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def _event(row: tuple[Any, ...]) -> ScalingEvent:
    return ScalingEvent(
        event_id=int(row[0]),
        decision=ScalingDecision(
            agent=str(row[1]),
            time=float(row[2]),
            current=int(row[3]),
            desired=int(row[4]),
            policy=str(row[5]),
            reason=str(row[6]),
            inputs=json.loads(row[7]),
        ),
        error=str(row[8]),
    )


class ScalingStore:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._id_lock = threading.Lock()
        rows = store.query("SELECT MAX(event_id) FROM scaling_events")
        self._last_id = int(rows[0][0] or 0) if rows else 0

    # -- policies ---------------------------------------------------------------------------

    def put_policy(self, agent: str, document: dict[str, Any], now: float) -> PolicyRow:
        """Creates or replaces the agent's policy (committed when this returns)."""
        self._store.execute(
            "INSERT INTO scaling_policies VALUES (?,?,?,?) ON CONFLICT (agent) DO UPDATE SET "
            "body=excluded.body, update_time=excluded.update_time",
            (agent, json.dumps(jsonable(document), sort_keys=True), now, now),
        )
        row = self.get_policy(agent)
        assert row is not None
        return row

    def get_policy(self, agent: str) -> PolicyRow | None:
        rows = self._store.query("SELECT * FROM scaling_policies WHERE agent=?", (agent,))
        return _policy(rows[0]) if rows else None

    def list_policies(self) -> list[PolicyRow]:
        return [_policy(r) for r in self._store.query("SELECT * FROM scaling_policies")]

    def delete_policy(self, agent: str) -> None:
        self._store.execute("DELETE FROM scaling_policies WHERE agent=?", (agent,))

    # -- events -----------------------------------------------------------------------------

    def add_event(self, decision: ScalingDecision) -> ScalingEvent:
        """Records one decision (committed when this returns) and gives it the next id."""
        with self._id_lock:
            self._last_id += 1
            event_id = self._last_id
            self._store.execute(
                "INSERT INTO scaling_events VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    event_id,
                    decision.agent,
                    decision.time,
                    decision.current,
                    decision.desired,
                    decision.policy,
                    decision.reason,
                    json.dumps(jsonable(decision.inputs), sort_keys=True),
                    "",
                ),
            )
        return ScalingEvent(event_id, decision)

    def set_event_error(self, event_id: int, error: str) -> None:
        self._store.execute("UPDATE scaling_events SET error=? WHERE event_id=?", (error, event_id))

    def list_events(
        self, agent: str, before_id: int | None, limit: int, include_holds: bool = True
    ) -> list[ScalingEvent]:
        """The agent's events with ids below `before_id` (None: all), newest first."""
        sql = "SELECT * FROM scaling_events WHERE agent=? AND event_id<?"
        if not include_holds:
            sql += " AND desired!=current"
        sql += " ORDER BY event_id DESC LIMIT ?"
        bound = before_id if before_id is not None else 2**62
        return [_event(r) for r in self._store.query(sql, (agent, bound, limit))]

    def last_change_times(self, agent: str) -> tuple[float | None, float | None]:
        """Times of the agent's last scale-out and last scale-in decisions (None: never)."""
        rows = self._store.query(
            "SELECT MAX(CASE WHEN desired>current THEN time END), "
            "MAX(CASE WHEN desired<current THEN time END) FROM scaling_events WHERE agent=?",
            (agent,),
        )
        out, into = rows[0] if rows else (None, None)
        return (
            float(out) if out is not None else None,
            float(into) if into is not None else None,
        )

    def prune(
        self,
        now: float,
        hold_retention_s: float = HOLD_RETENTION_S,
        retention_s: float = EVENT_RETENTION_S,
    ) -> None:
        self._store.execute_all(
            [
                (
                    "DELETE FROM scaling_events WHERE desired=current AND time<?",
                    (now - hold_retention_s,),
                ),
                ("DELETE FROM scaling_events WHERE time<?", (now - retention_s,)),
            ]
        )


def _policy(row: tuple[Any, ...]) -> PolicyRow:
    return PolicyRow(
        agent=str(row[0]),
        document=json.loads(row[1]),
        create_time=float(row[2]),
        update_time=float(row[3]),
    )
