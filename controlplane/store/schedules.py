"""Schedules in the SQLite store: one row per schedule, keyed `qualified_name(namespace, name)`,
its spec and its firing state as JSON.
The firing state is rewritten after each firing is done (an execution started, a firing
skipped), so a restarted control plane goes on from the first firing time not handled."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from controlplane.store.codec import dump
from controlplane.store.sqlite_store import SqliteStore
from models.namespaces import namespace_or_default, qualified_name
from models.schedules import FiringState, OverlapPolicy, Schedule, ScheduleSpec

_COLUMNS = "name, schedule_id, spec, state, create_time, update_time"


def dump_spec(spec: ScheduleSpec) -> str:
    data = asdict(spec)
    data["overlap_policy"] = spec.overlap_policy.value
    return dump(data)


def load_spec(text: str) -> ScheduleSpec:
    data = json.loads(text)
    data["overlap_policy"] = OverlapPolicy(data["overlap_policy"])
    return ScheduleSpec(**data)


def dump_state(state: FiringState) -> str:
    return dump(asdict(state))


def load_state(text: str) -> FiringState:
    data = json.loads(text)
    data["last_execution_ids"] = tuple(data["last_execution_ids"])
    return FiringState(**data)


def _schedule(row: tuple[Any, ...]) -> Schedule:
    _, schedule_id, spec, state, create_time, update_time = row
    return Schedule(
        spec=load_spec(str(spec)),
        schedule_id=str(schedule_id),
        create_time=float(create_time),
        update_time=float(update_time),
        state=load_state(str(state)),
    )


class ScheduleStore:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def insert(self, schedule: Schedule) -> None:
        """Raises sqlite3.IntegrityError when the name is taken in its namespace."""
        spec = schedule.spec
        self._store.execute(
            f"INSERT INTO schedules ({_COLUMNS}) VALUES (?,?,?,?,?,?)",
            (
                qualified_name(namespace_or_default(spec.namespace), spec.name),
                schedule.schedule_id,
                dump_spec(schedule.spec),
                dump_state(schedule.state),
                schedule.create_time,
                schedule.update_time,
            ),
        )

    def update(self, schedule: Schedule) -> None:
        """Rewrites the spec, state and update time of this schedule (of this id: a schedule
        deleted and created again under its name is another one)."""
        self._store.execute(
            "UPDATE schedules SET spec=?, state=?, update_time=? WHERE schedule_id=?",
            (
                dump_spec(schedule.spec),
                dump_state(schedule.state),
                schedule.update_time,
                schedule.schedule_id,
            ),
        )

    def delete(self, schedule_id: str) -> None:
        self._store.execute("DELETE FROM schedules WHERE schedule_id=?", (schedule_id,))

    def load_all(self) -> list[Schedule]:
        rows = self._store.query(f"SELECT {_COLUMNS} FROM schedules ORDER BY name")
        return [_schedule(row) for row in rows]
