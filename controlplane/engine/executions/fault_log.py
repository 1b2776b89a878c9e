"""What the log says of changes an execution could not record."""

from __future__ import annotations

import logging

from controlplane.store import PrecedingWriteFailed
from models.executions import ExecutionRecord

log = logging.getLogger("controlplane.engine.executions.runner")


def log_fault(execution_id: str, task_id: str, error: BaseException) -> None:
    """Once per fault: a change held back behind another is redone; any other fails."""
    where = f"{execution_id}/{task_id}" if task_id else execution_id
    if isinstance(error, PrecedingWriteFailed):
        log.warning("%s: a change was held back behind a failed one; it is redone", where)
        return
    log.error(
        "%s: a change could not be recorded; the %s fails",
        where,
        "task" if task_id else "execution",
        exc_info=error,
    )


def stuck_because(record: ExecutionRecord, faults: dict[str, BaseException]) -> str:
    """Why no change of the execution can be recorded (logged): it stays as stored."""
    cause = next(iter(faults.values()), None)
    why = f"its changes cannot be recorded ({type(cause).__name__}: {cause})"
    log.critical(
        "%s: %s; it stays as stored (%s) and resumes at the next start",
        record.execution_id,
        why,
        record.status.value,
    )
    return why
