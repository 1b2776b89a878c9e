"""Agent rollouts in the SQLite store: one row per rollout, rewritten at every step (before
the step is acted on), so a restarted control plane finds each agent's rollout in progress."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from controlplane.store.agent_rows import put_agent_statement
from controlplane.store.codec import dump, dump_agent_spec, load_agent_spec
from controlplane.store.sqlite_store import SqliteStore
from models.agents import (
    AgentRecord,
    CanaryAnalysis,
    CanaryStep,
    RolloutRecord,
    RolloutState,
    RolloutStep,
    RolloutStrategy,
    StepAnalysis,
    StrategyKind,
)


def dump_rollout(record: RolloutRecord) -> str:
    data: dict[str, Any] = {
        "strategy": asdict(record.strategy),
        "stable": None if record.stable is None else dump_agent_spec(record.stable),
        "new": dump_agent_spec(record.new),
        "steps": [asdict(step) for step in record.steps],
        "step": record.step,
        "update_time": record.update_time,
        "step_start_time": record.step_start_time,
        "message": record.message,
        "analysis": None if record.analysis is None else asdict(record.analysis),
    }
    data["strategy"]["kind"] = record.strategy.kind.value
    return dump(data)


def load_rollout(row: tuple[Any, ...]) -> RolloutRecord:
    rollout_id, agent, state, text, create_time = row
    data = json.loads(text)
    strategy = data["strategy"]
    return RolloutRecord(
        rollout_id=str(rollout_id),
        agent=str(agent),
        strategy=RolloutStrategy(
            kind=StrategyKind(strategy["kind"]),
            max_surge=strategy["max_surge"],
            max_unavailable=strategy["max_unavailable"],
            rollback_window_s=strategy["rollback_window_s"],
            steps=tuple(CanaryStep(**step) for step in strategy["steps"]),
            analysis=CanaryAnalysis(**strategy["analysis"]),
        ),
        stable=None if data["stable"] is None else load_agent_spec(data["stable"]),
        new=load_agent_spec(data["new"]),
        steps=tuple(RolloutStep(**step) for step in data["steps"]),
        step=int(data["step"]),
        state=RolloutState(state),
        create_time=float(create_time),
        update_time=float(data["update_time"]),
        step_start_time=data["step_start_time"],
        message=data["message"],
        analysis=None if data["analysis"] is None else StepAnalysis(**data["analysis"]),
    )


_COLUMNS = "rollout_id, agent, state, record, create_time"


def _put_statement(record: RolloutRecord) -> tuple[str, tuple[Any, ...]]:
    return (
        f"INSERT INTO rollouts ({_COLUMNS}) VALUES (?,?,?,?,?) ON CONFLICT (rollout_id) "
        "DO UPDATE SET state=excluded.state, record=excluded.record",
        (
            record.rollout_id,
            record.agent,
            record.state.value,
            dump_rollout(record),
            record.create_time,
        ),
    )


class RolloutStore:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def put(self, record: RolloutRecord, agent: AgentRecord | None = None) -> None:
        """Stores the rollout (and with `agent`, the agent's spec in the same transaction)."""
        statements = [_put_statement(record)]
        if agent is not None:
            statements.append(put_agent_statement(agent))
        self._store.execute_all(statements)

    def latest(self, agent: str) -> RolloutRecord | None:
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM rollouts WHERE agent=? ORDER BY create_time DESC LIMIT 1",
            (agent,),
        )
        return load_rollout(rows[0]) if rows else None

    def in_progress(self) -> list[RolloutRecord]:
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM rollouts WHERE state=? ORDER BY create_time",
            (RolloutState.PROGRESSING.value,),
        )
        return [load_rollout(row) for row in rows]

    def delete(self, agent: str) -> None:
        self._store.execute("DELETE FROM rollouts WHERE agent=?", (agent,))
