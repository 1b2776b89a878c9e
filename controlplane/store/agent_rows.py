"""The statement that stores an agent's row (shared by the store and the rollouts, which
store the stable spec again in the same transaction as a rollback)."""

from __future__ import annotations

from typing import Any

from controlplane.store.codec import dump_agent_spec
from models.agents import AgentRecord


def put_agent_statement(record: AgentRecord) -> tuple[str, tuple[Any, ...]]:
    return (
        "INSERT INTO agents VALUES (?,?,?,?) ON CONFLICT (name) DO UPDATE SET "
        "spec=excluded.spec, update_time=excluded.update_time",
        (record.spec.name, dump_agent_spec(record.spec), record.create_time, record.update_time),
    )
