"""The events one execution may record (`limits.events_per_execution`): an execution that
reaches the limit (an endless loop, a retry storm) is failed instead of growing for ever.

The stop keeps its finally tasks, which may record a small allowance more; past that a second
stop cancels them too, so the history stays bounded whatever they do.
"""

from __future__ import annotations

import asyncio

from controlplane.engine.executions.deadline import Stop
from models.executions import ErrorInfo, ExecutionStatus
from models.limits import setting

EVENT_LIMIT_EXCEEDED = "EventLimitExceeded"
# Events finally tasks and compensations may add after the stop (at least, or a hundredth).
MIN_ALLOWANCE = 100


class EventBudget:
    def __init__(self, limit: int, stop: Stop) -> None:
        self._limit = limit
        self._allowance = max(MIN_ALLOWANCE, limit // 100)
        self._stop = stop
        self._stops: list[asyncio.Task[None]] = []

    def spent(self, recorded: int) -> None:
        """After each recorded change: `recorded` events so far."""
        due = 0
        if recorded >= self._limit:
            due = 1
        if recorded >= self._limit + self._allowance:
            due = 2
        while len(self._stops) < due:
            error = ErrorInfo(
                EVENT_LIMIT_EXCEEDED,
                f"the execution recorded {recorded:,} events, reaching "
                f"{setting('events_per_execution', self._limit)}",
            )
            task = asyncio.get_running_loop().create_task(self._stop(ExecutionStatus.FAILED, error))
            self._stops.append(task)

    def cancel(self) -> None:
        """Shutting down: a stop under way is cancelled (the next start resumes it)."""
        for task in self._stops:
            task.cancel()
