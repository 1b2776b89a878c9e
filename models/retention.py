"""What the retention sweep sees of a stored execution (the rest of it is not read)."""

from __future__ import annotations

from dataclasses import dataclass

from models.executions import ExecutionStatus


@dataclass(frozen=True)
class StoredExecution:
    execution_id: str
    namespace: str
    status: ExecutionStatus
    end_time: float | None
    parent_execution_id: str = ""
