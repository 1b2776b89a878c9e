"""An execution's own timeout: at its deadline the execution is stopped as TIMED_OUT."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from models.executions import ErrorInfo, ExecutionStatus

Stop = Callable[[ExecutionStatus, ErrorInfo], Coroutine[Any, Any, None]]


class Deadline:
    def __init__(self, clock: Callable[[], float], stop: Stop) -> None:
        self._clock = clock
        self._stop = stop
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def arm(self, at: float, timeout_s: float) -> None:
        """Stops the execution at `at` (a time of `clock`), `timeout_s` after its start."""
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(at - self._clock(), 0.0), self._reached, timeout_s)

    def _reached(self, timeout_s: float) -> None:
        error = ErrorInfo("WorkflowTimeout", f"execution exceeded {timeout_s}s")
        self._task = asyncio.get_running_loop().create_task(
            self._stop(ExecutionStatus.TIMED_OUT, error)
        )

    def disarm(self) -> None:
        """The execution ended: the timer will not fire (a stop under way goes on)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def cancel(self) -> None:
        """Shutting down: the timer and a stop under way are cancelled."""
        self.disarm()
        if self._task is not None:
            self._task.cancel()
