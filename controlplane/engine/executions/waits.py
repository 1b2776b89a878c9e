"""Tasks that wait without a replica or a thread: a durable timer (`sleep`) and a wait for a
signal (`wait_for_signal`). Each wait is one attempt, started when the wait begins; its start
time is stored, so a restarted control plane waits out only what is left, and a signal that
arrived before the wait (or while it ran) is consumed from the store in arrival order."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from controlplane.store import WriteBatch
from controlplane.store.signals import SignalStore, consume_statement
from models.backend import AttemptOutcome
from models.executions import AttemptRecord, ErrorInfo, TaskRecord
from models.workflows import TaskDefinition


class Settle(Protocol):
    def __call__(
        self,
        task: TaskRecord,
        spec: TaskDefinition,
        attempt: AttemptRecord,
        outcome: AttemptOutcome,
        *,
        timed_out: bool = False,
        retryable: bool = True,
        also: Callable[[WriteBatch], None] | None = None,
    ) -> Awaitable[None]: ...


@dataclass
class Arrivals:
    """Wakes the waits for a signal's name when one arrives."""

    _events: dict[str, asyncio.Event] = field(default_factory=dict)

    def of(self, name: str) -> asyncio.Event:
        return self._events.setdefault(name, asyncio.Event())

    def arrived(self, name: str) -> None:
        self.of(name).set()


async def sleep(
    task: TaskRecord,
    spec: TaskDefinition,
    attempt: AttemptRecord,
    clock: Callable[[], float],
    settle: Settle,
) -> None:
    until = attempt.start_time + (spec.sleep_s or 0.0)
    await asyncio.sleep(max(0.0, until - clock()))
    await settle(task, spec, attempt, AttemptOutcome(ok=True, output=None))


async def wait_for_signal(
    execution_id: str,
    task: TaskRecord,
    spec: TaskDefinition,
    attempt: AttemptRecord,
    signals: SignalStore,
    arrivals: Arrivals,
    clock: Callable[[], float],
    settle: Settle,
) -> None:
    """Succeeds with the payload of the oldest unconsumed signal of the name (consumed in the
    same transaction); times out after the task's `timeout` from the wait's start."""
    name = spec.wait_for_signal
    deadline = None if spec.timeout_s is None else attempt.start_time + spec.timeout_s
    arrived = arrivals.of(name)
    while True:
        arrived.clear()  # before the read: a signal stored after it sets the event again
        signal = await asyncio.to_thread(signals.next_unconsumed, execution_id, name)
        if signal is not None:
            outcome = AttemptOutcome(ok=True, output=signal.payload)
            also = functools.partial(_consume, consume_statement(signal, task.task_id))
            await settle(task, spec, attempt, outcome, also=also)
            return
        left = None if deadline is None else deadline - clock()
        if left is not None and left <= 0:
            error = ErrorInfo("SignalTimeout", f"no signal {name!r} within {spec.timeout_s:g}s")
            outcome = AttemptOutcome(ok=False, error=error)
            await settle(task, spec, attempt, outcome, timed_out=True, retryable=False)
            return
        try:
            await asyncio.wait_for(arrived.wait(), left)
        except TimeoutError:
            continue


def _consume(statement: tuple[str, tuple[Any, ...]], batch: WriteBatch) -> None:
    batch.statements.append(statement)
