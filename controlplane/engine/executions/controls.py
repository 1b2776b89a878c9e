"""What a client does to a running execution besides cancelling it: signals (stored once per
request id, waking the tasks that wait for their name) and pauses; and the tasks that wait
without a replica (timers, signals)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from controlplane.engine.executions import waits
from controlplane.engine.executions.transitions import Transitions
from controlplane.store import WriteBatch
from controlplane.store.signals import SignalStore, StoredSignal
from models.executions import AttemptRecord, ExecutionRecord, TaskRecord
from models.workflows import TaskDefinition, TaskKind

T = TypeVar("T")
Step = Callable[[str, Callable[[WriteBatch], Any]], Awaitable[Any]]


class ExecutionControls:
    def __init__(
        self,
        execution_id: str,
        clock: Callable[[], float],
        signals: SignalStore | None,
        step: Step,
        transitions: Transitions,
    ) -> None:
        """`step(task_id, build)` records one change of the execution (the runner's)."""
        self._execution_id = execution_id
        self._clock = clock
        self._signals = signals
        self._step = step
        self._t = transitions
        self._arrivals = waits.Arrivals()
        self._signal_sequence: int | None = None
        self._signal_requests: set[str] = set()
        self._resumed = asyncio.Event()

    def _store(self) -> SignalStore:
        if self._signals is None:
            raise RuntimeError("the engine was built without a signal store")
        return self._signals

    async def wait(
        self,
        task: TaskRecord,
        spec: TaskDefinition,
        attempt: AttemptRecord,
        settle: waits.Settle,
    ) -> None:
        if spec.kind is TaskKind.SLEEP:
            await waits.sleep(task, spec, attempt, self._clock, settle)
            return
        await waits.wait_for_signal(
            self._execution_id,
            task,
            spec,
            attempt,
            self._store(),
            self._arrivals,
            self._clock,
            settle,
        )

    async def signal(self, name: str, payload: Any, request_id: str) -> None:
        """Stores a signal once per request id (its event with it) and wakes the tasks
        waiting for its name."""
        signals = self._store()
        if request_id and (
            request_id in self._signal_requests
            or await asyncio.to_thread(signals.by_request, self._execution_id, request_id)
            is not None
        ):
            return
        if self._signal_sequence is None:
            self._signal_sequence = await asyncio.to_thread(
                signals.last_sequence, self._execution_id
            )
        self._signal_sequence += 1
        signal = StoredSignal(
            self._execution_id, self._signal_sequence, name, payload, request_id, self._clock()
        )
        if request_id:
            self._signal_requests.add(request_id)
        await self._step("", lambda batch: self._t.signal_received(batch, signal))
        self._arrivals.arrived(signal.name)

    async def set_paused(self, paused: bool, reason: str) -> None:
        await self._step("", lambda batch: self._t.paused(batch, paused, reason))
        if not paused:
            self._resumed.set()

    async def unpaused(self, record: ExecutionRecord) -> None:
        """Returns once the execution is not paused (or has ended)."""
        while record.paused and not record.status.terminal:
            self._resumed.clear()
            await self._resumed.wait()
